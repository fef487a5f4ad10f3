#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

//! The pod facts followed through random pod changes (with the pod index the engine follows
//! them with) against the facts of each inventory found afresh.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::*;
use crate::engine::Engine;
use crate::inventory::{Service, ServicePort, TargetPort, Webhook};
use crate::model::PolicySet;

use crate::testing::Lcg;

const NAMESPACES: &[&str] = &["a", "a-b", "hooks", "kube-system", "ns1"];
const NAMES: &[&str] = &[
    "coredns-1",
    "etcd-n1",
    "etcd-n2",
    "kube-apiserver-n1",
    "kube-apiserver-n3",
    "p1",
    "p2",
    "p3",
    "web",
];

fn node(name: &str, control_plane: bool) -> Node {
    let mut labels = BTreeMap::new();
    if control_plane {
        labels.insert(
            "node-role.kubernetes.io/control-plane".into(),
            String::new(),
        );
    }
    Node {
        name: name.into(),
        labels,
        ..Default::default()
    }
}

fn random_pod(rng: &mut Lcg) -> Arc<Pod> {
    let mut labels = BTreeMap::new();
    match rng.below(5) {
        0 => labels.insert("component".into(), "kube-apiserver".into()),
        1 => labels.insert("component".into(), "etcd".into()),
        2 => labels.insert("k8s-app".into(), "kube-dns".into()),
        3 => labels.insert("app".into(), "hook".into()),
        _ => None,
    };
    Arc::new(Pod {
        namespace: NAMESPACES[rng.below(NAMESPACES.len())].into(),
        name: NAMES[rng.below(NAMES.len())].into(),
        labels,
        host_network: rng.below(4) == 0,
        node: Some(format!("n{}", 1 + rng.below(3))),
        ..Default::default()
    })
}

fn service(ns: &str, name: &str, selector: (&str, &str)) -> Service {
    Service {
        namespace: ns.into(),
        name: name.into(),
        selector: Some([(selector.0.to_owned(), selector.1.to_owned())].into()),
        ports: vec![ServicePort {
            name: None,
            port: 443,
            target: TargetPort::Number(8443),
            protocol: Protocol::Tcp,
        }],
        ..Default::default()
    }
}

fn inventory() -> Inventory {
    let mut inv = Inventory::default();
    inv.nodes = vec![
        node("n1", true).into(),
        node("n2", false).into(),
        node("n3", false).into(),
    ];
    inv.services = vec![service("hooks", "hook", ("app", "hook"))];
    inv.webhooks = vec![Webhook {
        configuration: "c".into(),
        name: "hook.example".into(),
        mutating: false,
        service: Some(("hooks".into(), "hook".into(), 443)),
        url: None,
        fail_closed: true,
    }];
    inv.normalise();
    inv
}

fn key(p: &Pod) -> String {
    format!("{}/{}", p.namespace, p.name)
}

/// One change: mostly a put or delete in key order; sometimes a pod out of order, or the
/// kube-dns service coming or going.
fn step(inv: &mut Inventory, rng: &mut Lcg) {
    let pods = &mut inv.pods;
    match rng.below(12) {
        0..=4 => {
            let p = random_pod(rng);
            match pods.binary_search_by(|q| key(q).cmp(&key(&p))) {
                Ok(i) => pods[i] = p,
                Err(i) => pods.insert(i, p),
            }
        }
        5..=8 if !pods.is_empty() => {
            let i = rng.below(pods.len());
            pods.remove(i);
        }
        9 => {
            let i = rng.below(pods.len() + 1);
            pods.insert(i, random_pod(rng));
        }
        10 => pods.sort_by_key(|p| key(p)),
        _ => {
            let dns = inv.services.iter().position(|s| s.name == "kube-dns");
            match dns {
                Some(i) => {
                    inv.services.remove(i);
                }
                None => {
                    inv.services
                        .push(service("kube-system", "kube-dns", ("k8s-app", "kube-dns")))
                }
            }
        }
    }
}

fn names(nodes: &[&Node]) -> Vec<String> {
    nodes.iter().map(|n| n.name.clone()).collect()
}

#[test]
fn pod_facts_after_edits_equal_the_facts_found_afresh() {
    let mut followed = 0;
    for seed in 0..30u64 {
        let mut rng = Lcg(seed);
        let mut inv = inventory();
        let policies = PolicySet::default();
        let mut engine = Engine::new(&inv, &policies).detach();
        let mut facts = PodFacts::of(&inv);
        for _ in 0..80 {
            let before = inv.clone();
            step(&mut inv, &mut rng);
            inv.normalise();
            let edits = PodEdits::between(&before.pods, &inv.pods, 16);
            let now = engine.with_inventory(&inv, edits.as_ref());
            facts = match &edits {
                Some(e) => {
                    followed += 1;
                    facts.after(&before, &inv, e, |ns| now.namespace_pods(ns))
                }
                None => PodFacts::of(&inv),
            };
            assert_eq!(facts, PodFacts::of(&inv), "seed {seed}: {:?}", inv.pods);
            assert_eq!(
                names(&facts.apiserver_nodes(&inv)),
                names(&inv.apiserver_nodes())
            );
            assert_eq!(
                names(&inv.hosts_or_control_plane(|n| facts.etcd_hosts.contains(n))),
                names(&inv.etcd_nodes())
            );
            engine = now.detach();
        }
    }
    assert!(followed > 1500, "{followed} updates followed");
}
