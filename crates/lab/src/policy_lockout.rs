//! Scenario `policy-lockout`, the field incident end to end. Three nodes, each a network
//! namespace with an address from 198.18.0.0/15 and a real etcd member listening on 2379/2380.
//! etcd holds a small control plane (nodes, namespaces, static pods, CoreDNS, `cilium-config`
//! with the host firewall on) and the bad CCNP. `policy check --from-etcd` predicts the lockout;
//! the predicted denied host flows between the nodes are enforced as nftables drops inside the
//! node namespaces (standing in for Cilium's host firewall); `status` shows no leader.
//! Recovery: lift the enforcement (standing in for stopping the Cilium agents), recover from the
//! freshest member, `kube delete` the CCNP with a backup. Verdict: no acknowledged key lost, the
//! policy gone, its backup present, every member back.
//!
//! Where network namespaces cannot be made (not root, no iproute2/nftables), a loopback variant
//! partitions the members with SIGSTOP instead, and the report says so.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ops::kube::sample;
use ops::local::netns::{DropRule, NetLab};
use ops::local::{LocalCluster, Placement};
use ops::status::Verdict;
use serde::Serialize;

use crate::cluster::{
    clean_up, observe, read_registry, recover_timed, start_placed, wait_in_sync,
    write_kubernetes_keys,
};
use crate::report::{DrillReport, DrillSpec, Timeline};

#[derive(Debug, Serialize)]
pub struct LockoutReport {
    /// `netns-nftables`, or `loopback-sigstop` where namespaces could not be made.
    pub(crate) enforcement: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) enforcement_note: Option<String>,
    pub(crate) policy_key: String,
    /// Critical flows `policy check --from-etcd` predicted denied, as `src -> dst proto/port`.
    pub(crate) predicted_denied: Vec<String>,
    /// nftables drop rules installed, per node.
    pub(crate) drop_rules: usize,
    pub(crate) backup: Option<PathBuf>,
    pub(crate) policy_gone: bool,
    pub(crate) critical_denials_after: usize,
}

/// The node index a flow end names (`node/cp-2`, `kube-system/etcd-cp-2`, ...), 0-based.
fn node_of(end: &str) -> Option<usize> {
    let at = end.rfind("cp-")?;
    let digits: String = end[at + 3..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse::<usize>().ok()?.checked_sub(1)
}

async fn predict(cluster: &LocalCluster) -> crate::Result<policy::check::CheckReport> {
    let settings = cluster.settings();
    let tls = settings.validate()?;
    let client = ops::kube::connect_any(&settings, tls.as_ref()).await?;
    let mut kvs = Vec::new();
    for p in policy_etcd::PREFIXES {
        kvs.extend(ops::kube::list(&client, p.as_bytes()).await?.0);
    }
    let (loaded, _) = policy_etcd::loaded_from_kvs(&kvs, &policy::input::InputSpec::default())?;
    // The catalogue checks one pair of nodes per kind of flow; the drill enforces per pair, so
    // it asks about every ordered pair of members on the etcd ports (as `--flows` would).
    let n = cluster.members().len();
    let mut text = String::from("flows:\n");
    for s in 1..=n {
        for d in (1..=n).filter(|d| *d != s) {
            for port in [2379u16, 2380] {
                text.push_str(&format!(
                    "- {{name: etcd cp-{s} to cp-{d} {port}, src: node/cp-{s}, dst: node/cp-{d}, protocol: TCP, port: {port}, critical: true}}\n"
                ));
            }
        }
    }
    let user_flows =
        policy::check::flows_file::parse_flows("drill node pairs", &text).map_err(|errs| {
            crate::LabError::Failed(
                errs.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
    let opts = policy::check::CheckOptions {
        user_flows,
        ..policy::check::CheckOptions::default()
    };
    Ok(policy::check::check(
        &loaded.inventory,
        &loaded.policies,
        &opts,
        loaded.findings,
    ))
}

fn critical_denials(r: &policy::check::CheckReport) -> Vec<&policy::check::FlowResult> {
    r.flows
        .iter()
        .filter(|f| f.critical && !f.allowed())
        .collect()
}

pub(crate) async fn rehearse(args: &DrillSpec) -> crate::Result<DrillReport> {
    let mut tl = Timeline::new(args);
    let lab = make_nodes(args, &mut tl);
    let placements: Vec<Placement> = lab
        .iter()
        .flat_map(|l| l.nodes.iter())
        .map(|n| Placement {
            netns: n.netns.clone(),
            address: n.address.clone(),
        })
        .collect();
    let mut cluster = start_placed(args, &mut tl, placements).await?;
    let node_ips: Vec<String> = (0..args.members)
        .map(|i| cluster.members()[i].host.clone())
        .collect();
    let (acked, policy_key) = write_cluster(args, &cluster, &node_ips, &mut tl).await?;
    let t = Instant::now();
    let before = observe(&cluster).await?;
    tl.since("status before the disaster", t);

    let t = Instant::now();
    let predicted = predict(&cluster).await?;
    let denied = critical_denials(&predicted);
    let predicted_denied: Vec<String> = denied
        .iter()
        .map(|f| format!("{} -> {} {}/{}", f.src, f.dst, f.protocol, f.port))
        .collect();
    tl.since(
        &format!(
            "predict: policy check --from-etcd: {} critical flows denied",
            denied.len()
        ),
        t,
    );

    let enforced = enforce(
        args,
        lab.as_ref(),
        &mut cluster,
        &denied,
        &node_ips,
        &mut tl,
    )?;
    let (after, codes) = detect(&cluster, &mut tl).await?;
    let detected_ok = codes.contains(&"NO_LEADER");

    // Recovery: lift the enforcement, recover from the freshest member, remove the policy.
    lift(args, lab.as_ref(), &mut cluster, &mut tl)?;
    let opts = ops::recover::LocalRecoverOptions {
        strategy: args.strategy,
        ..ops::recover::LocalRecoverOptions::default()
    };
    let (outcome, recovery_steps) = recover_timed(&mut cluster, &tl, &opts).await;
    tl.steps.extend(recovery_steps);

    let t = Instant::now();
    let backup_dir = cluster.dir().join("backups");
    let removal = remove_policy(&cluster, &policy_key, &backup_dir).await;
    tl.since(
        &format!("kube delete ccnp {} (backup first)", sample::LOCKOUT_POLICY),
        t,
    );

    let t = Instant::now();
    let found = read_registry(&cluster).await?;
    let lost = acked
        .iter()
        .filter(|(k, v)| found.get(*k) != Some(*v))
        .count();
    let policy_gone = !found.contains_key(&policy_key);
    let recheck = predict(&cluster).await?;
    let critical_after = critical_denials(&recheck).len();
    tl.since(
        "verify: acknowledged keys, the policy gone, policy check clean",
        t,
    );

    let (plan, final_status, recovery_error) = match outcome {
        Ok((plan, report)) => (Some(plan), Some(report.final_status), None),
        Err(e) => (None, None, Some(e.to_string())),
    };
    let backup = removal.as_ref().ok().cloned();
    let (verdict, reason) = judge(&Judged {
        members: args.members,
        healthy_before: before.verdict() == Verdict::Healthy,
        denied: denied.len(),
        detected_ok,
        codes: &codes,
        recovery_error,
        removal_error: removal.as_ref().err().map(ToString::to_string),
        lost,
        policy_gone,
        backup_present: backup.as_ref().is_some_and(|b| b.exists()),
        final_status: final_status.as_ref(),
    });

    let keys_after = found.len();
    clean_up(cluster, &mut tl);
    drop(lab);

    Ok(DrillReport {
        keys_before: acked.len(),
        keys_after,
        lost,
        plan,
        status_final: final_status,
        lockout: Some(LockoutReport {
            enforcement: enforced.kind,
            enforcement_note: enforced.note,
            policy_key,
            predicted_denied,
            drop_rules: enforced.drop_rules,
            backup,
            policy_gone,
            critical_denials_after: critical_after,
        }),
        ..DrillReport::new(args, tl, (before, after), codes, (verdict, reason))
    })
}

/// One network namespace per node on 198.18.0.0/15, or `None` where they cannot be made:
/// namespaces need root, iproute2, nftables and a kernel (or container) that allows them;
/// when any is missing the drill still runs, on loopback, and says why.
fn make_nodes(args: &DrillSpec, tl: &mut Timeline) -> Option<NetLab> {
    let t = Instant::now();
    let lab = match NetLab::available()
        .and_then(|()| NetLab::create(args.members).map_err(|e| e.to_string()))
    {
        Ok(lab) => lab,
        Err(why) => {
            tl.warn(&format!(
                "lifeboat: network namespaces unavailable ({why}): the loopback variant partitions members with SIGSTOP instead"
            ));
            return None;
        }
    };
    tl.since(
        &format!(
            "create {} node namespaces on 198.18.0.0/15 ({}), lifeboat at {}",
            lab.nodes.len(),
            lab.nodes
                .iter()
                .map(|n| n.address.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            lab.admin_address()
        ),
        t,
    );
    Some(lab)
}

/// The cluster's objects, then the application's data, then the bad policy being applied:
/// the acknowledged keys with their digests, and the policy's key.
async fn write_cluster(
    args: &DrillSpec,
    cluster: &LocalCluster,
    node_ips: &[String],
    tl: &mut Timeline,
) -> crate::Result<(BTreeMap<String, u64>, String)> {
    let t = Instant::now();
    let settings = cluster.settings();
    let tls = settings.validate()?;
    let admin = ops::kube::connect_any(&settings, tls.as_ref()).await?;
    let mut acked: BTreeMap<String, u64> = BTreeMap::new();
    for (k, v) in sample::control_plane(node_ips)? {
        let mut c = admin.client.clone();
        c.put(k.clone(), v.clone(), None).await?;
        acked.insert(k, ops::kv::digest(&v));
    }
    let (count, pad) = args.workload();
    acked.extend(write_kubernetes_keys(cluster, count, pad).await?);
    let (policy_key, policy_value) = sample::lockout_policy()?;
    admin
        .client
        .clone()
        .put(policy_key.clone(), policy_value, None)
        .await?;
    wait_in_sync(cluster).await?;
    tl.since(
        &format!(
            "write a control plane, {count} objects and the CCNP {} ({} keys acknowledged)",
            sample::LOCKOUT_POLICY,
            acked.len() + 1
        ),
        t,
    );
    Ok((acked, policy_key))
}

/// How the disaster was made.
struct Enforced {
    kind: String,
    note: Option<String>,
    drop_rules: usize,
}

/// The disaster: the host firewall enforces what was predicted (nftables drops in the node
/// namespaces), or, on loopback, every member but the first is paused.
fn enforce(
    args: &DrillSpec,
    lab: Option<&NetLab>,
    cluster: &mut LocalCluster,
    denied: &[&policy::check::FlowResult],
    node_ips: &[String],
    tl: &mut Timeline,
) -> crate::Result<Enforced> {
    let t = Instant::now();
    let mut drop_rules = 0;
    let (kind, note) = match lab {
        Some(l) => {
            let mut per_node: Vec<Vec<DropRule>> = vec![Vec::new(); args.members];
            for f in denied {
                let (Some(s), Some(d)) = (node_of(&f.src), node_of(&f.dst)) else {
                    continue;
                };
                if s == d || d >= args.members || s >= args.members {
                    continue;
                }
                let rule = DropRule {
                    saddr: node_ips[s].clone(),
                    protocol: f.protocol.to_ascii_lowercase(),
                    port: f.port,
                };
                if !per_node[d].contains(&rule) {
                    per_node[d].push(rule);
                }
            }
            for (i, rules) in per_node.iter().enumerate() {
                l.enforce(i, rules)?;
                drop_rules += rules.len();
            }
            ("netns-nftables".to_string(), None)
        }
        None => {
            for i in 1..args.members {
                cluster.pause(i);
            }
            (
                "loopback-sigstop".to_string(),
                Some("network namespaces unavailable: members 2.. were paused (SIGSTOP) to cut them off".to_string()),
            )
        }
    };
    tl.since(
        &format!(
            "disaster: the host firewall enforces the policy ({kind}, {drop_rules} drop rules)"
        ),
        t,
    );
    Ok(Enforced {
        kind,
        note,
        drop_rules,
    })
}

/// Detection: waits out the leader's check-quorum (it steps down when it hears no majority);
/// the status after the disaster and its finding codes.
async fn detect(
    cluster: &LocalCluster,
    tl: &mut Timeline,
) -> crate::Result<(ops::status::ClusterStatus, Vec<&'static str>)> {
    let t = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut after = observe(cluster).await?;
    while !after.findings.iter().any(|f| f.code == "NO_LEADER") && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
        after = observe(cluster).await?;
    }
    let codes: Vec<&'static str> = after.findings.iter().map(|f| f.code).collect();
    tl.since("detect: status after the disaster", t);
    Ok((after, codes))
}

/// The enforcement lifted (standing in for stopping the Cilium agents).
fn lift(
    args: &DrillSpec,
    lab: Option<&NetLab>,
    cluster: &mut LocalCluster,
    tl: &mut Timeline,
) -> crate::Result<()> {
    let t = Instant::now();
    match lab {
        Some(l) => {
            for i in 0..args.members {
                l.lift(i)?;
            }
        }
        None => {
            for i in 1..args.members {
                cluster.resume(i);
            }
        }
    }
    tl.since("lift the enforcement (the Cilium agents stopped)", t);
    Ok(())
}

/// What the verdict is judged on.
struct Judged<'a> {
    members: usize,
    healthy_before: bool,
    /// Critical flows predicted denied.
    denied: usize,
    detected_ok: bool,
    codes: &'a [&'static str],
    recovery_error: Option<String>,
    removal_error: Option<String>,
    lost: usize,
    policy_gone: bool,
    backup_present: bool,
    final_status: Option<&'a ops::status::ClusterStatus>,
}

/// Pass: the lockout predicted and seen, the cluster recovered whole with every acknowledged
/// key, the policy gone and its backup present.
fn judge(j: &Judged<'_>) -> (&'static str, String) {
    let all_back = j
        .final_status
        .is_some_and(|s| s.members.len() == j.members && s.verdict() == Verdict::Healthy);
    let codes = j.codes;
    let lost = j.lost;
    if !j.healthy_before {
        (
            "fail",
            "the cluster was not healthy before the disaster".to_string(),
        )
    } else if j.denied == 0 {
        (
            "fail",
            "policy check --from-etcd did not predict the lockout".to_string(),
        )
    } else if !j.detected_ok {
        (
            "fail",
            format!("status did not show the lost leader: {codes:?}"),
        )
    } else if let Some(e) = &j.recovery_error {
        ("fail", format!("recovery failed: {e}"))
    } else if let Some(e) = &j.removal_error {
        ("fail", format!("removing the policy failed: {e}"))
    } else if lost > 0 {
        (
            "fail",
            format!("{lost} acknowledged keys missing or changed after recovery"),
        )
    } else if !j.policy_gone || !j.backup_present {
        (
            "fail",
            "the policy is still there, or its backup is missing".to_string(),
        )
    } else if !all_back {
        (
            "fail",
            "the recovered cluster is not healthy with all members".to_string(),
        )
    } else {
        (
            "pass",
            format!(
                "predicted {} critical denials, status showed {codes:?}, recovered all {} members, policy removed with a backup, no acknowledged key lost",
                j.denied, j.members
            ),
        )
    }
}

/// `kube delete` as the command does it: backup, then a delete that compares mod_revision.
async fn remove_policy(
    cluster: &LocalCluster,
    key: &str,
    backup_dir: &std::path::Path,
) -> crate::Result<PathBuf> {
    let settings = cluster.settings();
    let tls = settings.validate()?;
    let client = ops::kube::connect_any(&settings, tls.as_ref()).await?;
    let kv = ops::kube::get(&client, key.as_bytes())
        .await?
        .ok_or_else(|| crate::fail!("{key} is not in the recovered cluster"))?;
    let path = ops::kube::write_backup(
        backup_dir,
        &ops::kube::Backup::of(&kv, format!("etcd {}", client.endpoint)),
    )?;
    match ops::kube::delete_if_unchanged(&client, key.as_bytes(), kv.mod_revision).await? {
        ops::kube::DeleteOutcome::Deleted { .. } => Ok(path),
        ops::kube::DeleteOutcome::Changed { .. } => {
            crate::bail!("{key} changed while being deleted")
        }
    }
}
