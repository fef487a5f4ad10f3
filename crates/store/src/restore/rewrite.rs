//! The restored backend in one streaming pass: every bucket of the source copied into a fresh
//! bbolt file by the compact writer, with the etcd-side changes of a restore merged in on the
//! way (etcd 3.5+ semantics, docs/etcd-formats.md §5.2/5.4):
//! - `members` holds exactly the new members and `members_removed` is empty (3.4's restore
//!   left the old members behind; we do not);
//! - `meta`: `consistent_index` = n, and `term` = 1 for etcd 3.5+ (3.4's restore writes none);
//!   `confState` is kept as the source has it, as every etcdutl keeps it: no etcd reads it
//!   back (3.5+ only write it when applying a conf change), so the old voters stay until the
//!   restored cluster's first membership change (docs/etcd-formats.md §5.5);
//! - optional revision bump: an empty value at `(base + N)_0` in `key` and
//!   `meta/scheduledCompactRev` = that revision, so etcd compacts everything older on start.

use std::collections::BTreeMap;
use std::io::{Seek, Write};
use std::ops::ControlFlow;

use bolt::{Db, Writer, Written};

use super::RestoreError;
use super::cluster::NewCluster;
use super::version::EtcdVersion;
use crate::mvcc::{KeyValue, Revision};

/// What to do about the revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bump {
    /// 1,000,000,000 with mark-compacted when the snapshot holds `/registry/` keys, else none.
    Auto,
    Off,
    /// This amount, marked compacted.
    By(u64),
}

pub const KUBERNETES_BUMP: u64 = 1_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Bumped {
    pub amount: u64,
    /// The store's revision after the bump; everything older is compacted on first start.
    pub revision: i64,
    pub automatic: bool,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct DbOutcome {
    /// The source's current revision (max of the last `key` entry and the compaction marks).
    pub revision: i64,
    pub bump: Option<Bumped>,
    pub kubernetes: bool,
    pub consistent_index: u64,
    pub size: u64,
    pub page_size: u32,
    /// Old member IDs dropped from `members` / `members_removed`.
    pub trimmed_members: usize,
    /// Alarms kept from the source (etcd keeps them too); a NOSPACE alarm makes the restored
    /// cluster refuse writes until it is disarmed.
    pub alarms: usize,
}

/// Facts read with point lookups before the walk.
struct Before {
    compact: i64,
}

fn revision_in_meta(db: &Db, meta: &bolt::BucketRef, key: &[u8]) -> Result<i64, bolt::Error> {
    Ok(meta
        .get(db, key)?
        .and_then(|v| Revision::main_of(&v))
        .unwrap_or(0))
}

fn before(db: &Db) -> Result<Before, RestoreError> {
    let bolt_err = |e| RestoreError::Source(format!("{e}"));
    for name in crate::schema::REQUIRED {
        if db.bucket(name.as_bytes()).map_err(bolt_err)?.is_none() {
            return Err(RestoreError::Source(format!(
                "bucket {name:?} is missing: not an etcd backend"
            )));
        }
    }
    let meta = db
        .bucket(b"meta")
        .map_err(bolt_err)?
        .ok_or_else(|| RestoreError::Source("no meta bucket".into()))?;
    let compact = revision_in_meta(db, &meta, b"scheduledCompactRev")
        .map_err(bolt_err)?
        .max(revision_in_meta(db, &meta, b"finishedCompactRev").map_err(bolt_err)?);
    Ok(Before { compact })
}

/// The changes for one top-level bucket: drop the source's entries or not, and values to set
/// (merged in key order).
#[derive(Default)]
struct Patch {
    drop_source: bool,
    set: BTreeMap<Vec<u8>, Vec<u8>>,
}

struct State<W: Write + Seek> {
    w: Writer<W>,
    patches: BTreeMap<Vec<u8>, Patch>,
    /// The top-level bucket being copied, and its patch.
    current: Option<(Vec<u8>, Patch)>,
    bump: Bump,
    before: Before,
    last_main: i64,
    kubernetes: bool,
    bumped: Option<Bumped>,
    trimmed: usize,
    alarms: usize,
}

impl<W: Write + Seek> State<W> {
    /// Emits patched values ordered before `key` (all of them when `key` is None).
    fn drain_before(&mut self, key: Option<&[u8]>) -> Result<(), RestoreError> {
        let Some((_, patch)) = self.current.as_mut() else {
            return Ok(());
        };
        while let Some(entry) = patch.set.first_entry() {
            if key.is_some_and(|k| entry.key().as_slice() >= k) {
                break;
            }
            let (k, v) = entry.remove_entry();
            self.w.put(&k, &v)?;
        }
        Ok(())
    }

    /// New top-level buckets the source lacks, ordered before `name`.
    fn missing_before(&mut self, name: Option<&[u8]>) -> Result<(), RestoreError> {
        while let Some(entry) = self.patches.first_entry() {
            if name.is_some_and(|n| entry.key().as_slice() >= n) {
                break;
            }
            let (n, p) = entry.remove_entry();
            self.w.begin_bucket(&n, 0)?;
            self.current = Some((n, p));
            self.end_top()?;
        }
        Ok(())
    }

    fn begin_top(&mut self, name: &[u8], sequence: u64) -> Result<(), RestoreError> {
        self.missing_before(Some(name))?;
        let mut patch = self.patches.remove(name).unwrap_or_default();
        if name == b"meta"
            && let Some(b) = self.bumped
        {
            let rev = Revision {
                main: b.revision,
                sub: 0,
                tombstone: false,
            };
            patch
                .set
                .insert(b"scheduledCompactRev".to_vec(), rev.to_key());
        }
        self.w.begin_bucket(name, sequence)?;
        self.current = Some((name.to_vec(), patch));
        Ok(())
    }

    fn end_top(&mut self) -> Result<(), RestoreError> {
        if self.current.as_ref().is_some_and(|(n, _)| n == b"key") {
            self.finish_key_bucket()?;
        }
        self.drain_before(None)?;
        self.current = None;
        self.w.end_bucket()?;
        Ok(())
    }

    /// Decides the bump now that the whole history has been seen, and writes its key last.
    fn finish_key_bucket(&mut self) -> Result<(), RestoreError> {
        let (amount, automatic) = match self.bump {
            Bump::Off => return Ok(()),
            Bump::Auto if !self.kubernetes => return Ok(()),
            Bump::Auto => (KUBERNETES_BUMP, true),
            Bump::By(0) => return Ok(()),
            Bump::By(n) => (n, false),
        };
        // Bump from the store's real current revision: after a compaction that removed the
        // newest keys it is the compaction mark, not the last key (etcd's `restore` rule).
        let base = self.last_main.max(self.before.compact);
        let revision = i64::try_from(amount)
            .ok()
            .and_then(|a| base.checked_add(a))
            .ok_or_else(|| RestoreError::Flags(format!("--bump-revision {amount} overflows")))?;
        let key = Revision {
            main: revision,
            sub: 0,
            tombstone: false,
        }
        .to_key();
        self.w.put(&key, &[])?;
        self.bumped = Some(Bumped {
            amount,
            revision,
            automatic,
        });
        Ok(())
    }

    fn visit(&mut self, e: &bolt::Entry<'_>) -> Result<(), RestoreError> {
        let depth = e.path.len();
        while self.w.depth() > depth {
            if self.w.depth() == 1 {
                self.end_top()?;
            } else {
                self.w.end_bucket()?;
            }
        }
        if depth == 0 {
            if e.is_bucket {
                return self.begin_top(e.key, sequence(e.value));
            }
            self.missing_before(Some(e.key))?;
            self.w.put(e.key, e.value)?;
            return Ok(());
        }
        if depth == 1 {
            self.drain_before(Some(e.key))?;
            let mut in_key_bucket = false;
            if let Some((name, patch)) = self.current.as_mut() {
                if name == b"alarm" {
                    self.alarms += 1;
                }
                if let Some(v) = patch.set.remove(e.key) {
                    self.w.put(e.key, &v)?;
                    return Ok(());
                }
                if patch.drop_source {
                    if !e.is_bucket {
                        self.trimmed += 1;
                    }
                    return Ok(());
                }
                in_key_bucket = name == b"key";
            }
            if in_key_bucket {
                if let Some(m) = Revision::main_of(e.key) {
                    self.last_main = self.last_main.max(m);
                }
                if !self.kubernetes
                    && let Ok(kv) = KeyValue::decode(e.value)
                {
                    self.kubernetes = kv.key.starts_with(crate::k8s::REGISTRY.as_bytes());
                }
            }
        }
        if e.is_bucket {
            self.w.begin_bucket(e.key, sequence(e.value))?;
        } else {
            self.w.put(e.key, e.value)?;
        }
        Ok(())
    }
}

/// The `sequence` of a bucket header (bytes 8..16 of a bucket value).
fn sequence(bucket_value: &[u8]) -> u64 {
    bucket_value.get(8..16).map_or(0, |s| {
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        u64::from_le_bytes(a)
    })
}

fn be(v: u64) -> Vec<u8> {
    v.to_be_bytes().to_vec()
}

/// Copies `db` into `out` with the restore changes for `cluster`. The source is walked with
/// bbolt's structural checks; the first problem aborts with nothing usable written.
pub fn rewrite<W: Write + Seek>(
    db: &Db,
    out: W,
    cluster: &NewCluster,
    bump: Bump,
    target: EtcdVersion,
) -> Result<(W, DbOutcome), RestoreError> {
    let before = before(db)?;
    let n = cluster.members.len() as u64;
    let mut patches: BTreeMap<Vec<u8>, Patch> = BTreeMap::new();
    let members = Patch {
        drop_source: true,
        set: cluster
            .members
            .iter()
            .map(|m| (format!("{:x}", m.id).into_bytes(), m.json().into_bytes()))
            .collect(),
    };
    patches.insert(b"members".to_vec(), members);
    patches.insert(
        b"members_removed".to_vec(),
        Patch {
            drop_source: true,
            set: BTreeMap::new(),
        },
    );
    let mut meta = Patch::default();
    meta.set.insert(b"consistent_index".to_vec(), be(n));
    if target.writes_term() {
        meta.set.insert(b"term".to_vec(), be(1));
    }
    patches.insert(b"meta".to_vec(), meta);

    let page_size = db.page_size() as usize;
    let mut st = State {
        w: Writer::new(out, page_size).map_err(RestoreError::Write)?,
        patches,
        current: None,
        bump,
        before,
        last_main: 0,
        kubernetes: false,
        bumped: None,
        trimmed: 0,
        alarms: 0,
    };
    let mut failed = None;
    let report = db.walk(1, &mut |e| match st.visit(e) {
        Ok(()) => ControlFlow::Continue(()),
        Err(err) => {
            failed = Some(err);
            ControlFlow::Break(())
        }
    });
    if let Some(err) = failed {
        return Err(err);
    }
    if let Some(p) = report.problems.into_iter().next() {
        return Err(RestoreError::Source(format!("bbolt structure: {p}")));
    }
    while st.w.depth() > 0 {
        if st.w.depth() == 1 {
            st.end_top()?;
        } else {
            st.w.end_bucket()?;
        }
    }
    st.missing_before(None)?;
    let txid = db.meta().txid.saturating_add(1);
    let (
        out,
        Written {
            pages, page_size, ..
        },
    ) = st.w.finish(txid)?;
    let revision = st.last_main.max(st.before.compact);
    Ok((
        out,
        DbOutcome {
            revision,
            bump: st.bumped,
            kubernetes: st.kubernetes,
            consistent_index: n,
            size: pages * u64::from(page_size),
            page_size,
            trimmed_members: st.trimmed,
            alarms: st.alarms,
        },
    ))
}
