//! Scenario `lost-quorum`: a majority of members lost for good (process and disk), detected by
//! `status`, recovered by forcing a new cluster on the freshest survivor and re-adding the rest.

use std::time::Instant;

use crate::error::Context as _;
use ops::recover::LocalRecoverOptions;
use ops::status::Verdict;

use crate::cluster::{clean_up, observe, prepare, read_registry, recover_timed};
use crate::report::{DrillReport, DrillSpec, RecoveryTiming, Step, Timeline};

pub(crate) async fn rehearse(args: &DrillSpec, lose: usize) -> crate::Result<DrillReport> {
    let mut tl = Timeline::new(args);
    let (mut cluster, acked, before) = prepare(args, &mut tl).await?;

    let t = Instant::now();
    let mut lost_members = Vec::new();
    for i in (args.members - lose)..args.members {
        lost_members.push(cluster.members()[i].name.clone());
        cluster.kill(i);
        // Lost for good: the disk is gone too.
        let dir = cluster.members()[i].data_dir.clone();
        if dir.exists() {
            // The disk is destroyed, as in the disaster rehearsed: this is the drill's own
            // throwaway data (a 1 GiB drill would otherwise hold two more copies on disk).
            std::fs::remove_dir_all(&dir).context("simulating a lost disk")?;
        }
    }
    tl.since(
        &format!(
            "disaster: {lose} of {} members lost for good ({})",
            args.members,
            lost_members.join(", ")
        ),
        t,
    );

    let t = Instant::now();
    let after = observe(&cluster).await?;
    tl.since("detect: status after the disaster", t);
    let codes: Vec<&'static str> = after.findings.iter().map(|f| f.code).collect();
    let quorum_lost = lose > args.members / 2;
    let detected_ok = if quorum_lost {
        codes.contains(&"QUORUM_LOST") && codes.contains(&"NO_LEADER")
    } else {
        codes.contains(&"MEMBER_UNREACHABLE")
    };

    if args.keep {
        return Ok(kept(
            args,
            cluster,
            acked.len(),
            lost_members,
            tl,
            before,
            after,
            codes,
            detected_ok,
        ));
    }

    // Recover: fence, back up, force a new cluster on the freshest survivor, rejoin the others.
    let opts = LocalRecoverOptions {
        strategy: args.strategy,
        ..LocalRecoverOptions::default()
    };
    let (outcome, recovery_steps) = recover_timed(&mut cluster, &tl, &opts).await;
    let mut recovery_timing = timing(&recovery_steps);

    let recovery_total: f64 = recovery_steps.iter().map(|s| s.seconds).sum();
    tl.steps.extend(recovery_steps);
    let (plan, final_status, keys_after, lost, recovery_error) = match outcome {
        Ok((plan, report)) => {
            let t = Instant::now();
            let found = read_registry(&cluster).await?;
            let lost = acked
                .iter()
                .filter(|(k, v)| found.get(*k) != Some(*v))
                .count();
            tl.since("count acknowledged keys after recovery", t);
            // The recovery verified with etcd's default quota in mind; judge the result against
            // the quota drill members really run with (8 GiB), as the status before was.
            let final_status = observe(&cluster).await.unwrap_or(report.final_status);
            if recovery_timing.is_none() {
                // A rebuild has no step that shows the floor: measure it now, outside the
                // recovery's time, on the recovered cluster.
                let t = Instant::now();
                let (seed_start, receive) = crate::floor::measure(&mut cluster, &plan.seed)
                    .await
                    .context("measuring the floor after the recovery")?;
                recovery_timing = Some(floor_timing(recovery_total, seed_start, receive));
                tl.since(
                    "measure the floor: restart the seed, re-add one member empty (not part of the recovery)",
                    t,
                );
            }
            (Some(plan), Some(final_status), found.len(), lost, None)
        }
        Err(e) => (None, None, 0, acked.len(), Some(e.to_string())),
    };

    let all_back = final_status
        .as_ref()
        .is_some_and(|s| s.members.len() == args.members && s.verdict() == Verdict::Healthy);
    let (verdict, reason) = if before.verdict() != Verdict::Healthy {
        (
            "fail",
            "the cluster was not healthy before the disaster".to_string(),
        )
    } else if !detected_ok {
        (
            "fail",
            format!("status did not diagnose the disaster: {codes:?}"),
        )
    } else if let Some(e) = recovery_error {
        ("fail", format!("recovery failed: {e}"))
    } else if lost > 0 {
        (
            "fail",
            format!("{lost} acknowledged keys missing or changed after recovery"),
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
                "diagnosed {codes:?}, recovered all {} members, no acknowledged key lost",
                args.members
            ),
        )
    };

    clean_up(cluster, &mut tl);

    Ok(DrillReport {
        lost_members,
        keys_before: acked.len(),
        keys_after,
        lost,
        plan,
        status_final: final_status,
        recovery: recovery_timing,
        ..DrillReport::new(args, tl, (before, after), codes, (verdict, reason))
    })
}

/// Recovery against its floor, from the step timings of this run.
fn timing(steps: &[Step]) -> Option<RecoveryTiming> {
    let sum = |pred: &dyn Fn(&str) -> bool| -> f64 {
        steps
            .iter()
            .filter(|s| pred(&s.name))
            .map(|s| s.seconds)
            .sum()
    };
    let recovery_seconds = sum(&|_| true);
    // etcd starting on the seed's data: the restart without the flag when the plan has one
    // (node executors), else the one start with --force-new-cluster (local members).
    let restart = sum(&|n| n.contains("without --force-new-cluster"));
    let seed_start_seconds = if restart > 0.0 {
        restart
    } else {
        sum(&|n| n.contains("force a new cluster on"))
    };
    // The first member to rejoin: its start on an empty dir and its promotion (catch-up).
    let first = steps
        .iter()
        .find(|s| s.name.contains("on an empty data dir"))?;
    let member = first.name.split_whitespace().nth(2)?.to_string();
    let member_receive_seconds = sum(&|n| {
        n.contains(&format!("start {member} on an empty"))
            || n.contains(&format!("promote {member}"))
    });
    let floor_seconds = seed_start_seconds + member_receive_seconds;
    let ms = |x: f64| (x * 1000.0).round() / 1000.0;
    (floor_seconds > 0.0).then(|| RecoveryTiming {
        recovery_seconds: ms(recovery_seconds),
        seed_start_seconds: ms(seed_start_seconds),
        member_receive_seconds: ms(member_receive_seconds),
        floor_seconds: ms(floor_seconds),
        ratio: (recovery_seconds / floor_seconds * 100.0).round() / 100.0,
    })
}

/// Recovery against a floor measured after it (see `floor.rs`).
fn floor_timing(recovery_seconds: f64, seed_start: f64, receive: f64) -> RecoveryTiming {
    let ms = |x: f64| (x * 1000.0).round() / 1000.0;
    let floor = seed_start + receive;
    RecoveryTiming {
        recovery_seconds: ms(recovery_seconds),
        seed_start_seconds: ms(seed_start),
        member_receive_seconds: ms(receive),
        floor_seconds: ms(floor),
        ratio: if floor > 0.0 {
            (recovery_seconds / floor * 100.0).round() / 100.0
        } else {
            0.0
        },
    }
}

/// `--keep`: the broken cluster stays (detached members, dir in place) for the operator to
/// recover with `lifeboat recover run`.
#[allow(clippy::too_many_arguments)]
fn kept(
    args: &DrillSpec,
    cluster: ops::local::LocalCluster,
    keys_before: usize,
    lost_members: Vec<String>,
    tl: Timeline,
    before: ops::status::ClusterStatus,
    after: ops::status::ClusterStatus,
    codes: Vec<&'static str>,
    detected_ok: bool,
) -> DrillReport {
    let root = cluster.dir().display().to_string();
    let how = format!(
        "the broken cluster is kept in {root}. Recover it with:\n  lifeboat recover run --local-root {root} --yes\nthen look: lifeboat status {}. Remove it afterwards: stop the etcd processes named in {root}/*.pid, then rm -r {root}",
        status_args(&cluster)
    );
    tl.note(&how);
    let (verdict, reason) = if detected_ok {
        ("kept", how)
    } else {
        (
            "fail",
            format!("status did not diagnose the disaster: {codes:?}; {how}"),
        )
    };
    DrillReport {
        lost_members,
        keys_before,
        kept: Some(root),
        ..DrillReport::new(args, tl, (before, after), codes, (verdict, reason))
    }
}

/// `--endpoints ... --cacert ...` for looking at the kept cluster.
fn status_args(cluster: &ops::local::LocalCluster) -> String {
    let tls = cluster.client_tls();
    let mut s = format!("--endpoints {}", cluster.endpoints_arg());
    for (flag, file) in [
        ("--cacert", tls.cacert),
        ("--cert", tls.cert),
        ("--key", tls.key),
    ] {
        if let Some(f) = file {
            s.push_str(&format!(" {flag} {}", f.display()));
        }
    }
    s
}
