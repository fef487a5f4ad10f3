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

use super::cluster::{
    clean_up, observe, read_registry, recover_timed, start_placed, wait_in_sync,
    write_kubernetes_keys,
};
use super::{DrillArgs, DrillReport, Timeline};
use crate::cli::Context;
use crate::output::{self, Format};

#[derive(Debug, Serialize)]
pub(crate) struct LockoutReport {
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

async fn predict(cluster: &LocalCluster) -> anyhow::Result<policy::check::CheckReport> {
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
            anyhow::anyhow!(
                errs.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
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

pub(super) async fn rehearse(ctx: &Context, args: &DrillArgs) -> anyhow::Result<DrillReport> {
    let mut tl = Timeline::new(ctx.format == Format::Table);
    let t = Instant::now();
    // Namespaces need root, iproute2, nftables and a kernel (or container) that allows them;
    // when any is missing the drill still runs, on loopback, and says why.
    let lab = match NetLab::available()
        .and_then(|()| NetLab::create(args.members).map_err(|e| e.to_string()))
    {
        Ok(lab) => Some(lab),
        Err(why) => {
            output::note(&format!(
                "lifeboat: network namespaces unavailable ({why}): the loopback variant partitions members with SIGSTOP instead"
            ));
            None
        }
    };
    let placements: Vec<Placement> = lab
        .iter()
        .flat_map(|l| l.nodes.iter())
        .map(|n| Placement {
            netns: n.netns.clone(),
            address: n.address.clone(),
        })
        .collect();
    if let Some(l) = &lab {
        tl.since(
            &format!(
                "create {} node namespaces on 198.18.0.0/15 ({}), lifeboat at {}",
                l.nodes.len(),
                l.nodes
                    .iter()
                    .map(|n| n.address.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                l.admin_address()
            ),
            t,
        );
    }
    let mut cluster = start_placed(args, &mut tl, placements).await?;
    let node_ips: Vec<String> = (0..args.members)
        .map(|i| cluster.members()[i].host.clone())
        .collect();

    // The cluster's objects, then the application's data, then the bad policy being applied.
    let t = Instant::now();
    let settings = cluster.settings();
    let tls = settings.validate()?;
    let admin = ops::kube::connect_any(&settings, tls.as_ref()).await?;
    let mut acked: BTreeMap<String, u64> = BTreeMap::new();
    for (k, v) in sample::control_plane(&node_ips)? {
        let mut c = admin.client.clone();
        c.put(k.clone(), v.clone(), None).await?;
        acked.insert(k, ops::kv::digest(&v));
    }
    let (count, pad) = args.workload();
    acked.extend(write_kubernetes_keys(&cluster, count, pad).await?);
    let (policy_key, policy_value) = sample::lockout_policy()?;
    admin
        .client
        .clone()
        .put(policy_key.clone(), policy_value, None)
        .await?;
    wait_in_sync(&cluster).await?;
    tl.since(
        &format!(
            "write a control plane, {count} objects and the CCNP {} ({} keys acknowledged)",
            sample::LOCKOUT_POLICY,
            acked.len() + 1
        ),
        t,
    );
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

    // The disaster: the host firewall enforces what was predicted.
    let t = Instant::now();
    let mut drop_rules = 0;
    let (enforcement, enforcement_note) = match &lab {
        Some(l) => {
            let mut per_node: Vec<Vec<DropRule>> = vec![Vec::new(); args.members];
            for f in &denied {
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
        &format!("disaster: the host firewall enforces the policy ({enforcement}, {drop_rules} drop rules)"),
        t,
    );

    // Detection: wait out the leader's check-quorum (it steps down when it hears no majority).
    let t = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut after = observe(&cluster).await?;
    while !after.findings.iter().any(|f| f.code == "NO_LEADER") && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
        after = observe(&cluster).await?;
    }
    let codes: Vec<&'static str> = after.findings.iter().map(|f| f.code).collect();
    tl.since("detect: status after the disaster", t);
    let detected_ok = codes.contains(&"NO_LEADER");

    // Recovery: lift the enforcement, recover from the freshest member, remove the policy.
    let t = Instant::now();
    match &lab {
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
    let opts = ops::recover::LocalRecoverOptions {
        strategy: args.strategy.into(),
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
    let backup_present = backup.as_ref().is_some_and(|b| b.exists());
    let all_back = final_status
        .as_ref()
        .is_some_and(|s| s.members.len() == args.members && s.verdict() == Verdict::Healthy);
    let (verdict, reason) = if before.verdict() != Verdict::Healthy {
        (
            "fail",
            "the cluster was not healthy before the disaster".to_string(),
        )
    } else if denied.is_empty() {
        (
            "fail",
            "policy check --from-etcd did not predict the lockout".to_string(),
        )
    } else if !detected_ok {
        (
            "fail",
            format!("status did not show the lost leader: {codes:?}"),
        )
    } else if let Some(e) = recovery_error {
        ("fail", format!("recovery failed: {e}"))
    } else if let Err(e) = &removal {
        ("fail", format!("removing the policy failed: {e}"))
    } else if lost > 0 {
        (
            "fail",
            format!("{lost} acknowledged keys missing or changed after recovery"),
        )
    } else if !policy_gone || !backup_present {
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
                denied.len(),
                args.members
            ),
        )
    };

    let keys_after = found.len();
    clean_up(cluster, &mut tl);
    drop(lab);

    Ok(DrillReport {
        scenario: args.scenario,
        members: args.members,
        lost_members: Vec::new(),
        tls: args.tls,
        keys_before: acked.len(),
        keys_after,
        lost,
        steps: tl.steps,
        status_before: before,
        status_after: after,
        detected: codes,
        plan,
        status_final: final_status,
        recovery: None,
        verdict,
        verdict_reason: reason,
        kept: None,
        total_loss: None,
        lockout: Some(LockoutReport {
            enforcement,
            enforcement_note,
            policy_key,
            predicted_denied,
            drop_rules,
            backup,
            policy_gone,
            critical_denials_after: critical_after,
        }),
    })
}

/// `kube delete` as the command does it: backup, then a delete that compares mod_revision.
async fn remove_policy(
    cluster: &LocalCluster,
    key: &str,
    backup_dir: &std::path::Path,
) -> anyhow::Result<PathBuf> {
    let settings = cluster.settings();
    let tls = settings.validate()?;
    let client = ops::kube::connect_any(&settings, tls.as_ref()).await?;
    let kv = ops::kube::get(&client, key.as_bytes())
        .await?
        .ok_or_else(|| anyhow::anyhow!("{key} is not in the recovered cluster"))?;
    let path = ops::kube::write_backup(
        backup_dir,
        &ops::kube::Backup::of(&kv, format!("etcd {}", client.endpoint)),
    )?;
    match ops::kube::delete_if_unchanged(&client, key.as_bytes(), kv.mod_revision).await? {
        ops::kube::DeleteOutcome::Deleted { .. } => Ok(path),
        ops::kube::DeleteOutcome::Changed { .. } => {
            anyhow::bail!("{key} changed while being deleted")
        }
    }
}
