#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

//! An engine derived with `with_policies` against one compiled whole, over random policy
//! changes (added, changed, removed, two objects with one key).

use super::*;
use crate::model::PolicySet;

use crate::testing::Lcg;

/// One object of a few kinds and shapes; `toNodes` makes a Cilium policy refused (node
/// selector labels off).
fn object(rng: &mut Lcg) -> String {
    let name = format!("p{}", rng.below(4));
    let ns = ["a", "b"][rng.below(2)];
    let app = format!("app{}", rng.below(3));
    let port = 80 + rng.below(3);
    match rng.below(4) {
        0 => format!(
            "{{apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, metadata: {{name: {name}, namespace: {ns}}}, spec: {{podSelector: {{matchLabels: {{app: {app}}}}}, policyTypes: [Ingress], ingress: [{{ports: [{{port: {port}}}]}}]}}}}"
        ),
        1 => format!(
            "{{apiVersion: cilium.io/v2, kind: CiliumNetworkPolicy, metadata: {{name: {name}, namespace: {ns}}}, spec: {{endpointSelector: {{matchLabels: {{app: {app}}}}}, egress: [{{toEntities: [world], toPorts: [{{ports: [{{port: '{port}'}}]}}]}}]}}}}"
        ),
        2 => format!(
            "{{apiVersion: cilium.io/v2, kind: CiliumClusterwideNetworkPolicy, metadata: {{name: {name}}}, spec: {{endpointSelector: {{matchLabels: {{app: {app}}}}}, ingress: [{{fromEntities: [cluster]}}]}}}}"
        ),
        _ => format!(
            "{{apiVersion: cilium.io/v2, kind: CiliumNetworkPolicy, metadata: {{name: {name}, namespace: {ns}}}, spec: {{endpointSelector: {{}}, egress: [{{toNodes: [{{matchLabels: {{app: {app}}}}}]}}]}}}}"
        ),
    }
}

fn set_of(objects: &[String]) -> PolicySet {
    let mut docs = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        docs.extend(crate::source::load_bytes(&format!("o{i}"), o.as_bytes()).unwrap());
    }
    crate::parse::policies(&docs).policies
}

fn shown(e: &Engine<'_>) -> String {
    format!("{:?}\n{:?}", e.entries, e.refused)
}

#[test]
fn with_policies_equals_the_set_compiled_whole() {
    let inv = Inventory::default();
    let mut derived = 0;
    for seed in 0..12u64 {
        let mut rng = Lcg(seed);
        let mut objects: Vec<String> = (0..6).map(|_| object(&mut rng)).collect();
        for _ in 0..30 {
            let old = set_of(&objects);
            match rng.below(4) {
                0 => objects.push(object(&mut rng)),
                1 if !objects.is_empty() => {
                    let i = rng.below(objects.len());
                    objects.remove(i);
                }
                _ => {
                    let i = rng.below(objects.len() + 1);
                    match objects.get_mut(i) {
                        Some(o) => *o = object(&mut rng),
                        None => objects.push(object(&mut rng)),
                    }
                }
            }
            let new = set_of(&objects);
            let base = Engine::new(&inv, &old);
            let (engine, changed) = base.with_policies(&old, &new);
            assert_eq!(
                shown(&engine),
                shown(&Engine::new(&inv, &new)),
                "seed {seed}"
            );
            // Every object whose version differs is named as changed.
            let before: Vec<_> = versions(&old).collect();
            let after: Vec<_> = versions(&new).collect();
            for (key, v) in after.iter().chain(&before) {
                let other = if before.iter().any(|(k, w)| k == key && w == v) {
                    &after
                } else {
                    &before
                };
                if !other.iter().any(|(k, w)| k == key && w == v) {
                    assert!(changed.contains(&owned(*key)), "seed {seed}: {key:?}");
                }
            }
            derived += usize::from(changed.len() < 3);
        }
    }
    assert!(derived > 60, "{derived} derived with few changes");
}
