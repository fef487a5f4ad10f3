//! Where each namespace's pods sit in [`Inventory::pods`](super::Inventory), when each
//! namespace's pods are one run (as etcd's key order gives them, `/registry/pods/NS/NAME`): the
//! pods of one namespace are then found without visiting the 10^5 others, each of which costs
//! a cache miss or two.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use super::Pod;

/// Namespace → the range of its pods, valid for a pod list of length `of`.
#[derive(Debug, Clone, Default)]
pub(crate) struct PodRuns {
    of: usize,
    runs: HashMap<String, Run>,
}

/// A run and the pods at its ends (compared by pointer): a list changed since the runs were
/// found (the fields are public; tests edit inventories) shows at the ends, and the run is
/// not used.
#[derive(Debug, Clone)]
struct Run {
    range: Range<usize>,
    first: Arc<Pod>,
    last: Arc<Pod>,
}

impl PodRuns {
    /// The runs of `pods`, of which those of `pods[..settled]` are `known` (kept by whoever
    /// assembled them): only the pods after are visited. `None` when a namespace's pods are
    /// not one run.
    pub(crate) fn of(
        pods: &[Arc<Pod>],
        settled: usize,
        known: HashMap<String, Range<usize>>,
    ) -> Option<PodRuns> {
        let mut runs = known;
        let mut start = settled;
        let tail = pods.get(settled..).unwrap_or_default();
        for run in tail.chunk_by(|a, b| a.namespace == b.namespace) {
            let Some(first) = run.first() else { continue };
            let end = start + run.len();
            match runs.get_mut(&first.namespace) {
                // The run just before, of the same namespace (the tail continues it).
                Some(r) if r.end == start => r.end = end,
                Some(_) => return None,
                None => {
                    runs.insert(first.namespace.clone(), start..end);
                }
            }
            start = end;
        }
        let mut found = HashMap::with_capacity(runs.len());
        for (ns, range) in runs {
            let at = |i: Option<usize>| i.and_then(|i| pods.get(i)).map(Arc::clone);
            let first = at(Some(range.start))?;
            let last = at(range.end.checked_sub(1))?;
            found.insert(ns, Run { range, first, last });
        }
        Some(PodRuns {
            of: pods.len(),
            runs: found,
        })
    }

    /// The range of `namespace`'s pods in `pods` (empty when it has none); `None` when these
    /// runs were found for another pod list.
    pub(crate) fn get(&self, pods: &[Arc<Pod>], namespace: &str) -> Option<Range<usize>> {
        if self.of != pods.len() {
            return None;
        }
        let Some(run) = self.runs.get(namespace) else {
            return Some(0..0);
        };
        let is = |i: Option<usize>, pod: &Arc<Pod>| {
            i.and_then(|i| pods.get(i))
                .is_some_and(|p| Arc::ptr_eq(p, pod))
        };
        let ends_hold =
            is(Some(run.range.start), &run.first) && is(run.range.end.checked_sub(1), &run.last);
        // A pod of the namespace just outside: the run grew since.
        let outside = |i: Option<usize>| {
            i.and_then(|i| pods.get(i))
                .is_some_and(|p| p.namespace == namespace)
        };
        let before = run.range.start.checked_sub(1);
        (ends_hold && !outside(before) && !outside(Some(run.range.end))).then(|| run.range.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pods(namespaces: &[&str]) -> Vec<Arc<Pod>> {
        namespaces
            .iter()
            .enumerate()
            .map(|(i, ns)| {
                Arc::new(Pod {
                    namespace: (*ns).to_owned(),
                    name: format!("p{i}"),
                    ..Pod::default()
                })
            })
            .collect()
    }

    #[test]
    fn runs_are_found_and_a_namespace_in_two_runs_has_none() {
        let list = pods(&["a", "a", "b", "c", "c"]);
        let runs = PodRuns::of(&list, 0, HashMap::new());
        let runs = runs.as_ref();
        assert_eq!(runs.and_then(|r| r.get(&list, "a")), Some(0..2));
        assert_eq!(runs.and_then(|r| r.get(&list, "c")), Some(3..5));
        assert_eq!(runs.and_then(|r| r.get(&list, "z")), Some(0..0));
        assert!(runs.and_then(|r| r.get(&list[..4], "a")).is_none());
        assert!(PodRuns::of(&pods(&["a", "b", "a"]), 0, HashMap::new()).is_none());
    }

    /// A list edited after its runs were found, to its old length: the runs whose ends moved
    /// are not used (a walk answers), those still in place are.
    #[test]
    fn runs_of_a_list_edited_since_are_not_used() {
        let mut list = pods(&["a", "a", "b", "b", "c"]);
        let runs = PodRuns::of(&list, 0, HashMap::new()).unwrap();
        list.remove(0);
        list.push(pods(&["a"]).remove(0));
        assert_eq!(runs.get(&list, "a"), None);
        assert_eq!(runs.get(&list, "b"), None);
        assert_eq!(runs.get(&list, "c"), None);
        let mut list = pods(&["a", "a", "a", "b"]);
        let runs = PodRuns::of(&list, 0, HashMap::new()).unwrap();
        list[1] = pods(&["a"]).remove(0);
        assert_eq!(runs.get(&list, "a"), Some(0..3));
        list[3] = pods(&["a"]).remove(0);
        assert_eq!(runs.get(&list, "a"), None, "a pod of a just after its run");
    }

    #[test]
    fn known_runs_are_extended_by_the_pods_after_them() {
        let list = pods(&["a", "a", "b", "b", "c"]);
        let known = HashMap::from([("a".to_owned(), 0..2), ("b".to_owned(), 2..3)]);
        let runs = PodRuns::of(&list, 3, known);
        let runs = runs.as_ref();
        assert_eq!(runs.and_then(|r| r.get(&list, "b")), Some(2..4));
        assert_eq!(runs.and_then(|r| r.get(&list, "c")), Some(4..5));
        let known = HashMap::from([("a".to_owned(), 0..2), ("b".to_owned(), 2..3)]);
        assert!(PodRuns::of(&pods(&["a", "a", "b", "a"]), 3, known).is_none());
    }
}
