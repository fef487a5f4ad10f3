//! Scenario `total-loss`: every member and its disk lost while writes stream in, and the
//! cluster rebuilt from the continuous backup (docs/backup.md): the newest full plus the delta
//! log, `backup restore --latest`, then `snapshot restore` into fresh members.
//!
//! A `lifeboat agent` child process backs the cluster up to a file:// store in the drill's
//! temp dir while writers put unique keys at a steady rate and record every acknowledged put.
//! Then every etcd member and the agent (which runs beside them, as deployed) get SIGKILL at
//! once and the data dirs are moved aside. The restored cluster is read back and judged
//! against the writers' record: the RPO is the acknowledged writes missing and the time
//! between the newest one present and the last one acknowledged before the kill; the RTO is
//! the time of each step from detection to a started cluster.

mod agent;
mod load;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::error::Context as _;
use backup::remote::Store;
use backup::restore::Target as BackupTarget;
use ops::local::LocalCluster;
use ops::status::Verdict;
use serde::Serialize;

use crate::cluster::{
    clean_up, first_member_client, observe, prepare, read_registry, restore_members,
};
use crate::report::{DrillReport, DrillSpec, Timeline};

/// The continuous backup's goal: at most one second of acknowledged writes lost.
const RPO_OBJECTIVE_SECONDS: f64 = 1.0;

/// Writes the drill's own load, beside the Kubernetes-shaped data.
#[derive(Debug, Serialize)]
pub struct WriteLoad {
    pub rate_per_second: u32,
    /// Seconds the writers ran, until the kill.
    pub seconds: f64,
    pub acknowledged: usize,
    /// Puts that got an error (those after the kill, mostly); never counted as lost.
    pub failed: usize,
}

/// What the backup held and what `backup restore --latest` made of it.
#[derive(Debug, Serialize)]
pub struct BackupPoint {
    pub store: String,
    pub full_revision: i64,
    pub segments: usize,
    pub events: u64,
    pub restored_revision: i64,
    pub downloaded_bytes: u64,
    pub snapshot_bytes: u64,
}

/// Acknowledged writes lost, judged on the restored cluster's data.
#[derive(Debug, Serialize)]
pub struct Rpo {
    /// Acknowledged writes missing from the restored cluster.
    pub lost_writes: usize,
    /// Acknowledged writes at or below the restored revision that are missing: a restore
    /// that skipped data. Must be 0.
    pub holes: usize,
    /// Acknowledged writes newer than the restored revision found anyway: a wrong restored
    /// revision. Must be 0.
    pub beyond_restored: usize,
    pub last_acknowledged_revision: i64,
    /// The last acknowledged write before the kill, RFC 3339.
    pub last_acknowledged_at: Option<String>,
    /// The newest acknowledged write present after the restore, RFC 3339.
    pub newest_restored_at: Option<String>,
    /// Between the two: the writes of this long are lost (0 when none is).
    pub seconds: f64,
    pub objective_seconds: f64,
    pub within_objective: bool,
}

/// Recovery time, step by step, from the disaster's detection to a started cluster.
#[derive(Debug, Serialize)]
pub struct Rto {
    pub detect_seconds: f64,
    pub fetch_seconds: f64,
    pub rebuild_seconds: f64,
    pub restore_seconds: f64,
    pub start_seconds: f64,
    pub total_seconds: f64,
}

/// The agent, as seen just before it was killed.
#[derive(Debug, Serialize)]
pub struct AgentFigures {
    /// VmHWM of the agent process.
    pub peak_rss_bytes: Option<u64>,
    /// Its delta lag gauges (revisions, seconds) as last scraped.
    pub lag_revisions: Option<f64>,
    pub lag_seconds: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct TotalLossReport {
    pub writes: WriteLoad,
    pub backup: Option<BackupPoint>,
    pub rpo: Option<Rpo>,
    pub rto: Option<Rto>,
    pub agent: AgentFigures,
}

/// Judges the restored cluster's `found` keys (digests) against what the writers were told.
fn judge(acks: &[load::Ack], found: &BTreeMap<String, u64>, restored: i64) -> Rpo {
    let present = |a: &load::Ack| found.get(&a.key) == Some(&a.digest);
    let lost: Vec<&load::Ack> = acks.iter().filter(|a| !present(a)).collect();
    let holes = lost.iter().filter(|a| a.revision <= restored).count();
    let beyond_restored = acks
        .iter()
        .filter(|a| present(a) && a.revision > restored)
        .count();
    let last = acks.iter().max_by_key(|a| a.at);
    let newest_present = acks
        .iter()
        .filter(|a| present(a))
        .max_by_key(|a| a.revision);
    let seconds = match (lost.is_empty(), last, newest_present) {
        (true, _, _) | (false, None, _) => 0.0,
        (false, Some(l), Some(p)) => l.at.saturating_duration_since(p.at).as_secs_f64(),
        // Nothing of the load survived: everything since its first acknowledged write.
        (false, Some(l), None) => acks
            .iter()
            .map(|a| l.at.saturating_duration_since(a.at).as_secs_f64())
            .fold(0.0, f64::max),
    };
    let seconds = (seconds * 1000.0).round() / 1000.0;
    Rpo {
        lost_writes: lost.len(),
        holes,
        beyond_restored,
        last_acknowledged_revision: acks.iter().map(|a| a.revision).max().unwrap_or(0),
        last_acknowledged_at: last.map(|a| backup::time::rfc3339(a.at_ms)),
        newest_restored_at: newest_present.map(|a| backup::time::rfc3339(a.at_ms)),
        seconds,
        objective_seconds: RPO_OBJECTIVE_SECONDS,
        within_objective: seconds <= RPO_OBJECTIVE_SECONDS,
    }
}

/// Every member and the agent get SIGKILL in one go (the whole control plane dies at once),
/// then are reaped and their data dirs moved aside inside the drill's temp dir.
fn destroy_everything(
    cluster: &mut LocalCluster,
    agent: &mut agent::Agent,
) -> crate::Result<Vec<String>> {
    let pids: Vec<u32> = cluster.members().iter().filter_map(|m| m.pid()).collect();
    for pid in pids.iter().copied().chain([agent.pid()]) {
        if let Ok(pid) = i32::try_from(pid) {
            // SAFETY: kill(2) on a child this process started and has not reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
    agent.kill();
    let mut lost = Vec::new();
    for i in 0..cluster.members().len() {
        cluster.kill(i);
        let m = &cluster.members()[i];
        lost.push(m.name.clone());
        if m.data_dir.exists() {
            std::fs::rename(&m.data_dir, m.data_dir.with_extension("lost"))
                .context("moving a lost member's data dir aside")?;
        }
    }
    Ok(lost)
}

/// Runs the load with the agent shipping it, then destroys everything; returns what was
/// written, the lost members and the agent's figures.
async fn disaster_under_load(
    args: &DrillSpec,
    cluster: &mut LocalCluster,
    store: &Store,
    tl: &mut Timeline,
) -> crate::Result<(load::Written, Vec<String>, AgentFigures)> {
    let t = Instant::now();
    let client = first_member_client(cluster).await?;
    let writers = load::start(&client, args.write_rate);
    let dir = cluster.dir().to_path_buf();
    let mut agent = agent::spawn(&args.lifeboat, cluster, &store.url, &dir)?;
    // A revision written after the agent started: once a segment reaches it, the delta log
    // is shipping the load (the full alone would not prove it).
    let want = writers.newest_revision() + 1;
    agent
        .wait_shipping(store, want, Duration::from_secs(120))
        .await?;
    tl.since(
        &format!(
            "backup agent (pid {}) took a full and ships the delta log of a load of {}/s",
            agent.pid(),
            args.write_rate
        ),
        t,
    );

    let t = Instant::now();
    // The wait above ends just after a segment upload, and under a steady load the agent
    // seals on a regular cycle (a segment once its oldest write is half of --flush-every
    // old): a whole number of seconds later the kill could always land at the same point of
    // that cycle and show a flattering RPO. A random fraction of a second puts it anywhere.
    let phase = Duration::from_millis(u64::from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
            % 1000,
    ));
    tokio::time::sleep(Duration::from_secs(args.load_seconds) + phase).await;
    let (lag_revisions, lag_seconds) = agent::scrape_lag(agent.metrics).unzip();
    let figures = AgentFigures {
        peak_rss_bytes: agent.peak_rss(),
        lag_revisions,
        lag_seconds,
    };
    tl.since(
        &format!(
            "steady load for {:.3}s ({} writes acknowledged so far)",
            (Duration::from_secs(args.load_seconds) + phase).as_secs_f64(),
            writers.acknowledged()
        ),
        t,
    );

    let t = Instant::now();
    let lost = destroy_everything(cluster, &mut agent)?;
    let written = writers.stop().await;
    tl.since(
        &format!(
            "disaster: SIGKILL to all {} members and the agent, data dirs moved aside",
            lost.len()
        ),
        t,
    );
    Ok((written, lost, figures))
}

/// From the store to a started cluster, each step timed; returns the backup point and the RTO.
async fn recover_from_store(
    cluster: &mut LocalCluster,
    store: &Store,
    detect_seconds: f64,
    tl: &mut Timeline,
) -> crate::Result<(BackupPoint, Rto)> {
    let out = cluster.dir().join("restored.db");
    let t = Instant::now();
    let fetched = backup::restore::fetch(store, BackupTarget::Latest, &out, None).await?;
    let downloaded_bytes = fetched.downloaded_bytes();
    let fetch_seconds = t.elapsed().as_secs_f64();
    tl.since(
        &format!(
            "fetch: backup restore --latest plans revision {} and downloads {downloaded_bytes} bytes",
            fetched.target_revision()
        ),
        t,
    );

    let t = Instant::now();
    let report = backup::restore::rebuild_fetched(fetched, None)?;
    let rebuild_seconds = t.elapsed().as_secs_f64();
    tl.since(
        &format!(
            "rebuild: full at {} + {} segments ({} events) into one verified snapshot at {}",
            report.full_revision, report.segments, report.events, report.revision
        ),
        t,
    );

    let t = Instant::now();
    let (_, bump) = restore_members(cluster, &out)?;
    let restore_seconds = t.elapsed().as_secs_f64();
    tl.since(
        &format!(
            "restore: snapshot restore into {} new data dirs ({bump})",
            cluster.members().len()
        ),
        t,
    );

    let t = Instant::now();
    for i in 0..cluster.members().len() {
        cluster.restart(i)?;
    }
    cluster.wait_healthy(Duration::from_secs(120)).await?;
    let start_seconds = t.elapsed().as_secs_f64();
    tl.since("start: the restored members, healthy", t);

    let ms = |x: f64| (x * 1000.0).round() / 1000.0;
    let rto = Rto {
        detect_seconds: ms(detect_seconds),
        fetch_seconds: ms(fetch_seconds),
        rebuild_seconds: ms(rebuild_seconds),
        restore_seconds: ms(restore_seconds),
        start_seconds: ms(start_seconds),
        total_seconds: ms(detect_seconds
            + fetch_seconds
            + rebuild_seconds
            + restore_seconds
            + start_seconds),
    };
    let point = BackupPoint {
        store: store.url.clone(),
        full_revision: report.full_revision,
        segments: report.segments,
        events: report.events,
        restored_revision: report.revision,
        downloaded_bytes,
        snapshot_bytes: report.size,
    };
    Ok((point, rto))
}

/// Reads the restored cluster: the Kubernetes-shaped data and the load's keys.
async fn read_back(
    cluster: &LocalCluster,
) -> crate::Result<(BTreeMap<String, u64>, BTreeMap<String, u64>)> {
    let registry = read_registry(cluster).await?;
    let mut client = first_member_client(cluster).await?.client;
    let load = ops::kv::read_prefix_digests(&mut client, load::PREFIX).await?;
    Ok((registry, load))
}

pub(crate) async fn rehearse(args: &DrillSpec) -> crate::Result<DrillReport> {
    let mut tl = Timeline::new(args);
    let (mut cluster, acked, before) = prepare(args, &mut tl).await?;
    let store_dir = cluster.dir().join("backup-store");
    std::fs::create_dir_all(&store_dir)
        .with_context(|| format!("creating {}", store_dir.display()))?;
    let store = Store::open(&format!("file://{}", store_dir.display()))?;

    let (written, lost_members, agent) =
        disaster_under_load(args, &mut cluster, &store, &mut tl).await?;

    let t = Instant::now();
    let after = observe(&cluster).await?;
    let detect_seconds = t.elapsed().as_secs_f64();
    tl.since("detect: status", t);
    let codes: Vec<&'static str> = after.findings.iter().map(|f| f.code).collect();

    let recovered = recover_from_store(&mut cluster, &store, detect_seconds, &mut tl).await;
    let (backup, rto, final_status, found, rpo, error) = match recovered {
        Ok((point, rto)) => {
            let t = Instant::now();
            let final_status = observe(&cluster).await?;
            let (registry, load_found) = read_back(&cluster).await?;
            let rpo = judge(&written.acks, &load_found, point.restored_revision);
            tl.since("verify: health, every acknowledged write looked up", t);
            (
                Some(point),
                Some(rto),
                Some(final_status),
                registry,
                Some(rpo),
                None,
            )
        }
        Err(e) => (
            None,
            None,
            None,
            BTreeMap::new(),
            None,
            Some(format!("{e:#}")),
        ),
    };
    let lost = acked
        .iter()
        .filter(|(k, v)| found.get(*k) != Some(*v))
        .count();

    let (verdict, reason) = verdict(VerdictInput {
        members: args.members,
        healthy_before: before.verdict() == Verdict::Healthy,
        codes: &codes,
        error,
        lost_prepared: lost,
        rpo: rpo.as_ref(),
        final_status: final_status.as_ref(),
    });
    clean_up(cluster, &mut tl);

    Ok(DrillReport {
        lost_members,
        keys_before: acked.len(),
        keys_after: found.len(),
        lost,
        status_final: final_status,
        total_loss: Some(TotalLossReport {
            writes: WriteLoad {
                rate_per_second: args.write_rate,
                seconds: (written.seconds * 1000.0).round() / 1000.0,
                acknowledged: written.acks.len(),
                failed: written.failed,
            },
            backup,
            rpo,
            rto,
            agent,
        }),
        ..DrillReport::new(args, tl, (before, after), codes, (verdict, reason))
    })
}

struct VerdictInput<'a> {
    members: usize,
    healthy_before: bool,
    codes: &'a [&'static str],
    error: Option<String>,
    lost_prepared: usize,
    rpo: Option<&'a Rpo>,
    final_status: Option<&'a ops::status::ClusterStatus>,
}

/// Pass: the disaster was seen, the restore worked, the cluster is back whole, and the
/// restored data is exactly the acknowledged writes up to the restored revision. The RPO is
/// said against its objective; being over it is reported, not a failure (it depends on the
/// machine's load, see BENCHMARKS.md).
fn verdict(v: VerdictInput<'_>) -> (&'static str, String) {
    let fail = |why: String| ("fail", why);
    if !v.healthy_before {
        return fail("the cluster was not healthy before the disaster".into());
    }
    if !v.codes.contains(&"NOTHING_REACHABLE") {
        return fail(format!(
            "status did not see that nothing answers: {:?}",
            v.codes
        ));
    }
    if let Some(e) = v.error {
        return fail(format!("the restore from the backup store failed: {e}"));
    }
    let (Some(rpo), Some(fs)) = (v.rpo, v.final_status) else {
        return fail("the restored cluster was not judged".into());
    };
    if fs.verdict() != Verdict::Healthy || fs.members.len() != v.members {
        return fail("the restored cluster is not healthy with all members".into());
    }
    if v.lost_prepared > 0 {
        return fail(format!(
            "{} Kubernetes-shaped keys written before the agent started are missing or changed",
            v.lost_prepared
        ));
    }
    if rpo.holes > 0 || rpo.beyond_restored > 0 {
        return fail(format!(
            "the restored data is not the acknowledged writes up to its revision: {} missing at or below it, {} present above it",
            rpo.holes, rpo.beyond_restored
        ));
    }
    let objective = if rpo.within_objective {
        "within"
    } else {
        "OVER"
    };
    (
        "pass",
        format!(
            "rebuilt {} members from the continuous backup; {} acknowledged writes lost, RPO {:.3}s ({objective} the {}s objective), every write up to the restored revision present",
            v.members, rpo.lost_writes, rpo.seconds, rpo.objective_seconds
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::load::Ack;
    use super::*;

    fn ack(i: i64, base: Instant) -> Ack {
        Ack {
            key: format!("k{i}"),
            digest: i as u64,
            revision: 100 + i,
            at: base + Duration::from_millis(100 * i as u64),
            at_ms: 1_000 * i,
        }
    }

    #[test]
    fn lost_writes_and_rpo_come_from_what_is_found() {
        let base = Instant::now();
        let acks: Vec<Ack> = (0..10).map(|i| ack(i, base)).collect();
        // Restored up to revision 106: k0..=k6 present, k7..=k9 lost.
        let found: BTreeMap<String, u64> = (0..7).map(|i| (format!("k{i}"), i as u64)).collect();
        let rpo = judge(&acks, &found, 106);
        assert_eq!(rpo.lost_writes, 3);
        assert_eq!(rpo.holes, 0);
        assert_eq!(rpo.beyond_restored, 0);
        assert_eq!(rpo.last_acknowledged_revision, 109);
        assert!((rpo.seconds - 0.3).abs() < 1e-9, "{}", rpo.seconds);
    }

    #[test]
    fn a_missing_write_below_the_restored_revision_is_a_hole() {
        let base = Instant::now();
        let acks: Vec<Ack> = (0..10).map(|i| ack(i, base)).collect();
        let mut found: BTreeMap<String, u64> =
            (0..10).map(|i| (format!("k{i}"), i as u64)).collect();
        found.remove("k3");
        // A changed value is as lost as a missing key.
        found.insert("k5".into(), 999);
        let rpo = judge(&acks, &found, 109);
        assert_eq!(rpo.lost_writes, 2);
        assert_eq!(rpo.holes, 2);
        assert_eq!(rpo.seconds, 0.0, "the newest write survived");
        let rpo = judge(&acks, &found, 104);
        assert_eq!(rpo.beyond_restored, 4, "k6..k9 present above revision 104");
    }

    #[test]
    fn nothing_lost_is_an_rpo_of_zero() {
        let base = Instant::now();
        let acks: Vec<Ack> = (0..5).map(|i| ack(i, base)).collect();
        let found: BTreeMap<String, u64> = (0..5).map(|i| (format!("k{i}"), i as u64)).collect();
        let rpo = judge(&acks, &found, 104);
        assert_eq!((rpo.lost_writes, rpo.seconds), (0, 0.0));
        assert!(rpo.within_objective);
    }
}
