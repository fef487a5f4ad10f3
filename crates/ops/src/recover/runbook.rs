//! The `print` executor: a recovery plan as commands an operator runs node by node. Pure.
//!
//! Commands are given for both ways etcd is commonly run: a kubeadm static pod
//! (`/etc/kubernetes/manifests/etcd.yaml`) and a systemd unit with an env file (`/etc/etcd.env`).

use serde::Serialize;

use super::plan::{MemberSpec, Plan, Step};

#[derive(Debug, Clone, Serialize)]
pub struct RunbookStep {
    pub number: usize,
    /// Where to run it: the member's host, or "any" for commands that talk to the cluster.
    pub node: String,
    pub what: String,
    pub commands: Vec<String>,
}

fn host_of(member: &str, members: &[MemberSpec]) -> String {
    members
        .iter()
        .find(|m| m.name == member)
        .and_then(|m| m.peer_urls.first())
        .and_then(|u| u.split("://").nth(1))
        .map(|rest| {
            rest.rsplit_once(':')
                .map(|(h, _)| h)
                .unwrap_or(rest)
                .to_string()
        })
        .map(|h| format!("{member} ({h})"))
        .unwrap_or_else(|| member.to_string())
}

pub fn runbook(plan: &Plan, members: &[MemberSpec], data_dir: &str) -> Vec<RunbookStep> {
    let stamp = "$(date -u +%Y%m%dT%H%M%SZ)";
    plan.steps
        .iter()
        .enumerate()
        .map(|(i, step)| {
            let (node, commands) = match step {
                Step::Fence { member } => (
                    host_of(member, members),
                    vec![
                        "# kubeadm: mv /etc/kubernetes/manifests/etcd.yaml /etc/kubernetes/etcd.yaml.lifeboat-fenced".into(),
                        "# systemd: systemctl stop etcd".into(),
                        "# then check nothing answers: lifeboat status --endpoints https://<this node>:2379 --only-given   # must say NOTHING_REACHABLE".into(),
                    ],
                ),
                Step::Backup { member } => (
                    host_of(member, members),
                    vec![format!("cp -a {data_dir} {data_dir}.lifeboat-{stamp}")],
                ),
                Step::ForceNewCluster { member } => (
                    host_of(member, members),
                    vec![
                        "# kubeadm: add '- --force-new-cluster' to the etcd command in etcd.yaml, move it back to /etc/kubernetes/manifests/".into(),
                        "# systemd: echo ETCD_FORCE_NEW_CLUSTER=true >> /etc/etcd.env && systemctl start etcd".into(),
                        format!("lifeboat status   # wait until {member} leads a one-member cluster"),
                    ],
                ),
                Step::CheckSeed { member, min_revision } => (
                    host_of(member, members),
                    vec![format!(
                        "lifeboat snapshot save --from {member} /root/after-force-new-cluster.db   # its manifest shows revision >= {min_revision}"
                    )],
                ),
                Step::RestartNormally { member } => (
                    host_of(member, members),
                    vec![
                        "# kubeadm: remove '--force-new-cluster' from etcd.yaml again (left in, it re-forces on every restart)".into(),
                        "# systemd: remove ETCD_FORCE_NEW_CLUSTER from /etc/etcd.env; systemctl restart etcd".into(),
                        format!("lifeboat status   # {member} leads again"),
                    ],
                ),
                Step::AddLearner { member, peer_urls } => (
                    "any node with lifeboat".into(),
                    vec![format!("lifeboat member add {member} --peer-urls {}", peer_urls.join(","))],
                ),
                Step::StartJoining { member } => (
                    host_of(member, members),
                    vec![
                        format!("mv {data_dir} {data_dir}.lifeboat-{stamp}   # keep the old data, start empty"),
                        "# set ETCD_INITIAL_CLUSTER and ETCD_INITIAL_CLUSTER_STATE=existing as `member add` printed".into(),
                        "# (kubeadm: --initial-cluster=... and --initial-cluster-state=existing in etcd.yaml)".into(),
                        "# start etcd: systemctl start etcd, or move etcd.yaml back into /etc/kubernetes/manifests/".into(),
                    ],
                ),
                Step::Promote { member } => (
                    "any node with lifeboat".into(),
                    vec![format!("lifeboat member promote {member}   # retries until it has caught up")],
                ),
                Step::RestoreAll { seed, token } => {
                    let initial = members
                        .iter()
                        .map(|m| format!("{}={}", m.name, m.peer_urls.join(",")))
                        .collect::<Vec<_>>()
                        .join(",");
                    (
                        host_of(seed, members),
                        vec![
                            format!("cp {data_dir}/member/snap/db /root/{seed}-seed.db   # then copy it to every node"),
                            format!(
                                "# on every node: lifeboat snapshot restore /root/{seed}-seed.db --skip-hash-check --no-bump --move-aside --name <this member> --initial-cluster {initial} --initial-cluster-token {token} --data-dir {data_dir}"
                            ),
                        ],
                    )
                }
                Step::StartAll => (
                    "every node".into(),
                    vec![
                        "# set ETCD_INITIAL_CLUSTER_STATE=new and the --initial-cluster the restore used (kubeadm: in etcd.yaml)".into(),
                        "# start etcd on every node at about the same time: systemctl start etcd, or move etcd.yaml back".into(),
                    ],
                ),
                Step::Verify => (
                    "any node with lifeboat".into(),
                    vec!["lifeboat status   # every member answers, one leader, exit 0".into()],
                ),
            };
            RunbookStep {
                number: i + 1,
                node,
                what: step.describe(),
                commands,
            }
        })
        .collect()
}

/// The steps that collect the evidence a plan is missing: each unexamined member's data dir read
/// on its node, then the plan made again with every report. Reads only; changes nothing.
pub fn gathering(
    unexamined: &[String],
    members: &[MemberSpec],
    data_dir: &str,
    plan_args: &str,
) -> Vec<RunbookStep> {
    let targets: Vec<(String, String)> = if unexamined.is_empty() {
        // No membership known: every node that ran a member.
        vec![("every control-plane node".into(), "<member name>".into())]
    } else {
        unexamined
            .iter()
            .map(|m| (host_of(m, members), m.clone()))
            .collect()
    };
    let mut steps: Vec<RunbookStep> = targets
        .iter()
        .map(|(node, name)| RunbookStep {
            number: 0,
            node: node.clone(),
            what: format!("read the data dir of {name} (nothing about it was examined)"),
            commands: vec![
                format!("lifeboat datadir inspect -o json {data_dir} > /root/{name}-datadir.json"),
                format!("# copy /root/{name}-datadir.json to the node where you plan"),
                "# a node that is gone for good gives no report: say so with --accept-partial-evidence"
                    .into(),
            ],
        })
        .collect();
    let mut again = vec!["lifeboat recover plan".to_string()];
    again.extend((!plan_args.is_empty()).then(|| plan_args.to_string()));
    again.extend(
        targets
            .iter()
            .map(|(_, name)| format!("--datadir-report /root/{name}-datadir.json")),
    );
    steps.push(RunbookStep {
        number: 0,
        node: "the node where you plan".into(),
        what: "make the plan again with every report".into(),
        commands: vec![again.join(" ")],
    });
    for (i, s) in steps.iter_mut().enumerate() {
        s.number = i + 1;
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recover::plan::{SurvivorEvidence, plan};

    #[test]
    fn every_step_has_a_node_and_commands_and_the_seed_is_forced_once() {
        let members = vec![
            MemberSpec {
                name: "cp1".into(),
                peer_urls: vec!["https://10.0.0.1:2380".into()],
            },
            MemberSpec {
                name: "cp2".into(),
                peer_urls: vec!["https://10.0.0.2:2380".into()],
            },
        ];
        let ev = vec![SurvivorEvidence {
            name: "cp2".into(),
            committed: 9,
            last_term: 2,
            last_index: 9,
            revision: Some(5),
            source: "test".into(),
            db_has_all_committed: false,
        }];
        let p = plan(&members, &ev).unwrap();
        let rb = runbook(&p, &members, "/var/lib/etcd");
        assert_eq!(rb.len(), p.steps.len());
        assert!(
            rb.iter()
                .all(|s| !s.commands.is_empty() && !s.node.is_empty())
        );
        let forced: Vec<&RunbookStep> = rb
            .iter()
            .filter(|s| s.what.contains("force a new cluster"))
            .collect();
        assert_eq!(forced.len(), 1);
        assert_eq!(forced[0].node, "cp2 (10.0.0.2)");
        assert!(rb.iter().any(|s| {
            s.commands
                .iter()
                .any(|c| c == "lifeboat member add cp1 --peer-urls https://10.0.0.1:2380")
        }));
    }

    #[test]
    fn gathering_reads_each_unexamined_member_and_plans_again_with_the_reports() {
        let members = vec![MemberSpec {
            name: "cp1".into(),
            peer_urls: vec!["https://10.0.0.1:2380".into()],
        }];
        let rb = gathering(&["cp1".into()], &members, "/var/lib/etcd", "--data-dir /d");
        assert_eq!(rb.len(), 2);
        assert_eq!(rb[0].node, "cp1 (10.0.0.1)");
        assert_eq!(
            rb[0].commands[0],
            "lifeboat datadir inspect -o json /var/lib/etcd > /root/cp1-datadir.json"
        );
        assert_eq!(
            rb[1].commands[0],
            "lifeboat recover plan --data-dir /d --datadir-report /root/cp1-datadir.json"
        );
        assert!(rb.iter().all(|s| !s.what.contains("force")));
        let blind = gathering(&[], &[], "/var/lib/etcd", "");
        assert_eq!(blind[0].node, "every control-plane node");
    }
}
