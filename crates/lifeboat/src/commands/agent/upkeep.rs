//! What the leading agent does besides writing: retention after each full it uploaded
//! (`--keep-last`, `--hourly`, `--daily`, `--weekly` or the config's `retention:`), and the
//! restore test every `--restore-test-every` (docs/backup.md §6, §9).

use std::path::Path;
use std::time::Duration;

use ::backup::agent::metrics::{Failure, Metrics};
use ::backup::agent::restore_test;
use ::backup::layout::FullName;
use ::backup::remote::Store;
use ::backup::retention::Policy;
use ::backup::retention::prune::{self, Kind, Options};

use crate::output;

/// Retention and a restore test never overlap: a prune could delete the full a running test is
/// downloading, and the test would fail for nothing.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn kind_label(k: Kind) -> &'static str {
    match k {
        Kind::Full => "full",
        Kind::Manifest => "manifest",
        Kind::Delta => "delta",
        Kind::Unfinished => "unfinished",
    }
}

/// Applies retention right after `full` was uploaded (this agent verified it as `snapshot
/// save` does, so it is not downloaded again). Failures are counted and logged, never fatal:
/// the backup itself is fine.
pub(crate) async fn after_full(
    store: &Store,
    policy: Policy,
    full: &FullName,
    work_dir: &Path,
    metrics: &Metrics,
) {
    if policy.is_off() {
        return;
    }
    let _turn = ONE_AT_A_TIME.lock().await;
    let opts = Options {
        policy,
        verified: Some(full.clone()),
        work_dir,
        identities: None,
    };
    let plan = match prune::plan(store, &opts).await {
        Ok(p) => p,
        Err(e) => {
            metrics.failed(Failure::Prune);
            output::note(&format!("agent: retention skipped: {e}"));
            return;
        }
    };
    for u in plan.foreign.iter().chain(&plan.corrupt) {
        output::note(&format!(
            "agent: retention keeps {}: {}",
            u.object, u.problem
        ));
    }
    let kinds: Vec<Kind> = plan.delete.iter().map(|r| r.kind).collect();
    let out = prune::execute(store, plan, false).await;
    for (k, _) in kinds.iter().zip(&out.deleted) {
        metrics.pruned(kind_label(*k), 1);
    }
    if let Some(b) = &out.plan.blocked {
        metrics.failed(Failure::Prune);
        output::note(&format!("agent: retention deleted nothing: {b}"));
    } else if let Some(f) = &out.failed {
        metrics.failed(Failure::Prune);
        output::note(&format!(
            "agent: retention deleted {} objects, then failed on {}: {}",
            out.deleted.len(),
            f.object,
            f.problem
        ));
    } else if !out.deleted.is_empty() {
        output::note(&format!(
            "agent: retention deleted {} objects ({} fulls kept)",
            out.deleted.len(),
            out.plan
                .keep
                .iter()
                .filter(|r| r.kind == Kind::Full)
                .count()
        ));
    }
}

/// One restore test now, its result in the metrics and the log.
async fn restore_test_once(store: &Store, work_dir: &Path, metrics: &Metrics) {
    let _turn = ONE_AT_A_TIME.lock().await;
    let t = restore_test::run(store, work_dir).await;
    metrics.restore_test(t.ok, restore_test::took(&t));
    if t.ok {
        output::note(&format!(
            "agent: restore test passed in {:.1}s: {}",
            t.seconds, t.detail
        ));
    } else {
        metrics.failed(Failure::RestoreTest);
        output::note(&format!(
            "agent: restore test FAILED after {:.1}s: {}",
            t.seconds, t.detail
        ));
    }
}

/// Restore tests while this agent leads: the first as soon as the term's first full or resume
/// is done, then every `every`. `next` survives the delta log's restarts within one term.
pub(crate) async fn restore_tests(
    store: &Store,
    every: Option<Duration>,
    work_dir: &Path,
    metrics: &Metrics,
    next: &mut tokio::time::Instant,
) {
    let Some(every) = every else {
        return std::future::pending().await;
    };
    loop {
        tokio::time::sleep_until(*next).await;
        restore_test_once(store, work_dir, metrics).await;
        *next = tokio::time::Instant::now() + every;
    }
}
