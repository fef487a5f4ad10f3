#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

//! The pod index after edits against one built afresh, and the edits against the lists they
//! describe, over random sequences of pod changes in and out of key order.

use super::*;

use crate::testing::Lcg;

fn pod(namespace: &str, name: &str) -> Arc<Pod> {
    Arc::new(Pod {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        ..Default::default()
    })
}

/// Namespaces where etcd key order and (namespace, name) order differ (`a` < `a-b` as
/// names, `a-b/` < `a/` as keys).
const NAMESPACES: &[&str] = &["a", "a-b", "a.c", "b", "kube-system", "ns1", "ns10"];

fn key(p: &Pod) -> String {
    format!("{}/{}", p.namespace, p.name)
}

fn random_pod(rng: &mut Lcg) -> Arc<Pod> {
    let ns = NAMESPACES[rng.below(NAMESPACES.len())];
    pod(ns, &format!("p{}", rng.below(40)))
}

/// One watch-like change: mostly in key order (a put or delete of one key), sometimes not.
fn step(pods: &mut Vec<Arc<Pod>>, rng: &mut Lcg) {
    match rng.below(10) {
        0..=3 => {
            let p = random_pod(rng);
            let k = key(&p);
            match pods.binary_search_by(|q| key(q).cmp(&k)) {
                Ok(i) => pods[i] = p,
                Err(i) => pods.insert(i, p),
            }
        }
        4..=6 if !pods.is_empty() => {
            let i = rng.below(pods.len());
            pods.remove(i);
        }
        7 if !pods.is_empty() => {
            // The same pod rebuilt: a new object at the same place.
            let i = rng.below(pods.len());
            pods[i] = Arc::new((*pods[i]).clone());
        }
        8 => {
            // Out of key order, possibly a second pod of one name.
            let i = rng.below(pods.len() + 1);
            pods.insert(i, random_pod(rng));
        }
        _ => {
            // Back to key order, duplicates dropped (the later wins), as a fresh list.
            let mut sorted: Vec<Arc<Pod>> = Vec::new();
            for p in pods.iter() {
                match sorted.binary_search_by(|q| key(q).cmp(&key(p))) {
                    Ok(i) => sorted[i] = Arc::clone(p),
                    Err(i) => sorted.insert(i, Arc::clone(p)),
                }
            }
            *pods = sorted;
        }
    }
}

/// The position a lookup must give: the last pod of that namespace and name.
fn expected(pods: &[Arc<Pod>], ns: &str, name: &str) -> Option<usize> {
    pods.iter()
        .rposition(|p| p.namespace == ns && p.name == name)
}

/// The answers of the index, searched and then (once `prepare`d) by its lookup.
fn assert_same_answers(index: &PodIndex, pods: &[Arc<Pod>], what: &str) {
    assert_same_answers_now(index, pods, what);
    index.prepare(pods);
    assert_same_answers_now(index, pods, &format!("{what} (lookup)"));
}

fn assert_same_answers_now(index: &PodIndex, pods: &[Arc<Pod>], what: &str) {
    for ns in NAMESPACES.iter().chain(&["absent"]) {
        for n in 0..41 {
            let name = format!("p{n}");
            assert_eq!(
                index.find(pods, ns, &name),
                expected(pods, ns, &name),
                "{what}: {ns}/{name}"
            );
        }
        let positions: Vec<usize> = (0..pods.len())
            .filter(|&i| pods[i].namespace == *ns)
            .collect();
        match index.namespace(ns) {
            NamespacePods::Run(r) => assert_eq!(r.collect::<Vec<_>>(), positions, "{what}: {ns}"),
            NamespacePods::Absent => assert!(positions.is_empty(), "{what}: {ns}"),
            NamespacePods::Unknown => assert!(matches!(index, PodIndex::Hashed(_))),
        }
    }
}

/// Edits applied to `old` give `new`, and `remap` points at the same object.
fn assert_edits_describe(edits: &PodEdits, old: &[Arc<Pod>], new: &[Arc<Pod>]) {
    let mut rebuilt: Vec<Arc<Pod>> = Vec::new();
    let mut i = 0;
    for s in &edits.spans {
        rebuilt.extend(old[i..s.old.start].iter().cloned());
        rebuilt.extend(new[s.new.clone()].iter().cloned());
        i = s.old.end;
    }
    rebuilt.extend(old[i..].iter().cloned());
    assert_eq!(rebuilt.len(), new.len());
    assert!(rebuilt.iter().zip(new).all(|(a, b)| Arc::ptr_eq(a, b)));
    for (k, p) in old.iter().enumerate() {
        if let Some(j) = edits.remap(k) {
            assert!(Arc::ptr_eq(p, &new[j]), "remap({k}) = {j}");
        }
    }
}

#[test]
fn the_pod_index_after_edits_equals_one_built_afresh() {
    let (mut key_order_updates, mut hashed) = (0, 0);
    for seed in 0..40u64 {
        let mut rng = Lcg(seed);
        let mut pods: Vec<Arc<Pod>> = Vec::new();
        for _ in 0..30 {
            step(&mut pods, &mut rng);
        }
        let mut index = PodIndex::new(&pods);
        for _ in 0..60 {
            let old = pods.clone();
            step(&mut pods, &mut rng);
            let Some(edits) = PodEdits::between(&old, &pods, 64) else {
                index = PodIndex::new(&pods);
                continue;
            };
            assert_edits_describe(&edits, &old, &pods);
            if matches!(index, PodIndex::KeyOrder(..)) {
                key_order_updates += 1;
            }
            index = index.after(&edits, &pods);
            if matches!(index, PodIndex::Hashed(_)) {
                hashed += 1;
            }
            assert_same_answers(&index, &pods, &format!("seed {seed}"));
            let fresh = PodIndex::new(&pods);
            assert_eq!(
                matches!(fresh, PodIndex::KeyOrder(..)),
                matches!(index, PodIndex::KeyOrder(..)),
                "seed {seed}: both indexes see key order or neither"
            );
        }
    }
    // Both kinds of index must be exercised, or this proves little.
    assert!(
        key_order_updates > 500 && hashed > 100,
        "{key_order_updates} {hashed}"
    );
}

#[test]
fn edits_give_up_beyond_their_bound() {
    let old: Vec<Arc<Pod>> = (0..100).map(|i| pod("a", &format!("p{i:03}"))).collect();
    let new: Vec<Arc<Pod>> = old.iter().map(|p| Arc::new((**p).clone())).collect();
    assert!(PodEdits::between(&old, &new, 64).is_none());
    let edits = PodEdits::between(&old, &old, 64).unwrap();
    assert!(edits.is_empty());
    assert_eq!(edits.remap(99), Some(99));
    assert_eq!(edits.remap(100), None);
}

/// A long run of pods removed (a namespace deleted) or added is one edit, within the bound.
#[test]
fn edits_follow_a_long_run_removed_or_added() {
    // Names as the lookups below ask for them (`p0`..`p40`), in key order.
    let names = |n: usize| {
        let mut names: Vec<String> = (0..n).map(|i| format!("p{i}")).collect();
        names.sort();
        names
    };
    let mut old: Vec<Arc<Pod>> = names(40).iter().map(|n| pod("a", n)).collect();
    old.extend(names(40).iter().map(|n| pod("b", n)));
    old.extend(names(40).iter().map(|n| pod("ns1", n)));
    let new: Vec<Arc<Pod>> = old.iter().filter(|p| p.namespace != "b").cloned().collect();
    let index = PodIndex::new(&old);
    for (from, to) in [(&old, &new), (&new, &old)] {
        let edits = PodEdits::between(from, to, 64).unwrap();
        assert_eq!(edits.spans.len(), 1);
        assert_edits_describe(&edits, from, to);
    }
    let edits = PodEdits::between(&old, &new, 64).unwrap();
    let after = index.after(&edits, &new);
    assert!(matches!(after, PodIndex::KeyOrder(..)));
    assert_same_answers(&after, &new, "b deleted");
    assert!(PodEdits::between(&old, &new, 39).is_none());
}
