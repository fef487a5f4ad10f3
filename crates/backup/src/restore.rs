//! `backup restore`: one verified snapshot file at a revision, a time, or the newest point,
//! which `lifeboat snapshot restore` then takes like any other snapshot.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::chain::{self, ChainError, Plan};
use crate::check::{fetch_segment, manifest};
use crate::rebuild::{self, RebuildError};
use crate::remote::{RemoteError, Store};
use crate::restore_full::{FullFetch, Image, fetch_full_deferred};
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

/// A segment fetched and checked (SHA-256, events, name, cluster), as a local file, with the
/// CRC-32C of exactly the bytes that were checked.
struct LocalSegment {
    path: PathBuf,
    len: usize,
    crc: u32,
}

/// Downloads each segment of the plan into `dir` (checked on the way) and returns the files.
async fn fetch_segments(
    store: &Store,
    plan: &Plan,
    dir: &Path,
    cluster: &str,
) -> Result<Vec<LocalSegment>, RestoreError> {
    let mut files = Vec::new();
    for name in &plan.segments {
        let object = name.object(store.prefix());
        let path = dir.join(name.file_name());
        let bytes = local_copy(store, &object, &path).await?;
        let seg = crate::check::decode_named(name, &object, &bytes).map_err(RestoreError::Piece)?;
        if store::hex_id(seg.header.cluster_id) != cluster {
            return Err(RestoreError::Piece(format!(
                "{} belongs to cluster {}, the full to {cluster}: one store (or prefix) per cluster",
                name.file_name(),
                store::hex_id(seg.header.cluster_id)
            )));
        }
        files.push(LocalSegment {
            path,
            len: bytes.len(),
            crc: crc32c::crc32c(&bytes),
        });
    }
    Ok(files)
}

/// Puts a copy of a segment object at `path` and returns its bytes, as read from that copy
/// when it is a link: what is checked here is what the replay reads. From a `file://` store
/// the object is hard-linked (written once by rename, it never changes), else downloaded
/// and written.
async fn local_copy(store: &Store, object: &str, path: &Path) -> Result<Vec<u8>, RestoreError> {
    let local = |e: std::io::Error| RestoreError::Local {
        path: path.to_path_buf(),
        what: e.to_string(),
    };
    if let Some(src) = store.local_file(object)
        && std::fs::hard_link(&src, path).is_ok()
    {
        return inputs::read(path, SEGMENT_INPUT).map_err(|e| RestoreError::Local {
            path: path.to_path_buf(),
            what: format!("{}: {}", e.kind.name, e.problem),
        });
    }
    let bytes = store
        .get(object, crate::segment::MAX_SEGMENT_BYTES as u64)
        .await?;
    std::fs::write(path, &bytes).map_err(local)?;
    Ok(bytes)
}

/// Reads a fetched segment back for the replay. Decoded again (every event check), but its
/// SHA-256 is not computed a second time: the bytes read back must be the very bytes whose
/// SHA-256 was checked at fetch, which their length and CRC-32C (taken then, over the
/// same buffer) establish; a local file that changed since fails here.
fn read_segment(local: &LocalSegment) -> Result<Segment, String> {
    let path = &local.path;
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.len() != local.len || crc32c::crc32c(&bytes) != local.crc {
        return Err(format!(
            "{}: changed on local disk since it was fetched and checked; run the restore again",
            path.display()
        ));
    }
    crate::segment::decode_prechecked(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

const SEGMENT_INPUT: inputs::Kind =
    inputs::Kind::new("delta segment", crate::segment::MAX_SEGMENT_BYTES as u64);

/// Everything a rebuild needs, downloaded and checked beside OUT: the first half of
/// [`restore`], split off so that callers (the total-loss drill) can time each half.
pub struct Fetched {
    /// Downloads live here (beside OUT, mode 0700) and go when this is dropped.
    work: tempfile::TempDir,
    full_path: PathBuf,
    /// Whether the full's image was checked against its trailer while it was fetched, or the
    /// check still running (a `file://` store): the rebuild waits for it before OUT appears.
    image: FullFetch,
    segment_files: Vec<LocalSegment>,
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
            .chain(self.segment_files.iter().map(|s| &s.path))
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }
}

/// Plans the chain to `target` and downloads its full and segments (checked) beside `out`.
/// From a `file://` store the full's digest may still be running when this returns: its
/// time is then part of [`rebuild_fetched`], which waits for it before OUT appears.
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
    let image = fetch_full_deferred(store, &plan.full, &m, &full_path)
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
    let (image, mut pending) = match image {
        FullFetch::Done(image) => (image, None),
        // Replayed while its digest runs: nothing derived from it is trusted (OUT does not
        // appear) until the digest says the full is the one the manifest names.
        FullFetch::Hashing(p) => (Image::Checked, Some(p)),
    };
    let mut full_problem = None;
    let mut gate = || match pending.take().map(|p| p.wait()) {
        Some(Err(e)) => {
            full_problem = Some(e.clone());
            Err(e)
        }
        _ => Ok(()),
    };
    let rebuilt = std::thread::scope(|scope| {
        let segments = rebuild::decoded_ahead(scope, segment_files.iter().map(read_segment));
        rebuild::rebuild_checked(
            &full_path,
            ids,
            image,
            segments,
            plan.target_revision,
            &out,
            &mut gate,
        )
    });
    // A corrupt full explains whatever else went wrong with its replay: its verdict first.
    if let Some(p) = pending.take() {
        p.wait().map_err(RestoreError::Piece)?;
    }
    if let Some(e) = full_problem {
        return Err(RestoreError::Piece(e));
    }
    let outcome = rebuilt?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::{Event, EventKind, SegmentInfo};

    fn segment_bytes() -> Vec<u8> {
        let events: Vec<Event> = (0..3)
            .map(|i| Event {
                kind: EventKind::Put,
                revision: 5 + i,
                sub: 0,
                key: format!("/k{i}").into_bytes(),
                value: b"value".to_vec(),
                create_revision: 5 + i,
                version: 1,
                lease: 0,
                observed_ms: 0,
            })
            .collect();
        let info = SegmentInfo {
            cluster_id: 1,
            member_id: 2,
            prev_last_revision: 4,
            created_ms: 0,
        };
        crate::segment::encode(info, &events).expect("encodes")
    }

    /// The replay reads a segment back without hashing it again: only the very bytes checked
    /// at fetch pass; a local copy changed or truncated since fails.
    #[test]
    fn a_segment_changed_after_its_check_is_refused_at_replay() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bytes = segment_bytes();
        let path = dir.path().join("s.seg");
        std::fs::write(&path, &bytes).expect("write");
        let local = LocalSegment {
            path: path.clone(),
            len: bytes.len(),
            crc: crc32c::crc32c(&bytes),
        };
        assert_eq!(
            read_segment(&local),
            Ok(crate::segment::decode(&bytes).expect("sound"))
        );

        let mut flipped = bytes.clone();
        let last = flipped.len() - 40;
        flipped[last] ^= 1;
        std::fs::write(&path, &flipped).expect("write");
        let err = read_segment(&local).expect_err("changed");
        assert!(err.contains("changed on local disk"), "{err}");

        std::fs::write(&path, &bytes[..bytes.len() - 1]).expect("write");
        assert!(read_segment(&local).is_err(), "a truncated copy");
    }
}
