//! The scheduled restore test (docs/backup.md §6): the newest full and its deltas fetched and
//! rebuilt as `backup restore --latest` does, into a temporary directory under the work dir,
//! then checked as `snapshot verify` does. Proves the backup restores, and times it (the
//! measured RTO of the backup's half of a recovery).

use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::remote::Store;
use crate::restore::{self, Target};

#[derive(Debug, Clone, Serialize)]
pub struct RestoreTest {
    pub ok: bool,
    pub seconds: f64,
    /// The revision rebuilt, when the rebuild got that far.
    pub revision: Option<i64>,
    pub full_revision: Option<i64>,
    pub segments: usize,
    /// What was checked, or what failed and what to do.
    pub detail: String,
}

/// Free bytes for an unprivileged writer on the file system holding `dir`.
fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `st` a properly sized out-parameter.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    Some(st.f_bavail.saturating_mul(st.f_frsize))
}

/// What the rebuild needs on disk: the full as stored and the segments (downloads), and the
/// rebuilt file (about the full's plain size plus what the segments add).
async fn room_needed(store: &Store) -> Result<u64, String> {
    let contents = store.contents().await.map_err(|e| e.to_string())?;
    let plan = contents
        .listing()
        .plan_latest()
        .map_err(|e| e.to_string())?;
    let full = contents
        .fulls
        .iter()
        .find(|(f, _)| *f == plan.full)
        .map_or(0, |(_, e)| e.size);
    let segments: u64 = contents
        .deltas
        .iter()
        .filter(|(d, _)| plan.segments.contains(d))
        .map(|(_, e)| e.size)
        .sum();
    Ok(full
        .saturating_mul(2)
        .saturating_add(segments.saturating_mul(2)))
}

async fn rebuild_and_verify(store: &Store, work: &Path) -> Result<RestoreTest, String> {
    let need = room_needed(store).await?;
    if let Some(free) = free_bytes(work)
        && free < need
    {
        return Err(format!(
            "needs about {need} bytes in {}, {free} free: give --work-dir a file system with room for twice the newest full",
            work.display()
        ));
    }
    let dir = tempfile::Builder::new()
        .prefix(".lifeboat-restore-test-")
        .tempdir_in(work)
        .map_err(|e| format!("cannot create a directory in {}: {e}", work.display()))?;
    let out = dir.path().join("restored.db");
    let fetched = restore::fetch(store, Target::Latest, &out, None)
        .await
        .map_err(|e| e.to_string())?;
    // Replay and verification are CPU and disk work: off the runtime that runs the delta log.
    let check = out.clone();
    let report = tokio::task::spawn_blocking(move || {
        let report = restore::rebuild_fetched(fetched, None).map_err(|e| e.to_string())?;
        let verified = store::report::verify_with(&check, None).map_err(|e| e.to_string())?;
        match verified.failures() {
            Some(f) => Err(format!("the rebuilt snapshot is unsound: {f}")),
            None => Ok(report),
        }
    })
    .await
    .map_err(|e| format!("the rebuild stopped: {e}"))??;
    drop(dir);
    Ok(RestoreTest {
        ok: true,
        seconds: 0.0,
        revision: Some(report.revision),
        full_revision: Some(report.full_revision),
        segments: report.segments,
        detail: format!(
            "rebuilt revision {} from the full at {} and {} segments ({} events); snapshot verify: sound",
            report.revision, report.full_revision, report.segments, report.events
        ),
    })
}

/// Runs one restore test in a temporary directory under `work` (removed after, also when it
/// fails). Never returns an error: a failure is the result.
pub async fn run(store: &Store, work: &Path) -> RestoreTest {
    let started = Instant::now();
    let mut result = match rebuild_and_verify(store, work).await {
        Ok(r) => r,
        Err(detail) => RestoreTest {
            ok: false,
            seconds: 0.0,
            revision: None,
            full_revision: None,
            segments: 0,
            detail: format!(
                "{detail}; run `lifeboat backup verify --store {}` to see every problem",
                store.url
            ),
        },
    };
    result.seconds = started.elapsed().as_secs_f64();
    result
}

/// The duration as the metrics take it.
pub fn took(t: &RestoreTest) -> Duration {
    Duration::from_secs_f64(t.seconds.max(0.0))
}
