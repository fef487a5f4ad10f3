//! One pass over a whole backend: the `etcdctl snapshot status` numbers, schema sanity of
//! the `key` bucket, and what is needed for the Kubernetes view.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use bolt::{Db, show_key};
use serde::Serialize;

use crate::k8s::{self, Encoding};
use crate::mvcc::{KeyValue, Revision};

/// `etcdctl snapshot status -w json` of etcd 3.4/3.5, field for field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Status {
    /// CRC-32C over bucket names and every k/v, in bbolt order.
    pub hash: u32,
    /// `main` of the last key of the `key` bucket.
    pub revision: i64,
    /// k/v pairs in all buckets.
    #[serde(rename = "totalKey")]
    pub total_key: u64,
    /// `pgid * pageSize`.
    #[serde(rename = "totalSize")]
    pub total_size: u64,
}

/// Latest state of one user key. The map holds one of these per distinct key, keyed by a
/// 64-bit hash of the key rather than the key itself, so memory stays near 32 bytes per key
/// however long the keys are; the key bytes are fetched back by revision when needed.
#[derive(Clone, Copy)]
struct Latest {
    main: i64,
    /// Index in the txn; a txn never has 2^32 ops, and a larger (crafted) value only makes
    /// the largest-objects lookup miss.
    sub: u32,
    size: u32,
    resource: u16,
    namespace: u16,
    provider: u16,
    encoding: u8,
    tombstone: bool,
}

/// The key is already a hash; hashing it again is wasted work.
#[derive(Default)]
pub(crate) struct PassThrough(u64);
impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// A fast 64-bit hash of a user key (8 bytes per step, then a full avalanche). SipHash
/// cost a third of the walk on small-object databases. The per-process seed keeps a crafted
/// file from aiming many keys at one bucket.
pub(crate) fn key_hash(seed: u64, k: &[u8]) -> u64 {
    const M: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = seed ^ (k.len() as u64).wrapping_mul(M);
    let mut chunks = k.chunks_exact(8);
    for c in &mut chunks {
        let mut a = [0u8; 8];
        a.copy_from_slice(c);
        h = (h ^ u64::from_le_bytes(a)).wrapping_mul(M).rotate_left(29);
    }
    let mut tail = [0u8; 8];
    tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    h = (h ^ u64::from_le_bytes(tail)).wrapping_mul(M);
    // splitmix64 finaliser
    h ^= h >> 30;
    h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94D0_49BB_1331_11EB);
    h ^ (h >> 31)
}

pub(crate) fn process_seed() -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(0x6c69_6665_626f_6174u64)
}

#[derive(Default)]
struct Interner {
    ids: HashMap<String, u16>,
    names: Vec<String>,
    last: u16,
}

impl Interner {
    /// Id 0 is reserved for "none"; past u16::MAX names everything maps to the last slot.
    fn id(&mut self, s: &str) -> u16 {
        if self.names.is_empty() {
            self.names.push(String::new());
        }
        // Consecutive revisions mostly touch the same resource and namespace.
        if self
            .names
            .get(usize::from(self.last))
            .is_some_and(|n| n == s)
            && self.last != 0
        {
            return self.last;
        }
        if let Some(&i) = self.ids.get(s) {
            self.last = i;
            return i;
        }
        if self.names.len() >= usize::from(u16::MAX) {
            return u16::MAX - 1;
        }
        let i = self.names.len() as u16;
        self.names.push(s.to_string());
        self.ids.insert(s.to_string(), i);
        self.last = i;
        i
    }
    fn name(&self, i: u16) -> &str {
        self.names.get(usize::from(i)).map_or("", String::as_str)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct BucketCount {
    pub name: String,
    pub keys: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ResourceStats {
    pub resource: String,
    pub objects: u64,
    pub bytes: u64,
    /// Objects whose value is encrypted at rest (`k8s:enc:` prefix).
    pub encrypted: u64,
    /// Encryption providers seen, e.g. `aescbc:v1:key1`.
    pub providers: Vec<String>,
    /// Objects per value encoding (protobuf, json, encrypted, cbor, other).
    pub encodings: std::collections::BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NamespaceStats {
    pub namespace: String,
    pub objects: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct LargeObject {
    pub key: String,
    pub resource: Option<String>,
    pub bytes: u64,
    pub mod_revision: i64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct KubeView {
    /// Live keys under `/registry/`.
    pub objects: u64,
    pub bytes: u64,
    pub resources: Vec<ResourceStats>,
    pub namespaces: Vec<NamespaceStats>,
    pub largest: Vec<LargeObject>,
    /// Resources with at least one encrypted object.
    pub encrypted_resources: Vec<String>,
    /// Live keys outside `/registry/`.
    pub other_keys: u64,
}

/// A bbolt warning for reports: its stable kind and the full sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub kind: String,
    pub detail: String,
}

impl From<&bolt::Warning> for Finding {
    fn from(w: &bolt::Warning) -> Finding {
        Finding {
            kind: w.kind().to_string(),
            detail: w.to_string(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    pub status: Status,
    /// Distinct live keys (etcd 3.6's `totalKey`).
    pub live_keys: u64,
    /// Entries in the `key` bucket (every revision kept).
    pub revisions: u64,
    pub tombstones: u64,
    pub buckets: Vec<BucketCount>,
    pub kube: KubeView,
    /// Structural problems (bbolt check), naming page, bucket and offset: unsound data.
    pub structure_problems: Vec<String>,
    /// Findings that leave the data readable (freelist, meta twins, pages past the mark);
    /// each says what starting etcd on the file would do.
    pub structure_warnings: Vec<Finding>,
    /// `key` bucket entries that are not well-formed etcd data.
    pub schema_problems: Vec<String>,
    pub schema_problem_count: u64,
}

const MAX_LISTED: usize = 20;
const LARGEST: usize = 10;

struct Walker {
    /// Build the per-key index (live keys, Kubernetes view), not only check.
    full: bool,
    crc: u32,
    total_key: u64,
    revision: i64,
    buckets: Vec<BucketCount>,
    in_key: bool,
    revisions: u64,
    tombstones: u64,
    latest: HashMap<u64, Latest, BuildHasherDefault<PassThrough>>,
    seed: u64,
    resources: Interner,
    namespaces: Interner,
    providers: Interner,
    problems: Vec<String>,
    problem_count: u64,
}

impl Walker {
    fn problem(&mut self, what: String) {
        self.problem_count += 1;
        if self.problems.len() < MAX_LISTED {
            self.problems.push(what);
        }
    }

    fn top(&mut self, name: &[u8], is_bucket: bool) {
        self.crc = crc32c::crc32c_append(self.crc, name);
        if !is_bucket {
            self.problem(format!("top-level key {} is not a bucket", show_key(name)));
        }
        self.in_key = name == b"key";
        self.buckets.push(BucketCount {
            name: String::from_utf8_lossy(name).into_owned(),
            keys: 0,
        });
    }

    fn entry(&mut self, k: &[u8], v: &[u8], is_bucket: bool) {
        // Bucket.ForEach gives nested buckets a nil value: only the key is hashed.
        self.crc = crc32c::crc32c_append(self.crc, k);
        if !is_bucket {
            self.crc = crc32c::crc32c_append(self.crc, v);
        }
        self.total_key += 1;
        if let Some(b) = self.buckets.last_mut() {
            b.keys += 1;
        }
        if self.in_key {
            if let Some(main) = Revision::main_of(k) {
                self.revision = main;
            }
            self.key_entry(k, v);
        }
    }

    fn key_entry(&mut self, k: &[u8], v: &[u8]) {
        self.revisions += 1;
        let rev = match Revision::parse(k) {
            Ok(r) => r,
            Err(e) => return self.problem(format!("key/{}: {e}", show_key(k))),
        };
        let kv = match KeyValue::decode(v) {
            Ok(kv) => kv,
            Err(e) => {
                return self.problem(format!(
                    "key/{}: value is not an mvccpb.KeyValue: {e}",
                    show_key(k)
                ));
            }
        };
        if rev.tombstone {
            self.tombstones += 1;
        } else if kv.mod_revision != rev.main && !v.is_empty() {
            self.problem(format!(
                "key/{}: mod_revision {} differs from the key's revision",
                show_key(k),
                kv.mod_revision
            ));
        }
        if !self.full {
            return;
        }
        let mut l = Latest {
            main: rev.main,
            sub: u32::try_from(rev.sub).unwrap_or(u32::MAX),
            size: u32::try_from(kv.value.len()).unwrap_or(u32::MAX),
            resource: 0,
            namespace: 0,
            provider: 0,
            encoding: 0,
            tombstone: rev.tombstone,
        };
        if !rev.tombstone
            && let Some(p) = k8s::parse_key(kv.key)
        {
            l.resource = self.resources.id(p.resource);
            if let Some(ns) = p.namespace {
                l.namespace = self.namespaces.id(ns);
            }
            let enc = Encoding::of(kv.value);
            l.encoding = Encoding::ALL.iter().position(|&e| e == enc).unwrap_or(4) as u8;
            if let Some(prov) = k8s::encryption_provider(kv.value) {
                l.provider = self.providers.id(&prov);
            }
        }
        // The bucket is in revision order, so the last write of a key is its latest state.
        self.latest.insert(key_hash(self.seed, kv.key), l);
    }
}

/// Walk the whole db once. Structural problems stop nothing here: they are returned, and
/// callers decide (inspect refuses, verify reports).
pub fn analyze(db: &Db) -> Analysis {
    run(db, true)
}

/// The same pass without the per-key index: status numbers and the schema and structure
/// checks only (`live_keys` and the Kubernetes view stay empty). What `verify` needs.
pub fn check(db: &Db) -> Analysis {
    run(db, false)
}

fn run(db: &Db, full: bool) -> Analysis {
    let w = Walker {
        full,
        crc: 0,
        total_key: 0,
        revision: 0,
        buckets: Vec::new(),
        in_key: false,
        revisions: 0,
        tombstones: 0,
        latest: HashMap::default(),
        seed: process_seed(),
        resources: Interner::default(),
        namespaces: Interner::default(),
        providers: Interner::default(),
        problems: Vec::new(),
        problem_count: 0,
    };
    let (report, w) = pipeline::walk(db, w);
    let structure_problems = report.problems.iter().map(ToString::to_string).collect();
    let structure_warnings = report.warnings.iter().map(Finding::from).collect();
    let kube = kube_view(db, &w);
    let live_keys = w.latest.values().filter(|l| !l.tombstone).count() as u64;
    Analysis {
        status: Status {
            hash: w.crc,
            revision: w.revision,
            total_key: w.total_key,
            total_size: db.size(),
        },
        live_keys,
        revisions: w.revisions,
        tombstones: w.tombstones,
        buckets: w.buckets,
        kube,
        structure_problems,
        structure_warnings,
        schema_problems: w.problems,
        schema_problem_count: w.problem_count,
    }
}

/// The walk on this thread, the etcd side of each entry on a second one.
///
/// Reading the pages (a copy out of the page cache per byte) and checking the tree is about
/// half the work; the CRC-32C of every key and value and the per-revision decoding is the
/// other half. The walk copies the entries it sees into batches that the other thread
/// consumes in order, so both halves run at once and every result is what one thread
/// computes. At most [`pipeline::IN_FLIGHT`] batches wait, so memory stays a few MiB
/// whatever the file.
mod pipeline {
    use std::ops::ControlFlow;
    use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

    use bolt::Db;

    use super::Walker;

    /// Bytes of entries per batch.
    const BATCH: usize = 1 << 20;
    /// Batches sent and not yet consumed.
    pub(super) const IN_FLIGHT: usize = 4;
    /// Per entry: depth (0: a top-level name, 1: an entry in one), is-bucket, key and value
    /// lengths.
    const HEADER: usize = 2 + 8 + 8;

    pub(super) fn walk(db: &Db, mut w: Walker) -> (bolt::Report, Walker) {
        std::thread::scope(|s| {
            let (tx, rx) = sync_channel::<Vec<u8>>(IN_FLIGHT);
            let (back_tx, back_rx) = sync_channel::<Vec<u8>>(IN_FLIGHT);
            let worker = s.spawn(move || {
                consume(&mut w, &rx, &back_tx);
                w
            });
            let report = produce(db, &tx, &back_rx);
            drop(tx);
            match worker.join() {
                Ok(w) => (report, w),
                // The analysis panicked: what one thread would have done.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    }

    fn produce(db: &Db, tx: &SyncSender<Vec<u8>>, back: &Receiver<Vec<u8>>) -> bolt::Report {
        let mut batch = Vec::with_capacity(BATCH);
        let report = db.walk(super::MAX_LISTED, &mut |e| {
            // Nested buckets below a top-level one are not etcd data: skipped, as before.
            let depth = e.path.len();
            if depth > 1 {
                return ControlFlow::Continue(());
            }
            batch.push(depth as u8);
            batch.push(u8::from(e.is_bucket));
            batch.extend_from_slice(&(e.key.len() as u64).to_le_bytes());
            batch.extend_from_slice(&(e.value.len() as u64).to_le_bytes());
            batch.extend_from_slice(e.key);
            batch.extend_from_slice(e.value);
            if batch.len() >= BATCH {
                let next = back
                    .try_recv()
                    .unwrap_or_else(|_| Vec::with_capacity(BATCH));
                if tx.send(std::mem::replace(&mut batch, next)).is_err() {
                    // The other thread is gone (it panicked): the join says so.
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        });
        if !batch.is_empty() {
            // An error here is the other thread gone, which its join reports.
            let _ = tx.send(batch);
        }
        report
    }

    fn consume(w: &mut Walker, rx: &Receiver<Vec<u8>>, back: &SyncSender<Vec<u8>>) {
        for mut batch in rx {
            apply(w, &batch);
            batch.clear();
            // Full: the walk has enough spare batches; this one is dropped.
            let _ = back.try_send(batch);
        }
    }

    fn apply(w: &mut Walker, mut b: &[u8]) {
        while let Some((head, rest)) = b.split_at_checked(HEADER) {
            let len = |at: usize| {
                let mut n = [0u8; 8];
                n.copy_from_slice(&head[at..at + 8]);
                usize::try_from(u64::from_le_bytes(n)).unwrap_or(usize::MAX)
            };
            let (klen, vlen) = (len(2), len(10));
            let Some((key, rest)) = rest.split_at_checked(klen) else {
                return;
            };
            let Some((value, rest)) = rest.split_at_checked(vlen) else {
                return;
            };
            let is_bucket = head[1] != 0;
            if head[0] == 0 {
                w.top(key, is_bucket);
            } else {
                w.entry(key, value, is_bucket);
            }
            b = rest;
        }
    }
}

fn kube_view(db: &Db, w: &Walker) -> KubeView {
    let mut view = KubeView::default();
    let mut res: HashMap<u16, ResourceStats> = HashMap::new();
    let mut ns: HashMap<u16, (u64, u64)> = HashMap::new();
    let mut top: Vec<Latest> = Vec::new();
    for l in w.latest.values().filter(|l| !l.tombstone) {
        if l.resource == 0 {
            view.other_keys += 1;
        } else {
            view.objects += 1;
            view.bytes += u64::from(l.size);
            let r = res.entry(l.resource).or_insert_with(|| ResourceStats {
                resource: w.resources.name(l.resource).to_string(),
                ..ResourceStats::default()
            });
            r.objects += 1;
            r.bytes += u64::from(l.size);
            let enc = Encoding::ALL
                .get(usize::from(l.encoding))
                .copied()
                .unwrap_or(Encoding::Other);
            *r.encodings.entry(enc.as_str().to_string()).or_default() += 1;
            if l.provider != 0 {
                r.encrypted += 1;
                let p = w.providers.name(l.provider).to_string();
                if !r.providers.contains(&p) {
                    r.providers.push(p);
                }
            }
            if l.namespace != 0 {
                let e = ns.entry(l.namespace).or_default();
                e.0 += 1;
                e.1 += u64::from(l.size);
            }
        }
        top.push(*l);
        if top.len() > 4 * LARGEST {
            // Ties broken by revision, in the cut too: the objects come in hash-map order, so a
            // size-only cut could keep different objects of equal size from run to run.
            top.sort_by(largest_first);
            top.truncate(LARGEST);
        }
    }
    top.sort_by(largest_first);
    top.truncate(LARGEST);
    view.largest = largest(db, w, &top);
    let mut resources: Vec<ResourceStats> = res.into_values().collect();
    resources.sort_by(|a, b| {
        b.bytes
            .cmp(&a.bytes)
            .then_with(|| a.resource.cmp(&b.resource))
    });
    for r in &mut resources {
        r.providers.sort();
    }
    view.encrypted_resources = resources
        .iter()
        .filter(|r| r.encrypted > 0)
        .map(|r| r.resource.clone())
        .collect();
    view.encrypted_resources.sort();
    view.resources = resources;
    let mut namespaces: Vec<NamespaceStats> = ns
        .into_iter()
        .map(|(i, (objects, bytes))| NamespaceStats {
            namespace: w.namespaces.name(i).to_string(),
            objects,
            bytes,
        })
        .collect();
    namespaces.sort_by(|a, b| a.namespace.cmp(&b.namespace));
    view.namespaces = namespaces;
    view
}

/// Larger first; equal sizes by revision (main, then sub), oldest first.
fn largest_first(a: &Latest, b: &Latest) -> std::cmp::Ordering {
    b.size
        .cmp(&a.size)
        .then(a.main.cmp(&b.main))
        .then(a.sub.cmp(&b.sub))
}

/// Fetch the key names of the largest objects back by revision (a few point lookups).
fn largest(db: &Db, w: &Walker, top: &[Latest]) -> Vec<LargeObject> {
    let Ok(Some(bucket)) = db.bucket(b"key") else {
        return Vec::new();
    };
    top.iter()
        .filter_map(|l| {
            let rev = Revision {
                main: l.main,
                sub: i64::from(l.sub),
                tombstone: false,
            };
            let v = bucket.get(db, &rev.to_key()).ok().flatten()?;
            let kv = KeyValue::decode(&v).ok()?;
            Some(LargeObject {
                key: String::from_utf8_lossy(kv.key).into_owned(),
                resource: (l.resource != 0).then(|| w.resources.name(l.resource).to_string()),
                bytes: u64::from(l.size),
                mod_revision: l.main,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_sizes_are_cut_by_revision_whatever_order_they_come_in() {
        let obj = |main: i64| Latest {
            main,
            sub: 0,
            size: 100,
            resource: 0,
            namespace: 0,
            provider: 0,
            encoding: 0,
            tombstone: false,
        };
        let mut forward: Vec<Latest> = (1..=50).map(obj).collect();
        let mut backward: Vec<Latest> = (1..=50).rev().map(obj).collect();
        for v in [&mut forward, &mut backward] {
            v.sort_by(largest_first);
            v.truncate(10);
        }
        let mains = |v: &[Latest]| v.iter().map(|l| l.main).collect::<Vec<_>>();
        assert_eq!(mains(&forward), (1..=10).collect::<Vec<_>>());
        assert_eq!(mains(&forward), mains(&backward));
    }

    #[test]
    fn key_hash_spreads_similar_keys() {
        let seed = process_seed();
        let mut seen = std::collections::HashSet::new();
        for i in 0..100_000 {
            let k = format!("/registry/pods/ns-{}/pod-{i:08}", i % 7);
            assert!(
                seen.insert(key_hash(seed, k.as_bytes())),
                "collision at {i}"
            );
        }
        assert_ne!(key_hash(seed, b"a"), key_hash(seed, b"a\0"));
        assert_ne!(key_hash(seed, b""), key_hash(seed, b"\0"));
    }

    #[test]
    fn interner_reuses_ids_and_reserves_zero() {
        let mut i = Interner::default();
        let a = i.id("pods");
        let b = i.id("secrets");
        assert_eq!((a, b), (1, 2));
        assert_eq!(i.id("pods"), 1);
        assert_eq!(i.id("pods"), 1);
        assert_eq!(i.name(2), "secrets");
        assert_eq!(i.name(0), "");
    }
}

#[cfg(test)]
mod size {
    #[test]
    fn index_entry_stays_small() {
        // Memory per distinct key is this plus the 8-byte hash and a control byte.
        assert_eq!(std::mem::size_of::<super::Latest>(), 24);
    }
}
