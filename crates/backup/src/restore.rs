//! `backup restore`: one verified snapshot file at a revision, a time, or the newest point,
//! which `lifeboat snapshot restore` then takes like any other snapshot.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::chain::{self, ChainError, Plan};
use crate::check::{fetch_full, fetch_segment, manifest};
use crate::rebuild::{self, RebuildError};
use crate::remote::{RemoteError, Store};
use crate::restore_full::Image;
use crate::segment::Segment;
use crate::time;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Latest,
    Revision(i64),
    /// ms since the epoch
    Time(i64),
}

#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("{}: exists; choose another --out (nothing is overwritten)", .0.display())]
    Exists(PathBuf),
    #[error(transparent)]
    Remote(#[from] RemoteError),
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error("{0}")]
    Piece(String),
    #[error(transparent)]
    Rebuild(#[from] RebuildError),
    #[error(
        "the full at revision {revision} is encrypted: pass --identity FILE with an age key it was encrypted to"
    )]
    NeedIdentity { revision: i64 },
    #[error("{}: {what}", path.display())]
    Local { path: PathBuf, what: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    pub store: String,
    pub out: String,
    pub revision: i64,
    pub full_object: String,
    pub full_revision: i64,
    pub full_taken_at: String,
    pub segments: usize,
    pub events: u64,
    pub size: u64,
    pub cluster_id: String,
}

/// The revision `at_ms` maps to: the segments after the newest full taken by then are read
/// in order until an event observed later turns up.
async fn revision_at(
    store: &Store,
    listing: &chain::Listing,
    at_ms: i64,
) -> Result<i64, RestoreError> {
    let full = listing.full_before_time(at_ms)?;
    let mut reached = full.revision;
    for name in listing
        .deltas
        .iter()
        .filter(|d| d.last_revision > full.revision)
    {
        if name.first_revision > reached + 1 {
            break;
        }
        let seg = fetch_segment(store, name)
            .await
            .map_err(RestoreError::Piece)?;
        reached = chain::revision_at_time(reached, [&seg], at_ms);
        if seg.events.iter().any(|e| e.observed_ms > at_ms) {
            break;
        }
    }
    Ok(reached)
}

/// Downloads each segment of the plan into `dir` (checked on the way) and returns the files.
async fn fetch_segments(
    store: &Store,
    plan: &Plan,
    dir: &Path,
    cluster: &str,
) -> Result<Vec<PathBuf>, RestoreError> {
    let mut files = Vec::new();
    for name in &plan.segments {
        let object = name.object(store.prefix());
        let bytes = store
            .get(&object, crate::segment::MAX_SEGMENT_BYTES as u64)
            .await?;
        let seg = crate::check::decode_named(name, &object, &bytes).map_err(RestoreError::Piece)?;
        if store::hex_id(seg.header.cluster_id) != cluster {
            return Err(RestoreError::Piece(format!(
                "{} belongs to cluster {}, the full to {cluster}: one store (or prefix) per cluster",
                name.file_name(),
                store::hex_id(seg.header.cluster_id)
            )));
        }
        // Decoded again at replay: the file on local disk is checked like the download.
        let path = dir.join(name.file_name());
        std::fs::write(&path, &bytes).map_err(|e| RestoreError::Local {
            path: path.clone(),
            what: e.to_string(),
        })?;
        files.push(path);
    }
    Ok(files)
}

fn read_segment(path: &Path) -> Result<Segment, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    crate::segment::decode(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// Everything a rebuild needs, downloaded and checked beside OUT: the first half of
/// [`restore`], split off so that callers (the total-loss drill) can time each half.
pub struct Fetched {
    /// Downloads live here (beside OUT, mode 0700) and go when this is dropped.
    work: tempfile::TempDir,
    full_path: PathBuf,
    /// Whether the full's image was checked against its trailer while it was fetched.
    image: Image,
    segment_files: Vec<PathBuf>,
    plan: Plan,
    cluster_id: String,
    store_url: String,
    full_object: String,
    out: PathBuf,
}

impl Fetched {
    /// The revision the rebuild will reach.
    pub fn target_revision(&self) -> i64 {
        self.plan.target_revision
    }

    /// Bytes downloaded (the full and every segment), as stored.
    pub fn downloaded_bytes(&self) -> u64 {
        std::iter::once(&self.full_path)
            .chain(&self.segment_files)
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }
}

/// Plans the chain to `target` and downloads its full and segments (checked) beside `out`.
pub async fn fetch(
    store: &Store,
    target: Target,
    out: &Path,
    ids: Option<&store::encrypted::Identities>,
) -> Result<Fetched, RestoreError> {
    if out.exists() {
        return Err(RestoreError::Exists(out.to_path_buf()));
    }
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let local = |what: String| RestoreError::Local {
        path: parent.to_path_buf(),
        what,
    };
    let listing = store.contents().await?.listing();
    let plan = match target {
        Target::Latest => listing.plan_latest()?,
        Target::Revision(n) => listing.plan_revision(n)?,
        Target::Time(t) => listing.plan_revision(revision_at(store, &listing, t).await?)?,
    };
    if plan.full.encrypted && ids.is_none() {
        return Err(RestoreError::NeedIdentity {
            revision: plan.full.revision,
        });
    }
    let work = tempfile::Builder::new()
        .prefix(".lifeboat-restore-")
        .tempdir_in(parent)
        .map_err(|e| local(format!("cannot create a work directory: {e}")))?;
    let m = manifest(store, &plan.full)
        .await
        .map_err(RestoreError::Piece)?;
    let full_path = work.path().join(plan.full.file_name());
    let image = fetch_full(store, &plan.full, &m, &full_path)
        .await
        .map_err(RestoreError::Piece)?;
    let segment_files = fetch_segments(store, &plan, work.path(), &m.cluster_id).await?;
    Ok(Fetched {
        full_object: plan.full.object(store.prefix()),
        work,
        full_path,
        image,
        segment_files,
        plan,
        cluster_id: m.cluster_id,
        store_url: store.url.clone(),
        out: out.to_path_buf(),
    })
}

/// Replays what [`fetch`] downloaded into OUT and verifies it; the downloads then go.
pub fn rebuild_fetched(
    fetched: Fetched,
    ids: Option<&store::encrypted::Identities>,
) -> Result<RestoreReport, RestoreError> {
    let Fetched {
        work,
        full_path,
        image,
        segment_files,
        plan,
        cluster_id,
        store_url,
        full_object,
        out,
    } = fetched;
    let outcome = rebuild::rebuild_checked(
        &full_path,
        ids,
        image,
        segment_files.iter().map(|p| read_segment(p)),
        plan.target_revision,
        &out,
    )?;
    drop(work);
    Ok(RestoreReport {
        store: store_url,
        out: out.display().to_string(),
        revision: outcome.revision,
        full_object,
        full_revision: plan.full.revision,
        full_taken_at: time::rfc3339(plan.full.taken_ms),
        segments: plan.segments.len(),
        events: outcome.events,
        size: outcome.size + 32,
        cluster_id,
    })
}

pub async fn restore(
    store: &Store,
    target: Target,
    out: &Path,
    ids: Option<&store::encrypted::Identities>,
) -> Result<RestoreReport, RestoreError> {
    let fetched = fetch(store, target, out, ids).await?;
    rebuild_fetched(fetched, ids)
}
