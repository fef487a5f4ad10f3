//! A snapshot proven sound while it streams in (`snapshot save`): the SHA-256, the bbolt
//! structure and the manifest's numbers, computed from the bytes as they arrive, so the
//! file is not read back afterwards. The numbers are those [`crate::report::inspect`]
//! reports for the same file; the tests hold the two to that.
//!
//! Leaf pages are digested in file order, before it is known which ones the tree reaches:
//! per page, the CRC-32C of its entries (combined in key order at the end, which is how
//! etcd's hash runs), its entry count, the revision of its last key and, for entries that
//! are well-formed revisions, the hash of the user key and whether it is a tombstone.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use bolt::stream::{LeafDigest, LeafEntry, PageStream, Segment};
use sha2::{Digest, Sha256};

use crate::analyze::{PassThrough, key_hash, process_seed};
use crate::error::{Error, Result};
use crate::mvcc::{KeyValue, Revision};
use crate::schema::EtcdMeta;
use crate::snapshot::{SnapshotFile, TRAILER, has_trailer};

/// What one page (or a run of its entries) adds to the totals.
#[derive(Debug, Default)]
struct Part {
    /// CRC-32C of keys and plain values: an entry inside a top-level bucket.
    crc_kv: u32,
    len_kv: u64,
    /// CRC-32C of the keys alone: the root bucket's entries, hashed as names.
    crc_k: u32,
    len_k: u64,
    entries: u64,
    /// `main` of the last key at least 8 bytes long (the latest revision, in `key`).
    last_main: Option<i64>,
    /// Where its well-formed revisions are in [`EtcdDigest::keys`].
    keys: (u32, u32),
}

impl Part {
    fn add(&mut self, d: &mut EtcdDigest, e: &LeafEntry<'_>) {
        self.crc_kv = crc32c::crc32c_append(self.crc_kv, e.key);
        self.len_kv += e.key.len() as u64;
        self.crc_k = crc32c::crc32c_append(self.crc_k, e.key);
        self.len_k += e.key.len() as u64;
        // Bucket.ForEach gives nested buckets a nil value: only the key is hashed.
        if !e.is_bucket {
            self.crc_kv = crc32c::crc32c_append(self.crc_kv, e.value);
            self.len_kv += e.value.len() as u64;
        }
        self.entries += 1;
        if let Some(m) = Revision::main_of(e.key) {
            self.last_main = Some(m);
        }
        // What analyze does with an entry of `key` (computed for every leaf: which
        // bucket a page belongs to is known only at the end).
        if let (Ok(rev), Ok(kv)) = (Revision::parse(e.key), KeyValue::decode(e.value)) {
            let Ok(at) = u32::try_from(d.keys.len()) else {
                d.overflowed = true;
                return;
            };
            if self.keys.1 == 0 {
                self.keys.0 = at;
            }
            d.keys.push((key_hash(d.seed, kv.key), rev.tombstone));
            self.keys.1 += 1;
        }
    }
}

/// Per leaf page. A page holding nested buckets (the root bucket's) is visited in pieces,
/// so its entries are also kept one by one, names included.
#[derive(Debug, Default)]
pub struct PageSum {
    all: Part,
    each: Vec<(Vec<u8>, Part)>,
}

/// The etcd side of the page scan.
pub struct EtcdDigest {
    seed: u64,
    /// (user key hash, tombstone) of every well-formed revision seen, pages in file order
    /// and entries in key order: one vector rather than one per page.
    keys: Vec<(u64, bool)>,
    /// More revisions than ranges of u32 can index (not a file a save will meet): the
    /// full check decides.
    overflowed: bool,
}

impl LeafDigest for EtcdDigest {
    type Summary = PageSum;
    fn leaf(&mut self, entries: &[LeafEntry<'_>]) -> PageSum {
        let mut sum = PageSum::default();
        let split = entries.iter().any(|e| e.is_bucket);
        for e in entries {
            sum.all.add(self, e);
            if split {
                let mut one = Part::default();
                one.add(self, e);
                sum.each.push((e.key.to_vec(), one));
            }
        }
        sum
    }
}

/// The manifest's numbers, as `snapshot inspect` reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proven {
    pub sha256: String,
    pub revision: i64,
    pub hash: u32,
    pub total_key: u64,
    pub total_size: u64,
    pub live_keys: u64,
}

/// SHA-256 of all but the last 32 bytes fed, which are kept: a snapshot's image and its
/// trailer, before it is known where the stream ends.
struct TrailedSha {
    sha: Sha256,
    held: Vec<u8>,
    len: u64,
}

impl Default for TrailedSha {
    fn default() -> Self {
        TrailedSha {
            sha: Sha256::new(),
            held: Vec::with_capacity(2 * TRAILER as usize),
            len: 0,
        }
    }
}

impl TrailedSha {
    fn update(&mut self, chunk: &[u8]) {
        self.len += chunk.len() as u64;
        let keep = TRAILER as usize;
        if chunk.len() >= keep {
            self.sha.update(&self.held);
            let (body, tail) = chunk.split_at(chunk.len() - keep);
            self.sha.update(body);
            self.held.clear();
            self.held.extend_from_slice(tail);
        } else {
            self.held.extend_from_slice(chunk);
            let over = self.held.len().saturating_sub(keep);
            self.sha.update(&self.held[..over]);
            self.held.drain(..over);
        }
    }

    /// (bytes fed, SHA-256 of all but the last 32, those last 32 or fewer).
    fn finish(self) -> (u64, [u8; 32], Vec<u8>) {
        (self.len, self.sha.finalize().into(), self.held)
    }
}

/// Feed it the snapshot stream; [`StreamProof::finish`] once the file is written.
pub struct StreamProof {
    sha: TrailedSha,
    pages: PageStream<EtcdDigest>,
}

impl Default for StreamProof {
    fn default() -> Self {
        StreamProof::new()
    }
}

/// The running totals of a walk, fed segment by segment.
struct Totals {
    crc: u32,
    total_key: u64,
    revision: i64,
    in_key: bool,
    latest: HashMap<u64, bool, BuildHasherDefault<PassThrough>>,
}

impl Totals {
    fn segment(&mut self, keys: &[(u64, bool)], s: Segment<'_, PageSum>) {
        let whole = s.entries.start == 0 && s.entries.end == s.page_entries;
        match s.depth {
            // Top-level bucket names: hashed as names, and they say which bucket follows.
            0 => {
                for (name, _) in s.summary.each.get(s.entries.clone()).unwrap_or_default() {
                    self.crc = crc32c::crc32c_append(self.crc, name);
                    self.in_key = name == b"key";
                }
                // A root page without buckets (not etcd): names only, no bucket follows.
                if s.summary.each.is_empty() {
                    let p = &s.summary.all;
                    if p.len_k > 0 {
                        self.crc = crate::crc::combine(self.crc, p.crc_k, p.len_k);
                    }
                    self.in_key = false;
                }
            }
            1 if whole => self.part(keys, &s.summary.all),
            1 => {
                for (_, p) in s.summary.each.get(s.entries.clone()).unwrap_or_default() {
                    self.part(keys, p);
                }
            }
            _ => {}
        }
    }

    fn part(&mut self, keys: &[(u64, bool)], p: &Part) {
        if p.len_kv > 0 {
            self.crc = crate::crc::combine(self.crc, p.crc_kv, p.len_kv);
        }
        self.total_key += p.entries;
        if self.in_key {
            if let Some(m) = p.last_main {
                self.revision = m;
            }
            // Key order is revision order: the last write of a key is its latest state.
            let (at, n) = (p.keys.0 as usize, p.keys.1 as usize);
            for &(h, tomb) in keys.get(at..at + n).unwrap_or_default() {
                self.latest.insert(h, tomb);
            }
        }
    }
}

impl StreamProof {
    pub fn new() -> StreamProof {
        StreamProof {
            sha: TrailedSha::default(),
            pages: PageStream::new(EtcdDigest {
                seed: process_seed(),
                keys: Vec::new(),
                overflowed: false,
            }),
        }
    }

    /// The next bytes of the snapshot, in order.
    pub fn update(&mut self, chunk: &[u8]) {
        self.pages.feed(chunk);
        self.sha.update(chunk);
    }

    /// Bytes fed so far.
    pub fn received(&self) -> u64 {
        self.pages.received()
    }

    /// Prove `snap` (the file the stream was written to, opened after the last write) is
    /// what was streamed and is sound. Reads only its meta pages and small buckets, or,
    /// for an age file, decrypts it once to prove it holds exactly the bytes checked.
    pub fn finish(self, snap: &SnapshotFile) -> Result<Proven> {
        self.finish_with(snap, None)
    }

    /// [`StreamProof::finish`] for an age file whose ciphertext the caller decrypted as it
    /// was written and found equal, byte for byte, to the bytes streamed here: `decrypted`
    /// is how many, and stands in for decrypting the file again.
    pub fn finish_with(self, snap: &SnapshotFile, decrypted: Option<u64>) -> Result<Proven> {
        let fail = |what: String| Error::Schema {
            path: snap.path.clone(),
            what,
        };
        let len = self.pages.received();
        let (_, sha, held) = self.sha.finish();
        if snap.file_len != len {
            return Err(fail(format!(
                "the file holds {} bytes, {len} were streamed",
                snap.file_len
            )));
        }
        if !has_trailer(len) || held.len() != TRAILER as usize {
            return Err(fail("no SHA-256 trailer after the stream".into()));
        }
        if sha[..] != held[..] {
            return Err(fail(format!(
                "SHA-256 trailer says {}, content is {}",
                hex::encode(&held),
                hex::encode(sha)
            )));
        }
        if snap.age.is_some() {
            let same = match decrypted {
                Some(n) => n == len,
                None => snap.sha256()? == sha,
            };
            if !same {
                return Err(fail(
                    "the encrypted file does not decrypt to the bytes streamed".into(),
                ));
            }
        }
        let db = snap.db()?;
        // The trailer checked out, but only an image ending at its high-water mark is a
        // snapshot: etcd streams nothing between its last page and the trailer.
        if let Some(problem) = snap.length_problem(&db) {
            return Err(fail(problem));
        }
        let mut t = Totals {
            crc: 0,
            total_key: 0,
            revision: 0,
            in_key: false,
            latest: HashMap::default(),
        };
        if self.pages.digest().overflowed {
            return Err(fail("too many revisions to index while streaming".into()));
        }
        let keys = &self.pages.digest().keys;
        self.pages
            .finish(&db, &mut |s| t.segment(keys, s))
            .map_err(|e| fail(e.to_string()))?;
        EtcdMeta::read(&db).map_err(|error| Error::Bolt {
            path: snap.path.clone(),
            error,
        })?;
        Ok(Proven {
            sha256: hex::encode(sha),
            revision: t.revision,
            hash: t.crc,
            total_key: t.total_key,
            total_size: db.size(),
            live_keys: t.latest.values().filter(|tomb| !**tomb).count() as u64,
        })
    }
}
