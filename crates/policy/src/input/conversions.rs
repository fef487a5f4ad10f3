//! [`Conversions`]: the conversions of a cluster's keys, kept so that its input after a change
//! is assembled without visiting every object again.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::Arc;

use super::keyed::{CiliumVersion, gives_inventory};
use super::{Converted, InputSpec};
use crate::error::{LoadError, ParseError};
use crate::findings::Finding;
use crate::inventory::read::{self, Object};
use crate::inventory::{Inventory, Pod};
use crate::model::PolicySet;

/// Conversions by key (an etcd key), in key order, kept so that the input after a change is
/// assembled without visiting every object again. Visiting 10^5 objects that sit wherever the
/// allocator put them costs a cache miss or two each: tens of milliseconds per watch update
/// at 150,000 pods, for a change of one pod.
///
/// So the keys that hold one pod (nearly all of them) are kept apart, with their pods in key
/// order, as the inventory lists them; the inventory objects of the other keys are kept
/// flattened while none of them changes. Assembling is then a copy of the pod pointers and of
/// the few thousand other objects. Whenever another key holds a pod too (a `List`), the pods'
/// order is the key order of both, and the input is assembled from every conversion as
/// [`super::load_from_converted`] does.
#[derive(Debug, Clone, Default)]
pub struct Conversions {
    pods: SinglePods,
    rest: BTreeMap<String, Converted>,
    /// How many conversions of `rest` hold a pod.
    rest_with_pods: usize,
    /// The inventory objects of `rest` in key order, while none of them changed.
    rest_objects: Option<Vec<(Object, Vec<ParseError>)>>,
}

/// The keys holding one pod, and their pods, both in key order.
#[derive(Debug, Clone, Default)]
struct SinglePods {
    keys: Vec<String>,
    pods: Vec<Arc<Pod>>,
    /// The Cilium agents among them: key → the version of their image.
    agents: BTreeMap<String, CiliumVersion>,
    /// How many of them are in each namespace, by `NAMESPACE/`: the order of their keys'
    /// `/registry/pods/NAMESPACE/` prefixes.
    namespaces: BTreeMap<String, usize>,
    /// How many of them are under a key other than `/registry/pods/NAMESPACE/...` of their
    /// namespace: while none is, each namespace's pods are one run, whose place the counts give.
    misplaced: usize,
}

impl SinglePods {
    fn put(&mut self, key: String, pod: Arc<Pod>, agent: Option<CiliumVersion>) {
        self.count(&key, &pod, true);
        match agent {
            Some(v) => self.agents.insert(key.clone(), v),
            None => self.agents.remove(&key),
        };
        match self.keys.binary_search(&key) {
            Ok(i) => {
                let old = std::mem::replace(&mut self.pods[i], pod);
                self.count(&key, &old, false);
            }
            Err(i) => {
                self.keys.insert(i, key);
                self.pods.insert(i, pod);
            }
        }
    }

    /// Takes `key` out; whether it was here.
    fn remove(&mut self, key: &str) -> bool {
        let Ok(i) = self.keys.binary_search_by(|k| k.as_str().cmp(key)) else {
            return false;
        };
        let taken = self.keys.remove(i);
        let pod = self.pods.remove(i);
        self.count(&taken, &pod, false);
        self.agents.remove(key);
        true
    }

    /// Counts `pod` (under `key`) in or out.
    fn count(&mut self, key: &str, pod: &Pod, added: bool) {
        let run = format!("{}/", pod.namespace);
        // A namespace with a `/` (no API server accepts one) could make keys of two
        // namespaces interleave.
        let placed = !pod.namespace.contains('/')
            && key
                .strip_prefix("/registry/pods/")
                .is_some_and(|rest| rest.starts_with(&run));
        if added {
            *self.namespaces.entry(run).or_default() += 1;
            self.misplaced += usize::from(!placed);
            return;
        }
        self.misplaced -= usize::from(!placed).min(self.misplaced);
        if let Some(n) = self.namespaces.get_mut(&run) {
            *n -= 1;
            if *n == 0 {
                self.namespaces.remove(&run);
            }
        }
    }

    /// Where each namespace's pods are, while each namespace's are one run.
    fn runs(&self) -> Option<HashMap<String, Range<usize>>> {
        if self.misplaced > 0 {
            return None;
        }
        let mut start = 0;
        let mut runs = HashMap::with_capacity(self.namespaces.len());
        for (run, n) in &self.namespaces {
            let ns = run.strip_suffix('/').unwrap_or(run);
            runs.insert(ns.to_owned(), start..start + n);
            start += n;
        }
        Some(runs)
    }

    fn known(&self) -> read::KnownPods<'_> {
        read::KnownPods {
            pods: self.pods.clone(),
            agent_version: self.agents.values().copied().max(),
            namespaces: self
                .namespaces
                .keys()
                .map(|r| r.strip_suffix('/').unwrap_or(r))
                .collect(),
            runs: self.runs(),
        }
    }

    /// The objects a conversion of each key gave, with their keys, in key order.
    fn objects(&self) -> impl Iterator<Item = (&str, (Object, Vec<ParseError>))> {
        self.keys.iter().zip(&self.pods).map(|(k, p)| {
            let object = match self.agents.get(k) {
                Some(v) => Object::CiliumAgent(Arc::clone(p), *v),
                None => Object::Pod(Arc::clone(p)),
            };
            (k.as_str(), (object, Vec::new()))
        })
    }
}

impl Conversions {
    /// `converted` is now what `key` holds. Whether the policy set may have changed (the
    /// object before or now gives it something).
    pub fn insert(&mut self, key: String, converted: Converted) -> bool {
        let gives_policies = converted.has_policies();
        if let Some((pod, agent)) = converted.single_pod() {
            let had_policies = self.take_rest(&key);
            self.pods.put(key, Arc::clone(pod), agent);
            return had_policies;
        }
        self.pods.remove(&key);
        self.note_rest(&converted, true);
        let had_policies = self.rest.insert(key, converted).is_some_and(|before| {
            self.note_rest(&before, false);
            before.has_policies()
        });
        had_policies || gives_policies
    }

    /// `key` holds nothing the model reads any more. Whether the policy set may have changed.
    pub fn remove(&mut self, key: &str) -> bool {
        if self.pods.remove(key) {
            return false;
        }
        self.take_rest(key)
    }

    /// Takes `key` out of the other keys; whether what it held gave the policy set anything.
    fn take_rest(&mut self, key: &str) -> bool {
        let Some(before) = self.rest.remove(key) else {
            return false;
        };
        self.note_rest(&before, false);
        before.has_policies()
    }

    fn note_rest(&mut self, c: &Converted, added: bool) {
        if c.holds_pods() {
            if added {
                self.rest_with_pods += 1;
            } else {
                self.rest_with_pods = self.rest_with_pods.saturating_sub(1);
            }
        }
        if c.gives_inventory() {
            self.rest_objects = None;
        }
    }

    /// Whether the keys holding one pod are all the pods there are, so the next inventory is
    /// assembled without visiting them (tests compare both ways).
    pub fn pods_apart(&self) -> bool {
        self.rest_with_pods == 0
    }

    /// Every key, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        merge(
            self.pods.keys.iter().map(|k| (k.as_str(), ())),
            self.rest.keys().map(|k| (k.as_str(), ())),
        )
        .map(|(k, _)| k)
    }

    /// The policy half of the input (as [`super::policies_from_converted`]): the keys holding
    /// a pod give it nothing.
    pub fn policies(&self, spec: &InputSpec) -> Result<(Arc<PolicySet>, Vec<Finding>), LoadError> {
        super::policies_from_converted(self.rest.values(), spec)
    }

    /// The inventory half of the input: what [`super::inventory_from_converted`] gives for
    /// every conversion in key order.
    pub fn inventory(&mut self, spec: &InputSpec) -> Result<Inventory, LoadError> {
        if self.rest_with_pods > 0 {
            let pods = self.pods.objects();
            let rest = self.rest.iter().map(|(k, c)| (k.as_str(), c));
            let objects = merge(pods, rest).flat_map(|(_, o)| match o {
                Left(o) => vec![o],
                Right(c) => c.objects.clone(),
            });
            let inv = read::assemble(objects).map_err(LoadError::Invalid)?;
            return super::finish_inventory(inv, spec);
        }
        let rest = &self.rest;
        let objects = self.rest_objects.get_or_insert_with(|| {
            let all = rest.values().flat_map(|c| c.objects.iter());
            all.filter(|o| gives_inventory(o)).cloned().collect()
        });
        let inv = read::assemble_with_known_pods(self.pods.known(), objects.iter().cloned())
            .map_err(LoadError::Invalid)?;
        super::finish_inventory(inv, spec)
    }
}

enum Either<A, B> {
    Left(A),
    Right(B),
}
use Either::{Left, Right};

/// Two sequences in ascending key order merged into one (no key is in both).
fn merge<'k, A, B>(
    a: impl Iterator<Item = (&'k str, A)>,
    b: impl Iterator<Item = (&'k str, B)>,
) -> impl Iterator<Item = (&'k str, Either<A, B>)>
where
    A: 'k,
    B: 'k,
{
    let (mut a, mut b) = (a.peekable(), b.peekable());
    std::iter::from_fn(move || match (a.peek(), b.peek()) {
        (Some((ka, _)), Some((kb, _))) if kb < ka => b.next().map(|(k, v)| (k, Right(v))),
        (Some(_), _) => a.next().map(|(k, v)| (k, Left(v))),
        (None, _) => b.next().map(|(k, v)| (k, Right(v))),
    })
}
