//! The pod index (namespace and name → position in `Inventory::pods`) and how the pods of
//! an inventory differ from those of the one before a watch update. Rebuilding a hash map over
//! 10^5 scattered pods costs more than judging a pod change; pods in etcd key order need no
//! such map, and their index follows an update by looking at the changed pods only.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::hash::Hasher;
use std::ops::Range;
use std::sync::{Arc, OnceLock};

use crate::fnv::{BuildFnv, Fnv};
use crate::inventory::Pod;

/// How a list of pods became another: `new` is `old` with each span's `old` range replaced by
/// its `new` range; the pods between spans are the same objects (pointer-equal), in order.
#[derive(Debug, Clone, Default)]
pub struct PodEdits {
    spans: Vec<Span>,
    old_len: usize,
    new_len: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Span {
    old: Range<usize>,
    new: Range<usize>,
}

/// How far a diff looks ahead for the next shared pod after a difference.
const LOOKAHEAD: usize = 8;

impl PodEdits {
    /// The edits from `old` to `new`, found by comparing pointers only (no pod is read);
    /// `None` when more than `max_changed` pods differ or no alignment is found nearby (then
    /// the caller starts afresh).
    pub fn between(old: &[Arc<Pod>], new: &[Arc<Pod>], max_changed: usize) -> Option<PodEdits> {
        let (mut i, mut j, mut changed) = (0, 0, 0);
        let mut spans = Vec::new();
        loop {
            while i < old.len() && j < new.len() && Arc::ptr_eq(&old[i], &new[j]) {
                i += 1;
                j += 1;
            }
            if i == old.len() || j == new.len() {
                changed += (old.len() - i) + (new.len() - j);
                if i < old.len() || j < new.len() {
                    spans.push(Span {
                        old: i..old.len(),
                        new: j..new.len(),
                    });
                }
                break;
            }
            let (a, b) = resync(old, new, i, j, max_changed - changed)?;
            changed += a + b;
            spans.push(Span {
                old: i..i + a,
                new: j..j + b,
            });
            i += a;
            j += b;
            if changed > max_changed {
                return None;
            }
        }
        (changed <= max_changed).then_some(PodEdits {
            spans,
            old_len: old.len(),
            new_len: new.len(),
        })
    }

    /// No pod changed: the lists hold the same objects in the same order.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    pub fn old_len(&self) -> usize {
        self.old_len
    }

    pub fn new_len(&self) -> usize {
        self.new_len
    }

    /// Where the pod at `old` position `i` sits in the new list; `None` if it was removed or
    /// replaced.
    pub fn remap(&self, i: usize) -> Option<usize> {
        if i >= self.old_len {
            return None;
        }
        // Spans at or before `i`: the last of them decides.
        let after = self.spans.partition_point(|s| s.old.start <= i);
        let Some(last) = after.checked_sub(1).and_then(|k| self.spans.get(k)) else {
            return Some(i);
        };
        if i < last.old.end {
            return None;
        }
        Some(i - last.old.end + last.new.end)
    }

    /// The pods removed or replaced (their old versions) and added (their new versions).
    pub fn changed<'p>(
        &'p self,
        old: &'p [Arc<Pod>],
        new: &'p [Arc<Pod>],
    ) -> impl Iterator<Item = &'p Pod> + 'p {
        self.spans.iter().flat_map(move |s| {
            let gone = old.get(s.old.clone()).unwrap_or_default();
            let came = new.get(s.new.clone()).unwrap_or_default();
            gone.iter().chain(came).map(|p| &**p)
        })
    }

    /// Positions in the new list of the pods added (new versions).
    fn added(&self) -> impl Iterator<Item = usize> + '_ {
        self.spans.iter().flat_map(|s| s.new.clone())
    }
}

/// The smallest skip (`a` old pods, `b` new pods, both at most [`LOOKAHEAD`]) after which the
/// lists share a pod again; else a longer run of pods only removed or only added (a namespace
/// deleted, a workload scaled), up to `budget` pods; else the rest of both lists if that is
/// within reach.
fn resync(
    old: &[Arc<Pod>],
    new: &[Arc<Pod>],
    i: usize,
    j: usize,
    budget: usize,
) -> Option<(usize, usize)> {
    let shared = |a: usize, b: usize| match (old.get(i + a), new.get(j + b)) {
        (Some(x), Some(y)) => Arc::ptr_eq(x, y),
        _ => false,
    };
    for total in 1..=2 * LOOKAHEAD {
        for a in total.saturating_sub(LOOKAHEAD)..=total.min(LOOKAHEAD) {
            if shared(a, total - a) {
                return Some((a, total - a));
            }
        }
    }
    for k in LOOKAHEAD + 1..=budget {
        if shared(k, 0) {
            return Some((k, 0));
        }
        if shared(0, k) {
            return Some((0, k));
        }
    }
    let rest = (old.len() - i, new.len() - j);
    (rest.0 <= LOOKAHEAD && rest.1 <= LOOKAHEAD).then_some(rest)
}

/// Namespace and name → position in `Inventory::pods`.
#[derive(Debug)]
pub(crate) enum PodIndex {
    /// Pods in etcd key order (`NS/NAME` ascending, no namespace holding `/`): each
    /// namespace's pods are one run, names strictly ascending in it; a name is found by binary
    /// search in its namespace's run.
    KeyOrder(HashMap<String, Range<usize>>, Lookup),
    /// Any other order (files): of two pods with one name, the later.
    Hashed(HashMap<String, HashMap<String, usize>>),
}

/// Namespace and name → position by hash, for the many lookups of reviews: a binary search in
/// a namespace's run reads a pod and its name at each step, two cache misses each at 150,000
/// scattered pods (15 % of a review's time at that scale). Built by [`PodIndex::prepare`] for
/// the pods the index was built for, on a thread of its own after a watch update (building it
/// costs about 50 ms at 150,000 pods): until it is there, lookups search the runs, never wait.
/// A hit is checked against the pod it names; a miss is an answer only when every pod has a
/// hash of its own.
#[derive(Debug, Default)]
pub(crate) struct Lookup(OnceLock<HashMap<u64, usize, BuildFnv>>);

impl Lookup {
    /// `Some(answer)` when the lookup decides; `None`: ask the runs.
    fn find(&self, pods: &[Arc<Pod>], namespace: &str, name: &str) -> Option<Option<usize>> {
        let map = self.0.get()?;
        match map.get(&name_hash(namespace, name)) {
            Some(&i) => {
                let pod = pods.get(i)?;
                (pod.namespace == namespace && pod.name == name).then_some(Some(i))
            }
            None if map.len() == pods.len() => Some(None),
            None => None,
        }
    }
}

fn lookup_of(pods: &[Arc<Pod>]) -> HashMap<u64, usize, BuildFnv> {
    let mut map = HashMap::with_capacity_and_hasher(pods.len(), BuildFnv::default());
    for (i, p) in pods.iter().enumerate() {
        map.insert(name_hash(&p.namespace, &p.name), i);
    }
    map
}

fn name_hash(namespace: &str, name: &str) -> u64 {
    let mut h = Fnv::default();
    h.write(namespace.as_bytes());
    // Not in any name: `a` + `bc` and `ab` + `c` hash apart.
    h.write(&[0xff]);
    h.write(name.as_bytes());
    h.finish()
}

/// Where a namespace's pods are, as far as the index knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamespacePods {
    /// All of them, in this range of positions.
    Run(Range<usize>),
    /// None.
    Absent,
    /// The index does not keep runs (pods not in key order).
    Unknown,
}

impl PodIndex {
    pub(crate) fn new(pods: &[Arc<Pod>]) -> PodIndex {
        match key_order_runs(pods) {
            Some(runs) => PodIndex::KeyOrder(runs, Lookup::default()),
            None => PodIndex::Hashed(hashed(pods)),
        }
    }

    pub(crate) fn find(&self, pods: &[Arc<Pod>], namespace: &str, name: &str) -> Option<usize> {
        match self {
            PodIndex::KeyOrder(runs, lookup) => {
                if let Some(found) = lookup.find(pods, namespace, name) {
                    return found;
                }
                let run = runs.get(namespace)?;
                let found = pods
                    .get(run.clone())?
                    .binary_search_by(|p| p.name.as_str().cmp(name))
                    .ok()?;
                Some(run.start + found)
            }
            PodIndex::Hashed(map) => map.get(namespace)?.get(name).copied(),
        }
    }

    /// Builds the lookup reviews use, for `pods` (those this index was built for).
    /// Whether [`PodIndex::prepare`] has work: a key-order index whose lookup is not built
    /// (an index shared after a node or policy change has it already).
    pub(crate) fn lookup_missing(&self) -> bool {
        matches!(self, PodIndex::KeyOrder(_, lookup) if lookup.0.get().is_none())
    }

    pub(crate) fn prepare(&self, pods: &[Arc<Pod>]) {
        if let PodIndex::KeyOrder(_, lookup) = self {
            lookup.0.get_or_init(|| lookup_of(pods));
        }
    }

    pub(crate) fn namespace(&self, namespace: &str) -> NamespacePods {
        match self {
            PodIndex::KeyOrder(runs, _) => runs
                .get(namespace)
                .map_or(NamespacePods::Absent, |r| NamespacePods::Run(r.clone())),
            PodIndex::Hashed(_) => NamespacePods::Unknown,
        }
    }

    /// The index of `new`, the pods this index was built from changed by `edits`: a key-order
    /// index looks only at the pods around the edits; any other is built again.
    pub(crate) fn after(&self, edits: &PodEdits, new: &[Arc<Pod>]) -> PodIndex {
        let PodIndex::KeyOrder(runs, _) = self else {
            return PodIndex::new(new);
        };
        if edits.new_len != new.len() {
            return PodIndex::new(new);
        }
        match key_order_after(runs, edits, new) {
            Some(runs) => PodIndex::KeyOrder(runs, Lookup::default()),
            None => PodIndex::new(new),
        }
    }
}

/// Whether `b` may follow `a` in etcd key order (`NS/NAME`, strictly ascending).
fn in_key_order(a: &Pod, b: &Pod) -> bool {
    if a.namespace == b.namespace {
        return a.name < b.name;
    }
    // Different namespaces without `/`: the order of `NS/` prefixes decides.
    !b.namespace.contains('/') && prefix(a).cmp(prefix(b)) == Ordering::Less
}

fn prefix(p: &Pod) -> impl Iterator<Item = u8> + '_ {
    p.namespace.bytes().chain(std::iter::once(b'/'))
}

/// The runs of pods in key order, or `None` if they are not.
fn key_order_runs(pods: &[Arc<Pod>]) -> Option<HashMap<String, Range<usize>>> {
    let mut runs = HashMap::new();
    let first = pods.first()?;
    if first.namespace.contains('/') {
        return None;
    }
    let mut start = 0;
    for (k, pair) in pods.windows(2).enumerate() {
        let (a, b) = (&pair[0], &pair[1]);
        if !in_key_order(a, b) {
            return None;
        }
        if a.namespace != b.namespace {
            runs.insert(a.namespace.clone(), start..k + 1);
            start = k + 1;
        }
    }
    runs.insert(pods[pods.len() - 1].namespace.clone(), start..pods.len());
    Some(runs)
}

fn hashed(pods: &[Arc<Pod>]) -> HashMap<String, HashMap<String, usize>> {
    let mut map: HashMap<String, HashMap<String, usize>> = HashMap::new();
    // Pods come in runs of one namespace: the namespace is hashed and cloned once per run,
    // not once per pod. A later pod of one name still wins.
    let mut first = 0;
    for run in pods.chunk_by(|a, b| a.namespace == b.namespace) {
        let Some(ns) = run.first().map(|p| &p.namespace) else {
            continue;
        };
        let names = match map.get_mut(ns) {
            Some(names) => names,
            None => map.entry(ns.clone()).or_default(),
        };
        names.reserve(run.len());
        for (i, p) in run.iter().enumerate() {
            names.insert(p.name.clone(), first + i);
        }
        first += run.len();
    }
    map
}

/// The runs of `new` from those of the old list, or `None` if `new` is not in key order.
/// Every adjacent pair of `new` not checked here is a pair of kept pods that were adjacent in
/// the old list (in key order there).
fn key_order_after(
    runs: &HashMap<String, Range<usize>>,
    edits: &PodEdits,
    new: &[Arc<Pod>],
) -> Option<HashMap<String, Range<usize>>> {
    if edits.is_empty() {
        return Some(runs.clone());
    }
    if new.is_empty() {
        return None;
    }
    for s in &edits.spans {
        for k in s.new.start.saturating_sub(1)..s.new.end {
            if let (Some(a), Some(b)) = (new.get(k), new.get(k + 1))
                && !in_key_order(a, b)
            {
                return None;
            }
        }
    }
    if new[0].namespace.contains('/') {
        return None;
    }
    let old_ns = |k: usize| runs.iter().find(|(_, r)| r.contains(&k)).map(|(ns, _)| ns);
    let mut touched: HashSet<&str> = HashSet::new();
    for s in &edits.spans {
        for k in s.old.clone() {
            touched.insert(old_ns(k)?.as_str());
        }
        for k in s.new.clone() {
            touched.insert(new.get(k)?.namespace.as_str());
        }
    }
    let mut out = HashMap::with_capacity(runs.len() + 1);
    for (ns, r) in runs {
        if touched.contains(ns.as_str()) {
            continue;
        }
        let start = edits.remap(r.start)?;
        let end = edits.remap(r.end.checked_sub(1)?)? + 1;
        out.insert(ns.clone(), start..end);
    }
    for ns in touched {
        if let Some(anchor) = anchor(ns, runs.get(ns), edits, new) {
            let start = new[..anchor].partition_point(|p| p.namespace != ns);
            let end = anchor + new[anchor..].partition_point(|p| p.namespace == ns);
            out.insert(ns.to_owned(), start..end);
        }
    }
    Some(out)
}

/// A position of a pod of `ns` in `new`, if it has any: an added pod, else a kept one.
fn anchor(
    ns: &str,
    old: Option<&Range<usize>>,
    edits: &PodEdits,
    new: &[Arc<Pod>],
) -> Option<usize> {
    if let Some(k) = edits
        .added()
        .find(|&k| new.get(k).is_some_and(|p| p.namespace == ns))
    {
        return Some(k);
    }
    old?.clone().find_map(|k| edits.remap(k))
}

#[cfg(test)]
mod tests;
