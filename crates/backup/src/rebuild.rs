//! From a full snapshot file and the segments after it to one snapshot file at a target
//! revision, through [`store::replay`].

use std::path::Path;

use store::replay::{ReplayError, ReplayEvent, ReplayOutcome};

use crate::restore_full::Image;
use crate::segment::{Event, EventKind, Segment};

pub fn replay_event(e: &Event) -> ReplayEvent {
    ReplayEvent {
        revision: e.revision,
        sub: i64::from(e.sub),
        delete: e.kind == EventKind::Delete,
        key: e.key.clone(),
        value: e.value.clone(),
        create_revision: e.create_revision,
        version: e.version,
        lease: e.lease,
    }
}

/// The events of segments that arrive one at a time (a download each): only one segment is
/// held in memory.
pub struct SegmentEvents<I> {
    segments: I,
    current: std::vec::IntoIter<Event>,
}

impl<I> SegmentEvents<I> {
    pub fn new(segments: I) -> SegmentEvents<I> {
        SegmentEvents {
            segments,
            current: Vec::new().into_iter(),
        }
    }
}

impl<I: Iterator<Item = Result<Segment, String>>> Iterator for SegmentEvents<I> {
    type Item = Result<ReplayEvent, String>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(e) = self.current.next() {
                return Some(Ok(replay_event(&e)));
            }
            match self.segments.next()? {
                Ok(seg) => self.current = seg.events.into_iter(),
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    #[error("{0}")]
    Open(#[from] store::Error),
    #[error("{0}")]
    Replay(#[from] ReplayError),
    #[error(
        "the full snapshot {file}: its SHA-256 trailer does not match (corrupt); restore from an older full"
    )]
    FullCorrupt { file: String },
}

/// Writes `out`: the snapshot file `full` (age-encrypted when `identities` are given)
/// brought to `target` by `segments` (in chain order), verified. `out` is always plain.
pub fn rebuild(
    full: &Path,
    identities: Option<&store::encrypted::Identities>,
    segments: impl Iterator<Item = Result<Segment, String>>,
    target: i64,
    out: &Path,
) -> Result<ReplayOutcome, RebuildError> {
    rebuild_checked(full, identities, Image::Unchecked, segments, target, out)
}

/// [`rebuild`] of a full whose image was already checked against its trailer when it was
/// fetched ([`Image::Checked`]): it is not hashed a second time.
pub fn rebuild_checked(
    full: &Path,
    identities: Option<&store::encrypted::Identities>,
    image: Image,
    segments: impl Iterator<Item = Result<Segment, String>>,
    target: i64,
    out: &Path,
) -> Result<ReplayOutcome, RebuildError> {
    let snap = store::snapshot::SnapshotFile::open_with(full, identities)?;
    if image == Image::Unchecked && !snap.sha_status()?.is_ok() {
        return Err(RebuildError::FullCorrupt {
            file: full.display().to_string(),
        });
    }
    let db = snap.db()?;
    let mut events = SegmentEvents::new(segments);
    Ok(store::replay::replay_to_snapshot(
        &db,
        out,
        &mut events,
        target,
    )?)
}
