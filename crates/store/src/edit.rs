//! Offline edits of a snapshot (docs/etcd-formats.md §6.4): a new snapshot file is written, the source is never
//! touched. All changes land in one new revision `R+1` (R = the store's current revision,
//! compaction marks included), appended to the `key` bucket as etcd's own transaction would
//! write them: a delete is key `(R+1)_<i>t` with value `KeyValue{key}`; a put is key
//! `(R+1)_<i>` with `KeyValue{key, create_revision (kept, or R+1 when new), mod_revision R+1,
//! version+1, value}` and no lease. Every other bucket, key, value and revision is copied
//! unchanged; `consistent_index` and `term` are left alone.

use std::collections::BTreeSet;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use bolt::{Db, Writer};
use sha2::{Digest, Sha256};

use crate::copy::{self, CopyProblem};
use crate::mvcc::Revision;
use crate::objects;

mod sealed;

#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("{0}")]
    Source(String),
    #[error("key {0} is not in the snapshot (or already deleted): nothing to delete")]
    NotFound(String),
    #[error("{}: {what}", path.display())]
    Io { path: PathBuf, what: String },
    #[error(transparent)]
    Write(#[from] bolt::WriteError),
}

impl From<CopyProblem> for EditError {
    fn from(p: CopyProblem) -> EditError {
        EditError::Source(p.to_string())
    }
}

/// One change to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Delete(Vec<u8>),
    Put { key: Vec<u8>, value: Vec<u8> },
}

impl Change {
    fn key(&self) -> &[u8] {
        match self {
            Change::Delete(k) | Change::Put { key: k, .. } => k,
        }
    }
}

/// One changed key and the state it had before (`mod_revision` 0: it did not exist).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Deleted {
    pub key: String,
    pub mod_revision: i64,
    pub create_revision: i64,
    pub version: i64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct EditOutcome {
    /// The revision the changes were written at.
    pub revision: i64,
    /// What each changed key held before, in the order of the changes.
    pub deleted: Vec<Deleted>,
    pub size: u64,
    /// Temporary files of earlier edits to the same `--out` whose process is gone, removed.
    pub removed_stale_parts: Vec<PathBuf>,
}

fn meta_revision(db: &Db, key: &[u8]) -> Result<i64, EditError> {
    let Some(meta) = db
        .bucket(b"meta")
        .map_err(|e| EditError::Source(e.to_string()))?
    else {
        return Err(EditError::Source(
            "no meta bucket: not an etcd backend".into(),
        ));
    };
    Ok(meta
        .get(db, key)
        .map_err(|e| EditError::Source(e.to_string()))?
        .and_then(|v| Revision::main_of(&v))
        .unwrap_or(0))
}

/// The tombstone value: `mvccpb.KeyValue{key}` (field 1).
fn tombstone_value(key: &[u8]) -> Vec<u8> {
    let mut out = vec![0x0a];
    let mut n = key.len() as u64;
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out.extend_from_slice(key);
    out
}

/// Writes `db` with `keys` deleted to `out` (bbolt only, no trailer).
fn key_value(key: &[u8], create: i64, modr: i64, version: i64, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + value.len() + 32);
    let varint = |out: &mut Vec<u8>, mut v: u64| {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    };
    out.push(0x0a);
    varint(&mut out, key.len() as u64);
    out.extend_from_slice(key);
    for (tag, v) in [(0x10u8, create), (0x18, modr), (0x20, version)] {
        out.push(tag);
        varint(&mut out, v as u64);
    }
    if !value.is_empty() {
        out.push(0x2a);
        varint(&mut out, value.len() as u64);
        out.extend_from_slice(value);
    }
    out
}

/// Writes `db` with `keys` deleted to `out` (bbolt only, no trailer).
pub fn delete_keys<W: Write + Seek>(
    db: &Db,
    out: W,
    keys: &[Vec<u8>],
) -> Result<(W, EditOutcome), EditError> {
    let changes: Vec<Change> = keys.iter().cloned().map(Change::Delete).collect();
    apply(db, out, &changes)
}

/// Writes `db` with `changes` applied to `out` (bbolt only, no trailer).
pub fn apply<W: Write + Seek>(
    db: &Db,
    out: W,
    changes: &[Change],
) -> Result<(W, EditOutcome), EditError> {
    let keys: BTreeSet<&[u8]> = changes.iter().map(Change::key).collect();
    if keys.len() != changes.len() {
        return Err(EditError::Source(
            "the same key is changed twice in one edit".into(),
        ));
    }
    // The state every key has now goes into the outcome (and the backup); a delete needs a
    // live key.
    let live = objects::latest_of(db, &keys).map_err(|e| EditError::Source(e.to_string()))?;
    let mut deleted = Vec::new();
    for change in changes {
        let key = change.key();
        let kv = live.get(key);
        if kv.is_none() && matches!(change, Change::Delete(_)) {
            return Err(EditError::NotFound(
                String::from_utf8_lossy(key).into_owned(),
            ));
        }
        deleted.push(Deleted {
            key: String::from_utf8_lossy(key).into_owned(),
            mod_revision: kv.map_or(0, |kv| kv.mod_revision),
            create_revision: kv.map_or(0, |kv| kv.create_revision),
            version: kv.map_or(0, |kv| kv.version),
        });
    }
    let compact =
        meta_revision(db, b"scheduledCompactRev")?.max(meta_revision(db, b"finishedCompactRev")?);

    let mut w = Writer::new(out, db.page_size() as usize)?;
    let finish_key_bucket = |w: &mut Writer<W>, last_main: i64| -> Result<i64, EditError> {
        let revision = last_main.max(compact) + 1;
        for (sub, (change, before)) in changes.iter().zip(&deleted).enumerate() {
            let (tombstone, value) = match change {
                Change::Delete(key) => (true, tombstone_value(key)),
                Change::Put { key, value } => {
                    let create = if before.create_revision > 0 {
                        before.create_revision
                    } else {
                        revision
                    };
                    (
                        false,
                        key_value(key, create, revision, before.version + 1, value),
                    )
                }
            };
            let rev = Revision {
                main: revision,
                sub: sub as i64,
                tombstone,
            };
            w.put(&rev.to_key(), &value)?;
        }
        Ok(revision)
    };
    let (tombstones_at, _) = copy::copy_appending_to_key(db, &mut w, finish_key_bucket)?;
    let txid = db.meta().txid.saturating_add(1);
    let (out, written) = w.finish(txid)?;
    Ok((
        out,
        EditOutcome {
            removed_stale_parts: Vec::new(),
            revision: tombstones_at,
            deleted,
            size: written.pages * u64::from(written.page_size),
        },
    ))
}

/// Writes a new snapshot file (bbolt + SHA-256 trailer) at `out` with `keys` deleted.
pub fn delete_to_snapshot(db: &Db, out: &Path, keys: &[Vec<u8>]) -> Result<EditOutcome, EditError> {
    let changes: Vec<Change> = keys.iter().cloned().map(Change::Delete).collect();
    apply_to_snapshot(db, out, &changes)
}

/// Writes a new snapshot file (bbolt + SHA-256 trailer) at `out` with `changes` applied. `out`
/// must not exist; it is written as `out.part`, fsynced, then renamed.
pub fn apply_to_snapshot(
    db: &Db,
    out: &Path,
    changes: &[Change],
) -> Result<EditOutcome, EditError> {
    let io = |what: String| EditError::Io {
        path: out.to_path_buf(),
        what,
    };
    if out.exists() {
        return Err(io(
            "exists; choose another --out (nothing is overwritten)".into()
        ));
    }
    let stale = crate::part::remove_stale(out).map_err(|e| io(e.to_string()))?;
    let (part, file) = crate::part::create(out).map_err(|e| io(e.to_string()))?;
    let result = (|| {
        let (mut file, mut outcome) = apply(db, file, changes)?;
        outcome.removed_stale_parts = stale;
        // The trailer: SHA-256 of the bbolt bytes, as `etcdctl snapshot save` appends it.
        file.seek(SeekFrom::Start(0))
            .map_err(|e| io(e.to_string()))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut left = outcome.size;
        while left > 0 {
            let want = buf.len().min(left as usize);
            let n = file.read(&mut buf[..want]).map_err(|e| io(e.to_string()))?;
            if n == 0 {
                return Err(io("short read while hashing".into()));
            }
            hasher.update(&buf[..n]);
            left -= n as u64;
        }
        file.seek(SeekFrom::Start(outcome.size))
            .map_err(|e| io(e.to_string()))?;
        file.write_all(&hasher.finalize())
            .map_err(|e| io(e.to_string()))?;
        file.set_len(outcome.size + 32)
            .map_err(|e| io(e.to_string()))?;
        file.sync_all().map_err(|e| io(e.to_string()))?;
        Ok(outcome)
    })();
    install(result, &part, out)
}

/// Renames a finished part onto `out` (never over an existing file), or removes a failed one.
fn install(
    result: Result<EditOutcome, EditError>,
    part: &Path,
    out: &Path,
) -> Result<EditOutcome, EditError> {
    let io = |what: String| EditError::Io {
        path: out.to_path_buf(),
        what,
    };
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(e) => {
            // A half-written edit is of no use and holds a copy of the data: remove it.
            let _ = std::fs::remove_file(part);
            return Err(e);
        }
    };
    // A hard link fails if `out` appeared meanwhile, where a rename would replace it; on a
    // filesystem without links, a rename after one more look.
    match std::fs::hard_link(part, out) {
        Ok(()) => {
            let _ = std::fs::remove_file(part);
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists || out.exists() => {
            let _ = std::fs::remove_file(part);
            return Err(io(format!(
                "appeared while it was written; nothing is overwritten: {e}"
            )));
        }
        Err(_) => {
            std::fs::rename(part, out)
                .map_err(|e| io(format!("rename from {}: {e}", part.display())))?;
        }
    }
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(outcome)
}

/// [`apply_to_snapshot`], the new file age-encrypted to `recipients` as it is written (see
/// [`sealed`]). The caller includes a key of its own among them to verify the result.
pub fn apply_to_encrypted_snapshot(
    db: &Db,
    out: &Path,
    changes: &[Change],
    recipients: &[age::x25519::Recipient],
) -> Result<EditOutcome, EditError> {
    let io = |what: String| EditError::Io {
        path: out.to_path_buf(),
        what,
    };
    if out.exists() {
        return Err(io(
            "exists; choose another --out (nothing is overwritten)".into()
        ));
    }
    let metas = 2 * db.page_size() as usize;
    // First pass: nowhere, for the meta pages the edit ends with.
    let probe =
        sealed::Forward::new(vec![0u8; metas], std::io::sink()).map_err(|e| io(e.to_string()))?;
    let (probe, _) = apply(db, probe, changes)?;
    let (head, _, _) = probe.finish().map_err(|e| io(e.to_string()))?;

    let stale = crate::part::remove_stale(out).map_err(|e| io(e.to_string()))?;
    let (part, file) = crate::part::create(out).map_err(|e| io(e.to_string()))?;
    let result = (|| {
        let enc =
            age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
                .map_err(|e| io(format!("cannot encrypt: {e}")))?;
        let stream = enc
            .wrap_output(std::io::BufWriter::with_capacity(1 << 20, file))
            .map_err(|e| io(e.to_string()))?;
        let fwd = sealed::Forward::new(head.clone(), stream).map_err(|e| io(e.to_string()))?;
        let (fwd, mut outcome) = apply(db, fwd, changes)?;
        outcome.removed_stale_parts = stale;
        let (ended_with, sha, mut stream) = fwd.finish().map_err(|e| io(e.to_string()))?;
        if ended_with != head {
            return Err(io(
                "the edit wrote different meta pages on its second pass; nothing was kept".into(),
            ));
        }
        // The trailer, as `etcdctl snapshot save` appends it, inside the encryption.
        stream.write_all(&sha).map_err(|e| io(e.to_string()))?;
        let file = stream
            .finish()
            .and_then(|w| w.into_inner().map_err(|e| e.into_error()))
            .map_err(|e| io(e.to_string()))?;
        file.sync_all().map_err(|e| io(e.to_string()))?;
        Ok(outcome)
    })();
    install(result, &part, out)
}
