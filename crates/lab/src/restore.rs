//! Scenario `restore`: every member and its disk lost; the cluster is rebuilt from one verified
//! backup into fresh members with lifeboat's native restore (membership replaced, Kubernetes
//! revision bump marked compacted so informers re-list instead of going back in time).

use std::time::{Duration, Instant};

use crate::error::Context as _;
use ops::snapshot::{SaveRequest, SaveTarget, save};
use ops::status::Verdict;

use crate::cluster::{clean_up, observe, prepare, read_registry, restore_members};
use crate::report::{DrillReport, DrillSpec, Timeline};

pub(crate) async fn rehearse(args: &DrillSpec) -> crate::Result<DrillReport> {
    let mut tl = Timeline::new(args);
    let (mut cluster, acked, before) = prepare(args, &mut tl).await?;

    let t = Instant::now();
    let settings = cluster.settings();
    let tls = settings.validate()?;
    let backup = save(
        SaveRequest {
            settings: &settings,
            tls: tls.as_ref(),
            from: None,
            target: SaveTarget::Dir {
                dir: cluster.dir().join("backups"),
                retain: None,
            },
            force: false,
            stall_timeout: Duration::from_secs(30),
        },
        &mut |_, _| {},
    )
    .await
    .context("the backup before the disaster")?;
    tl.since(
        &format!(
            "back up: snapshot save, verified ({} bytes, revision {})",
            backup.manifest.size, backup.manifest.revision
        ),
        t,
    );

    let t = Instant::now();
    let mut lost_members = Vec::new();
    for i in 0..args.members {
        lost_members.push(cluster.members()[i].name.clone());
        cluster.kill(i);
        let dir = cluster.members()[i].data_dir.clone();
        if dir.exists() {
            std::fs::rename(&dir, dir.with_extension("lost")).context("simulating lost disks")?;
        }
    }
    tl.since(
        &format!(
            "disaster: all {} members and their disks lost",
            args.members
        ),
        t,
    );

    let t = Instant::now();
    let after = observe(&cluster).await?;
    tl.since("detect: status", t);
    let codes: Vec<&'static str> = after.findings.iter().map(|f| f.code).collect();

    let t = Instant::now();
    let (restored, bump) = restore_members(&cluster, &backup.path)?;
    tl.since(
        &format!(
            "restore {} members from one snapshot ({bump})",
            args.members
        ),
        t,
    );

    let t = Instant::now();
    for i in 0..args.members {
        cluster.restart(i)?;
    }
    cluster.wait_healthy(Duration::from_secs(90)).await?;
    tl.since("start the restored members", t);

    let t = Instant::now();
    let final_status = observe(&cluster).await?;
    let found = read_registry(&cluster).await?;
    let lost = acked
        .iter()
        .filter(|(k, v)| found.get(*k) != Some(*v))
        .count();
    tl.since("verify: healthy, keys counted", t);

    let bumped_ok = !restored.db.kubernetes || restored.db.bump.is_some();
    let (verdict, reason) = if before.verdict() != Verdict::Healthy {
        (
            "fail",
            "the cluster was not healthy before the disaster".to_string(),
        )
    } else if !codes.contains(&"NOTHING_REACHABLE") {
        (
            "fail",
            format!("status did not see that nothing answers: {codes:?}"),
        )
    } else if lost > 0 {
        (
            "fail",
            format!("{lost} acknowledged keys missing or changed after the restore"),
        )
    } else if final_status.verdict() != Verdict::Healthy
        || final_status.members.len() != args.members
    {
        (
            "fail",
            "the restored cluster is not healthy with all members".to_string(),
        )
    } else if !bumped_ok {
        (
            "fail",
            "Kubernetes data restored without a revision bump".to_string(),
        )
    } else {
        (
            "pass",
            format!(
                "rebuilt {} members from one verified snapshot, {bump}, nothing lost",
                args.members
            ),
        )
    };

    clean_up(cluster, &mut tl);

    Ok(DrillReport {
        lost_members,
        keys_before: acked.len(),
        keys_after: found.len(),
        lost,
        status_final: Some(final_status),
        ..DrillReport::new(args, tl, (before, after), codes, (verdict, reason))
    })
}
