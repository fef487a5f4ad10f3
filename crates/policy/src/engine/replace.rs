//! An engine derived from another with one policy object replaced: only the new object is
//! compiled; the other entries and the inventory tables are shared, so that judging one
//! change against a large policy set costs what the change costs.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::Arc;

use super::pods::{PodEdits, PodIndex};
use super::{Engine, Entry, Tables, compile};
use crate::inventory::{Inventory, Pod};
use crate::model::{ObjectKey, PolicySet};

impl Entry {
    /// Whether this entry was compiled from the object `key` names.
    pub fn is_of(&self, key: &ObjectKey) -> bool {
        self.kind == key.kind && self.name == key.name && self.namespace == key.namespace
    }

    /// `compile` emits Cilium policies' entries before NetworkPolicies' ones.
    fn is_knp(&self) -> bool {
        self.kind == "NetworkPolicy"
    }
}

impl<'a> Engine<'a> {
    /// The engine of this engine's policy set with the object `key` removed and `new`
    /// appended, entries in the order [`Engine::new`] gives that set (the set's Cilium
    /// policies, then its NetworkPolicies, each in set order).
    pub fn with_replaced(&self, key: &ObjectKey, new: Option<&PolicySet>) -> Engine<'a> {
        let (added, added_refused) = compile_arc(new, self.inv);
        let kept = |e: &&Arc<Entry>| !e.is_of(key);
        let (added_knp, added_cilium): (Vec<_>, Vec<_>) =
            added.into_iter().partition(|e| e.is_knp());
        let mut entries = Vec::with_capacity(self.entries.len() + added_cilium.len());
        let cilium = self.entries.iter().filter(|e| !e.is_knp());
        entries.extend(cilium.filter(kept).cloned());
        entries.extend(added_cilium);
        let knp = self.entries.iter().filter(|e| e.is_knp());
        entries.extend(knp.filter(kept).cloned());
        entries.extend(added_knp);
        let mut refused: Vec<Arc<Entry>> = self.refused.iter().filter(kept).cloned().collect();
        refused.extend(added_refused);
        self.derive(entries, refused)
    }

    /// The engine of `new` over this engine's inventory tables, with the entries
    /// [`Engine::new`] would give it under the same Cilium settings, in its order: those of
    /// the objects of `old` (the set this engine was compiled from) that `new` holds unchanged
    /// are shared, the others compiled. Also the keys of the objects added, changed or removed.
    ///
    /// Keys are borrowed and hashed cheaply: a set of 10^4 policies is looked at whole on
    /// every watch update that changes one.
    pub fn with_policies(&self, old: &PolicySet, new: &PolicySet) -> (Engine<'a>, Vec<ObjectKey>) {
        let count = |set: &PolicySet| set.network_policies.len() + set.cilium.len();
        // `compile` emits each object's entries together: one run per key, else two objects
        // share the key.
        let Some(compiled) = runs_by_key(&self.entries, &self.refused, count(old)) else {
            return self.compiled_whole(old, new);
        };
        let mut before: HashMap<Key<'_>, Version<'_>, Fast> = map_with_capacity(count(old));
        before.extend(versions(old));
        let mut seen: HashSet<Key<'_>, Fast> =
            HashSet::with_capacity_and_hasher(count(new), Fast::default());
        let mut changed: Vec<ObjectKey> = Vec::new();
        let (mut cilium, mut knp, mut refused) = (Vec::new(), Vec::new(), Vec::new());
        for (key, version) in versions(new) {
            let (enforced, rejected) = match before.get(&key) {
                Some(b) if *b == version => {
                    let (e, r) = compiled.get(&key).cloned().unwrap_or_default();
                    (self.entries[e].to_vec(), self.refused[r].to_vec())
                }
                _ => {
                    changed.push(owned(key));
                    compile_arc(Some(&version.alone()), self.inv)
                }
            };
            match version {
                Version::Knp(_) => knp.extend(enforced),
                Version::Cilium(_) => cilium.extend(enforced),
            }
            refused.extend(rejected);
            seen.insert(key);
        }
        // Two objects with one key (never from etcd) would share one group of entries: such
        // a set is compiled whole.
        if before.len() != count(old) || seen.len() != count(new) {
            return self.compiled_whole(old, new);
        }
        changed.extend(before.into_keys().filter(|k| !seen.contains(k)).map(owned));
        cilium.append(&mut knp);
        (self.derive(cilium, refused), changed)
    }

    /// `new` compiled whole; every key of `old` and `new` counts as changed.
    fn compiled_whole(&self, old: &PolicySet, new: &PolicySet) -> (Engine<'a>, Vec<ObjectKey>) {
        let (entries, refused) = compile_arc(Some(new), self.inv);
        let mut all: Vec<ObjectKey> = versions(old)
            .chain(versions(new))
            .map(|(k, _)| owned(k))
            .collect();
        all.sort();
        all.dedup();
        (self.derive(entries, refused), all)
    }

    /// Entries (enforced, then refused) compiled from the object `key` names.
    pub fn entries_of(&self, key: &ObjectKey) -> Vec<Arc<Entry>> {
        let all = self.entries.iter().chain(&self.refused);
        all.filter(|e| e.is_of(key)).cloned().collect()
    }

    /// An engine over the same inventory tables with these entries.
    pub fn derive(&self, entries: Vec<Arc<Entry>>, refused: Vec<Arc<Entry>>) -> Engine<'a> {
        Engine::assemble(
            self.inv,
            entries,
            refused,
            Arc::clone(&self.tables),
            self.synthetic.clone(),
        )
    }

    /// Entries of `set` compiled under this engine's configuration: (enforced, refused).
    pub fn compile_other(&self, set: &PolicySet) -> (Vec<Arc<Entry>>, Vec<Arc<Entry>>) {
        compile_arc(Some(set), self.inv)
    }

    /// This engine without its borrow of the inventory, to keep beside it.
    pub fn detach(self) -> Detached {
        Detached {
            pods: self.inv.pods.len(),
            entries: self.entries,
            refused: self.refused,
            by_namespace: self.by_namespace,
            clusterwide: self.clusterwide,
            tables: self.tables,
            synthetic: self.synthetic,
        }
    }
}

/// One object of a policy set.
#[derive(Clone, Copy)]
enum Version<'s> {
    Knp(&'s crate::model::NetworkPolicy),
    Cilium(&'s crate::model::CiliumPolicy),
}

/// Equal versions: the same object (sets that share their policies compare by pointer, not
/// 10^4 deep comparisons), or equal ones.
impl PartialEq for Version<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Version::Knp(a), Version::Knp(b)) => std::ptr::eq(*a, *b) || a == b,
            (Version::Cilium(a), Version::Cilium(b)) => std::ptr::eq(*a, *b) || a == b,
            _ => false,
        }
    }
}

impl Version<'_> {
    /// A set holding this object alone.
    fn alone(&self) -> PolicySet {
        let mut set = PolicySet::default();
        match self {
            Version::Knp(p) => set.network_policies.push((*p).clone().into()),
            Version::Cilium(p) => set.cilium.push((*p).clone().into()),
        }
        set
    }
}

/// An object's key, borrowed: (kind, namespace, name).
type Key<'k> = (&'static str, Option<&'k str>, &'k str);

fn owned(k: Key<'_>) -> ObjectKey {
    ObjectKey {
        kind: k.0,
        namespace: k.1.map(str::to_owned),
        name: k.2.to_owned(),
    }
}

fn entry_key(e: &Entry) -> Key<'_> {
    (e.kind, e.namespace.as_deref(), e.name.as_str())
}

/// Every object of `set` by key, Cilium policies first (the order `compile` follows).
fn versions(set: &PolicySet) -> impl Iterator<Item = (Key<'_>, Version<'_>)> {
    let cilium = set.cilium.iter().map(|p| {
        let key = (p.kind(), p.namespace.as_deref(), p.name.as_str());
        (key, Version::Cilium(p))
    });
    cilium.chain(set.network_policies.iter().map(|p| {
        let key = ("NetworkPolicy", Some(p.namespace.as_str()), p.name.as_str());
        (key, Version::Knp(p))
    }))
}

/// Where an object's entries are: (enforced, refused).
type Runs = (Range<usize>, Range<usize>);

/// The positions of each object's entries (enforced, refused), or `None` if some key has two
/// runs of entries (two objects with one key).
fn runs_by_key<'e>(
    entries: &'e [Arc<Entry>],
    refused: &'e [Arc<Entry>],
    objects: usize,
) -> Option<HashMap<Key<'e>, Runs, Fast>> {
    let mut out: HashMap<Key<'e>, Runs, Fast> = map_with_capacity(objects);
    for (list, refused) in [(entries, false), (refused, true)] {
        let mut start = 0;
        for run in list.chunk_by(|a, b| entry_key(a) == entry_key(b)) {
            let range = start..start + run.len();
            start = range.end;
            let slot = out.entry(entry_key(&run[0])).or_default();
            let slot = if refused { &mut slot.1 } else { &mut slot.0 };
            if slot.start != slot.end {
                return None;
            }
            *slot = range;
        }
    }
    Some(out)
}

fn map_with_capacity<K, V>(n: usize) -> HashMap<K, V, Fast> {
    HashMap::with_capacity_and_hasher(n, Fast::default())
}

type Fast = crate::fnv::BuildFnv;

fn compile_arc(set: Option<&PolicySet>, inv: &Inventory) -> (Vec<Arc<Entry>>, Vec<Arc<Entry>>) {
    let Some(set) = set else {
        return (Vec::new(), Vec::new());
    };
    let (entries, refused) = compile::compile(set, &inv.cilium);
    (
        entries.into_iter().map(Arc::new).collect(),
        refused.into_iter().map(Arc::new).collect(),
    )
}

impl Detached {
    /// What builds the pod lookups of reviews (given the inventory this engine was built from),
    /// to run off the path of the watch update and of the reviews: until it has run, lookups
    /// search the pod index's runs.
    /// `None` when there is nothing to build (pods not in key order, or the lookup built
    /// already), so no thread is started for it.
    pub fn pod_lookups(&self) -> Option<impl FnOnce(&Inventory) + Send + 'static> {
        if !self.tables.pods.lookup_missing() {
            return None;
        }
        let (index, pods) = (Arc::clone(&self.tables.pods), self.pods);
        Some(move |inv: &Inventory| {
            if inv.pods.len() == pods {
                index.prepare(&inv.pods);
            }
        })
    }

    /// An engine over `inv` with the rules this one compiled: for an inventory that changed in
    /// its pods or nodes only, under the same policies and the same Cilium settings (compiling
    /// depends on nothing else), so the rules are the ones [`Engine::new`] would compile.
    /// `edits`: how the pods of `inv` differ from those of the inventory this engine was built
    /// from (`None`: not known; the pod index is built afresh). The API server's nodes are
    /// found when first needed, unless given ([`Engine::with_apiservers`]).
    pub fn with_inventory<'a>(&self, inv: &'a Inventory, edits: Option<&PodEdits>) -> Engine<'a> {
        let pods = match edits {
            Some(e) if e.old_len() == self.pods && e.new_len() == inv.pods.len() => {
                if e.is_empty() {
                    Arc::clone(&self.tables.pods)
                } else {
                    Arc::new(self.tables.pods.after(e, &inv.pods))
                }
            }
            _ => Arc::new(PodIndex::new(&inv.pods)),
        };
        let tables = Tables::with_index(pods);
        Engine {
            inv,
            entries: self.entries.clone(),
            refused: self.refused.clone(),
            by_namespace: Arc::clone(&self.by_namespace),
            clusterwide: self.clusterwide.clone(),
            tables: Arc::new(tables),
            synthetic: Vec::new(),
        }
    }
}

/// A compiled engine kept apart from the inventory it was built from (which its owner keeps
/// too), so that both can live in one struct. A clone shares the compiled rules.
#[derive(Clone)]
pub struct Detached {
    /// Pods in the inventory it was built from: the pod index points into that list.
    pods: usize,
    entries: Vec<Arc<Entry>>,
    refused: Vec<Arc<Entry>>,
    by_namespace: Arc<HashMap<String, Vec<usize>>>,
    clusterwide: Vec<usize>,
    tables: Arc<Tables>,
    synthetic: Vec<Pod>,
}

impl Detached {
    /// The engine again, over `inv`, which must be the inventory it was built from (its pod
    /// index holds positions in `inv.pods`); `None` if `inv` visibly is another one.
    pub fn attach<'a>(&self, inv: &'a Inventory) -> Option<Engine<'a>> {
        if inv.pods.len() != self.pods {
            return None;
        }
        Some(Engine {
            inv,
            entries: self.entries.clone(),
            refused: self.refused.clone(),
            by_namespace: Arc::clone(&self.by_namespace),
            clusterwide: self.clusterwide.clone(),
            tables: Arc::clone(&self.tables),
            synthetic: self.synthetic.clone(),
        })
    }
}

#[cfg(test)]
mod tests;
