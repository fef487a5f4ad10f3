//! From a full snapshot file and the segments after it to one snapshot file at a target
//! revision, through [`store::replay`].

use std::path::Path;

use store::replay::{ReplayError, ReplayEvent, ReplayOutcome};

use crate::restore_full::Image;
use crate::segment::{Event, EventKind, Segment};

/// Moves the key and value out of the decoded event: each is written once, never copied here.
pub fn replay_event(e: Event) -> ReplayEvent {
    ReplayEvent {
        revision: e.revision,
        sub: i64::from(e.sub),
        delete: e.kind == EventKind::Delete,
        key: e.key,
        value: e.value,
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
                return Some(Ok(replay_event(e)));
            }
            match self.segments.next()? {
                Ok(seg) => self.current = seg.events.into_iter(),
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

/// The items of `segments` (each a segment read and decoded), produced on a thread of `scope`
/// one segment ahead of the consumer: the next segment's SHA-256 and parsing run while the
/// replay writes the events of this one, on the other core. The same items in the same
/// order, errors included, as `segments` gives: a corrupt segment fails the replay with the
/// error it would give read in line. At most two decoded segments are held (the consumer's
/// and the next, waiting to be handed over). The thread stops when the consumer drops the
/// iterator, which it must do inside `scope`.
pub fn decoded_ahead<'scope, I>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    segments: I,
) -> std::sync::mpsc::IntoIter<I::Item>
where
    I: Iterator + Send + 'scope,
    I::Item: Send + 'scope,
{
    // A rendezvous channel: the thread decodes one segment, then waits for the replay to
    // take it before it decodes the next.
    let (tx, rx) = std::sync::mpsc::sync_channel(0);
    scope.spawn(move || {
        for item in segments {
            if tx.send(item).is_err() {
                return;
            }
        }
    });
    rx.into_iter()
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
    rebuild_checked(
        full,
        identities,
        Image::Unchecked,
        segments,
        target,
        out,
        &mut || Ok(()),
    )
}

/// [`rebuild`] of a full whose image was already checked against its trailer when it was
/// fetched, or whose check `gate` waits for ([`Image::Checked`]): it is not hashed a second
/// time. `gate` is asked before OUT appears ([`store::replay::replay_to_snapshot_gated`]).
pub fn rebuild_checked(
    full: &Path,
    identities: Option<&store::encrypted::Identities>,
    image: Image,
    segments: impl Iterator<Item = Result<Segment, String>>,
    target: i64,
    out: &Path,
    gate: store::replay::Gate<'_>,
) -> Result<ReplayOutcome, RebuildError> {
    let snap = store::snapshot::SnapshotFile::open_with(full, identities)?;
    if image == Image::Unchecked && !snap.sha_status()?.is_ok() {
        return Err(RebuildError::FullCorrupt {
            file: full.display().to_string(),
        });
    }
    let db = snap.db()?;
    let mut events = SegmentEvents::new(segments);
    Ok(store::replay::replay_to_snapshot_gated(
        &db,
        out,
        &mut events,
        target,
        gate,
    )?)
}
