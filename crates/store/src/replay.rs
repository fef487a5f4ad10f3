//! Replay: a snapshot at revision `R` plus the watch events of revisions `R+1..=N` gives the
//! snapshot the cluster had at `N` (docs/backup.md). A new file is written, the source is
//! never touched.
//!
//! Every bucket is copied unchanged, then each event is appended to the `key` bucket at its
//! own revision and sub-revision, exactly as etcd's transaction wrote it: a put as
//! `N_sub -> KeyValue{key, create_revision, mod_revision, version, value, lease}`, a delete as
//! `N_sub t -> KeyValue{key}`. Events must continue the snapshot's revisions with none
//! missing; events at or before `R` are skipped (the delta log runs on while a full is taken).
//!
//! What the watch cannot carry stays as the full had it: `meta`'s `consistent_index` (a raft
//! index, which a restore rewrites for the new cluster anyway) and the `lease` bucket (leases
//! granted or revoked after the full; keys keep the lease IDs they were written with).

use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use bolt::{Db, Writer};
use sha2::{Digest, Sha256};

use crate::copy::{self, CopyProblem};
use crate::mvcc::Revision;

impl From<CopyProblem> for ReplayError {
    fn from(p: CopyProblem) -> ReplayError {
        ReplayError::Source(p.to_string())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("the full snapshot: {0}")]
    Source(String),
    #[error("the delta events: {0}")]
    Events(String),
    #[error(
        "the events stop at revision {reached} but revision {target} was asked for: a delta segment is missing"
    )]
    Short { reached: i64, target: i64 },
    #[error("{}: {what}", path.display())]
    Io { path: PathBuf, what: String },
    #[error("the replayed snapshot {} does not verify: {what}; it was moved aside as .unsound", path.display())]
    Unsound { path: PathBuf, what: String },
    #[error(transparent)]
    Write(#[from] bolt::WriteError),
    /// The gate of [`replay_to_snapshot_gated`] refused the result.
    #[error("{0}")]
    Refused(String),
}

/// One put or delete as the watch reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayEvent {
    pub revision: i64,
    pub sub: i64,
    pub delete: bool,
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    pub create_revision: i64,
    pub version: i64,
    pub lease: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReplayOutcome {
    /// The full snapshot's revision.
    pub from_revision: i64,
    /// The revision of the new snapshot.
    pub revision: i64,
    /// Events written (events at or before `from_revision` are not counted).
    pub events: u64,
    /// bbolt bytes, without the trailer.
    pub size: u64,
}

/// The events to replay; errors from decoding them are passed through as text.
pub type Events<'a> = &'a mut dyn Iterator<Item = Result<ReplayEvent, String>>;

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// `mvccpb.KeyValue` as etcd (gogo-protobuf) marshals it: fields in order, zeros omitted.
fn key_value(e: &ReplayEvent) -> Vec<u8> {
    let mut out = Vec::with_capacity(e.key.len() + e.value.len() + 48);
    out.push(0x0a);
    varint(&mut out, e.key.len() as u64);
    out.extend_from_slice(&e.key);
    if e.delete {
        return out;
    }
    for (tag, v) in [
        (0x10u8, e.create_revision),
        (0x18, e.revision),
        (0x20, e.version),
    ] {
        if v != 0 {
            out.push(tag);
            varint(&mut out, v as u64);
        }
    }
    if !e.value.is_empty() {
        out.push(0x2a);
        varint(&mut out, e.value.len() as u64);
        out.extend_from_slice(&e.value);
    }
    if e.lease != 0 {
        out.push(0x30);
        varint(&mut out, e.lease as u64);
    }
    out
}

fn meta_revision(db: &Db, key: &[u8]) -> Result<i64, ReplayError> {
    let source = |e: bolt::Error| ReplayError::Source(e.to_string());
    let meta = db
        .bucket(b"meta")
        .map_err(source)?
        .ok_or_else(|| ReplayError::Source("no meta bucket: not an etcd backend".into()))?;
    Ok(meta
        .get(db, key)
        .map_err(source)?
        .and_then(|v| Revision::main_of(&v))
        .unwrap_or(0))
}

/// Appends the events after `current` up to `target` to the open `key` bucket.
struct Appender<'a> {
    events: Events<'a>,
    target: i64,
    /// Revision and sub-revision of the last key written.
    at: (i64, i64),
    written: u64,
}

impl Appender<'_> {
    fn follows(&self, e: &ReplayEvent) -> bool {
        let (rev, sub) = self.at;
        (e.revision == rev && e.sub == sub + 1 && self.written > 0)
            || (e.revision == rev + 1 && e.sub == 0)
    }

    fn run<W: Write + Seek>(&mut self, w: &mut Writer<W>) -> Result<(), ReplayError> {
        let from = self.at.0;
        while let Some(e) = self.events.next() {
            let e = e.map_err(ReplayError::Events)?;
            if e.revision <= from {
                continue;
            }
            if e.revision > self.target {
                break;
            }
            if !self.follows(&e) {
                return Err(ReplayError::Events(format!(
                    "event at revision {}.{} does not follow {}.{} (a revision is missing or out of order)",
                    e.revision, e.sub, self.at.0, self.at.1
                )));
            }
            let rev = Revision {
                main: e.revision,
                sub: e.sub,
                tombstone: e.delete,
            };
            w.put(&rev.to_key(), &key_value(&e))?;
            self.at = (e.revision, e.sub);
            self.written += 1;
        }
        Ok(())
    }
}

/// Writes `db` with the events up to `target` appended to `out` (bbolt only, no trailer).
pub fn replay<W: Write + Seek>(
    db: &Db,
    out: W,
    events: Events<'_>,
    target: i64,
) -> Result<(W, ReplayOutcome), ReplayError> {
    let compact =
        meta_revision(db, b"scheduledCompactRev")?.max(meta_revision(db, b"finishedCompactRev")?);
    let mut w = Writer::new(out, db.page_size() as usize)?;
    let mut events = Some(events);
    let close_key = |w: &mut Writer<W>, last_main: i64| -> Result<Appender<'_>, ReplayError> {
        let from = last_main.max(compact);
        let mut a = Appender {
            events: events
                .take()
                .ok_or_else(|| ReplayError::Source("two key buckets".into()))?,
            target,
            at: (from, -1),
            written: 0,
        };
        a.run(w)?;
        Ok(a)
    };
    let (a, last_main) = copy::copy_appending_to_key(db, &mut w, close_key)?;
    let from_revision = last_main.max(compact);
    if target < from_revision {
        return Err(ReplayError::Source(format!(
            "the full is at revision {from_revision}, after the target {target}"
        )));
    }
    if a.at.0 != target {
        return Err(ReplayError::Short {
            reached: a.at.0,
            target,
        });
    }
    let txid = db.meta().txid.saturating_add(1);
    let (out, written) = w.finish(txid)?;
    Ok((
        out,
        ReplayOutcome {
            from_revision,
            revision: target,
            events: a.written,
            size: written.pages * u64::from(written.page_size),
        },
    ))
}

/// SHA-256 of the first `size` bytes of `file`, read with `pread` (the page cache: the bytes
/// were just written), so that it can run beside the walk that verifies the same file.
fn image_sha256(file: &std::fs::File, size: u64) -> std::io::Result<[u8; 32]> {
    use std::os::unix::fs::FileExt;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0u64;
    while at < size {
        let want = buf
            .len()
            .min(usize::try_from(size - at).unwrap_or(usize::MAX));
        let n = file.read_at(&mut buf[..want], at)?;
        if n == 0 {
            return Err(std::io::Error::other("short read while hashing"));
        }
        hasher.update(&buf[..n]);
        at += n as u64;
    }
    Ok(hasher.finalize().into())
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Called once the replayed file is written, synced and verified, just before it is renamed
/// to OUT: an `Err` (a check of the inputs that ran beside the replay, e.g. the full's
/// digest) keeps OUT from appearing and removes the written file.
pub type Gate<'a> = &'a mut dyn FnMut() -> Result<(), String>;

/// Writes the replayed snapshot file (bbolt + SHA-256 trailer) at `out`, which must not
/// exist: written as `out.part`, verified with `snapshot verify`'s checks, fsynced, renamed.
/// A result that does not verify is moved aside to `out.unsound`, never left as `out`.
pub fn replay_to_snapshot(
    db: &Db,
    out: &Path,
    events: Events<'_>,
    target: i64,
) -> Result<ReplayOutcome, ReplayError> {
    replay_to_snapshot_gated(db, out, events, target, &mut || Ok(()))
}

/// [`replay_to_snapshot`], with `gate` asked before OUT appears.
pub fn replay_to_snapshot_gated(
    db: &Db,
    out: &Path,
    events: Events<'_>,
    target: i64,
    gate: Gate<'_>,
) -> Result<ReplayOutcome, ReplayError> {
    let io = |what: String| ReplayError::Io {
        path: out.to_path_buf(),
        what,
    };
    if out.exists() {
        return Err(io(
            "exists; choose another --out (nothing is overwritten)".into()
        ));
    }
    let part = with_suffix(out, ".part");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        // A snapshot holds every Secret of a cluster.
        .mode(0o600)
        .open(&part)
        .map_err(|e| io(format!("cannot create {}: {e}", part.display())))?;
    let sealed = replay(db, file, events, target)
        .and_then(|(file, outcome)| seal(file, &part, out, &outcome).map(|()| outcome))
        .and_then(|outcome| {
            gate().map_err(ReplayError::Refused)?;
            Ok(outcome)
        });
    let outcome = match sealed {
        Ok(o) => o,
        Err(e) => {
            // A half-written or refused replay is of no use and holds a copy of the data
            // (an unsound one was already moved aside).
            let _ = std::fs::remove_file(&part);
            return Err(e);
        }
    };
    std::fs::rename(&part, out).map_err(|e| io(format!("rename from {}: {e}", part.display())))?;
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(outcome)
}

/// Finishes the written image at `part`: etcd's SHA-256 trailer, `snapshot verify`'s checks,
/// fsync. The image does not change after the writer's last byte, so the three run at once
/// (the hash on one core, the verifying walk on the other, the data's fsync on the disk)
/// instead of one after the other. Every check still runs, each over the bytes on disk:
/// the trailer is the hash of the image as read back from the file, and the walk reads the
/// same file with a placeholder trailer in place, so its length check sees the final layout;
/// only the walk's own hash is skipped (it would hash the same bytes a second time), and the
/// trailer written is read back and compared.
fn seal(
    mut file: std::fs::File,
    part: &Path,
    out: &Path,
    outcome: &ReplayOutcome,
) -> Result<(), ReplayError> {
    let io = |what: String| ReplayError::Io {
        path: part.to_path_buf(),
        what,
    };
    let size = outcome.size;
    file.seek(SeekFrom::Start(size))
        .and_then(|_| file.write_all(&[0u8; 32]))
        .and_then(|()| file.set_len(size + 32))
        .map_err(|e| io(e.to_string()))?;
    let (sha, synced, problem) = std::thread::scope(|s| {
        let hashing = s.spawn(|| image_sha256(&file, size));
        let syncing = s.spawn(|| file.sync_data());
        let problem = verify_problem(part, outcome);
        (joined(hashing.join()), joined(syncing.join()), problem)
    });
    let sha = sha.map_err(|e| io(format!("hashing: {e}")))?;
    synced.map_err(|e| io(format!("fsync: {e}")))?;
    write_trailer(&file, size, &sha).map_err(|e| io(format!("trailer: {e}")))?;
    if let Some(what) = problem {
        let aside = with_suffix(out, ".unsound");
        let _ = std::fs::rename(part, &aside);
        return Err(ReplayError::Unsound {
            path: out.to_path_buf(),
            what,
        });
    }
    Ok(())
}

fn joined<T>(r: std::thread::Result<std::io::Result<T>>) -> std::io::Result<T> {
    r.unwrap_or_else(|_| Err(std::io::Error::other("a sealing thread panicked")))
}

/// Writes the trailer over the placeholder, reads it back, and syncs (the data already is).
fn write_trailer(file: &std::fs::File, size: u64, sha: &[u8; 32]) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    file.write_all_at(sha, size)?;
    file.sync_all()?;
    let mut back = [0u8; 32];
    file.read_exact_at(&mut back, size)?;
    if &back != sha || file.metadata()?.len() != size + 32 {
        return Err(std::io::Error::other(
            "the trailer read back differs from the one written",
        ));
    }
    Ok(())
}

/// What `snapshot verify` finds wrong with the written file, if anything.
fn verify_problem(path: &Path, outcome: &ReplayOutcome) -> Option<String> {
    // The trailer is computed beside this walk from the same bytes: hashing them here too
    // would compare the same bytes with themselves. Every other check runs.
    let report = crate::snapshot::SnapshotFile::open(path)
        .and_then(|snap| crate::report::verify_file(&snap, crate::report::Hash::Skip));
    match report {
        Ok(r) if r.sound => revision_problem(path, outcome),
        Ok(r) => Some(
            r.checks
                .iter()
                .filter(|c| !c.ok)
                .map(|c| format!("{}: {}", c.name, c.detail))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        Err(e) => Some(e.to_string()),
    }
}

/// The newest revision key of the written file, read back: it must be the target.
fn revision_problem(out: &Path, outcome: &ReplayOutcome) -> Option<String> {
    let target = outcome.revision;
    let read = || -> Result<Option<i64>, String> {
        let snap = crate::snapshot::SnapshotFile::open(out).map_err(|e| e.to_string())?;
        let db = snap.db().map_err(|e| e.to_string())?;
        let Some(key) = db.bucket(b"key").map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        Ok(db
            .last(&key)
            .map_err(|e| e.to_string())?
            .and_then(|(k, _)| Revision::main_of(&k)))
    };
    match read() {
        Ok(Some(r)) if r == target => None,
        // No event written: the full's revision may come from a compaction mark alone.
        Ok(Some(r)) if outcome.events == 0 && r <= target => None,
        Ok(r) => Some(format!("its newest revision is {r:?}, expected {target}")),
        Err(e) => Some(e),
    }
}
