#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

//! A baseline made after a watch update with the rules of the one before
//! ([`Baseline::compute_after`]) against one computed afresh, after each of a sequence of
//! changes of every kind the watch sees.

use std::collections::BTreeMap;

use super::*;
use crate::review::Change;

const START: &[(&str, &str)] = &[
    (
        "node/cp-1",
        "{apiVersion: v1, kind: Node, metadata: {name: cp-1, labels: {node-role.kubernetes.io/control-plane: ''}}, status: {addresses: [{type: InternalIP, address: 198.18.0.1}]}}",
    ),
    (
        "node/worker-1",
        "{apiVersion: v1, kind: Node, metadata: {name: worker-1}, status: {addresses: [{type: InternalIP, address: 198.18.0.10}]}}",
    ),
    (
        "ns/shop",
        "{apiVersion: v1, kind: Namespace, metadata: {name: shop}}",
    ),
    (
        "pod/shop/web-1",
        "{apiVersion: v1, kind: Pod, metadata: {name: web-1, namespace: shop, labels: {app: web}}, spec: {nodeName: worker-1, containers: [{name: web, ports: [{name: http, containerPort: 8080}]}]}, status: {podIP: 10.0.1.5}}",
    ),
    (
        "pod/kube-system/coredns-1",
        "{apiVersion: v1, kind: Pod, metadata: {name: coredns-1, namespace: kube-system, labels: {k8s-app: kube-dns}}, spec: {nodeName: worker-1, containers: [{name: dns, ports: [{name: dns, containerPort: 53, protocol: UDP}]}]}, status: {podIP: 10.0.1.53}}",
    ),
    (
        "cm/cilium-config",
        "{apiVersion: v1, kind: ConfigMap, metadata: {name: cilium-config, namespace: kube-system}, data: {enable-host-firewall: 'true'}}",
    ),
    (
        "np/shop/allow-web",
        "{apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, metadata: {name: allow-web, namespace: shop}, spec: {podSelector: {matchLabels: {app: web}}, policyTypes: [Ingress, Egress], ingress: [{}], egress: [{to: [{namespaceSelector: {matchLabels: {team: a}}}]}]}}",
    ),
    (
        "ccnp/hosts",
        "{apiVersion: cilium.io/v2, kind: CiliumClusterwideNetworkPolicy, metadata: {name: hosts}, spec: {nodeSelector: {matchLabels: {}}, ingress: [{fromEntities: [cluster, host]}]}}",
    ),
    // DNS only from namespaces labelled team=a: the verdict of shop's DNS flows turns on
    // shop's labels, nothing else of the flow.
    (
        "np/kube-system/dns-from-a",
        "{apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, metadata: {name: dns-from-a, namespace: kube-system}, spec: {podSelector: {matchLabels: {k8s-app: kube-dns}}, policyTypes: [Ingress], ingress: [{from: [{namespaceSelector: {matchLabels: {team: a}}}]}]}}",
    ),
];

/// Each step puts (`Some`) or deletes (`None`) one object, as a watch event would.
const STEPS: &[(&str, Option<&str>)] = &[
    // A pod added in a namespace with policies, then one in a namespace without.
    (
        "pod/shop/web-2",
        Some(
            "{apiVersion: v1, kind: Pod, metadata: {name: a-web-2, namespace: shop, labels: {app: web}}, spec: {nodeName: cp-1}, status: {podIP: 10.0.1.6}}",
        ),
    ),
    (
        "pod/other/x",
        Some(
            "{apiVersion: v1, kind: Pod, metadata: {name: x, namespace: other, labels: {app: x}}, spec: {nodeName: worker-1}, status: {podIP: 10.0.2.1}}",
        ),
    ),
    // A node added, of a new class (its labels), then an API server pod on it.
    (
        "node/worker-2",
        Some(
            "{apiVersion: v1, kind: Node, metadata: {name: worker-2, labels: {zone: b}}, status: {addresses: [{type: InternalIP, address: 198.18.0.11}]}}",
        ),
    ),
    (
        "pod/kube-system/kube-apiserver-worker-2",
        Some(
            "{apiVersion: v1, kind: Pod, metadata: {name: kube-apiserver-worker-2, namespace: kube-system, labels: {component: kube-apiserver}}, spec: {nodeName: worker-2, hostNetwork: true}, status: {podIP: 198.18.0.11}}",
        ),
    ),
    // Namespace labels: every pod's identity in it changes.
    (
        "ns/shop",
        Some("{apiVersion: v1, kind: Namespace, metadata: {name: shop, labels: {team: a}}}"),
    ),
    // The first pod of a namespace with policies goes: another stands for it.
    ("pod/shop/web-1", None),
    // A policy changed, then one removed.
    (
        "np/shop/allow-web",
        Some(
            "{apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, metadata: {name: allow-web, namespace: shop}, spec: {podSelector: {}, policyTypes: [Egress], egress: [{ports: [{port: 8080}]}]}}",
        ),
    ),
    ("ccnp/hosts", None),
    // A namespace's first policy (its flows join the catalogue), then a Cilium policy that
    // cuts DNS from it, then the first one removed again.
    (
        "np/other/deny-in",
        Some(
            "{apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, metadata: {name: deny-in, namespace: other}, spec: {podSelector: {}, policyTypes: [Ingress]}}",
        ),
    ),
    (
        "cnp/other/egress",
        Some(
            "{apiVersion: cilium.io/v2, kind: CiliumNetworkPolicy, metadata: {name: egress, namespace: other}, spec: {endpointSelector: {}, egress: [{toEntities: [kube-apiserver]}]}}",
        ),
    ),
    ("np/other/deny-in", None),
    (
        "ccnp/hosts",
        Some(
            "{apiVersion: cilium.io/v2, kind: CiliumClusterwideNetworkPolicy, metadata: {name: hosts}, spec: {nodeSelector: {matchLabels: {}}, ingress: [{fromEntities: [cluster]}]}}",
        ),
    ),
    // Cilium settings: every rule compiled again.
    (
        "cm/cilium-config",
        Some(
            "{apiVersion: v1, kind: ConfigMap, metadata: {name: cilium-config, namespace: kube-system}, data: {enable-host-firewall: 'false'}}",
        ),
    ),
    // A node removed; then the DNS backend.
    ("node/worker-2", None),
    ("pod/kube-system/coredns-1", None),
    (
        "pod/shop/web-3",
        Some(
            "{apiVersion: v1, kind: Pod, metadata: {name: web-3, namespace: shop, labels: {app: web}}, spec: {nodeName: worker-1, containers: [{name: web, ports: [{name: http, containerPort: 9090}]}]}, status: {podIP: 10.0.1.7}}",
        ),
    ),
];

fn loaded(objects: &BTreeMap<String, String>) -> Arc<Loaded> {
    let mut docs = Vec::new();
    for (key, yaml) in objects {
        docs.extend(policy::source::load_bytes(key, yaml.as_bytes()).unwrap());
    }
    Arc::new(policy::input::load_from_documents(&docs, &Default::default()).unwrap())
}

/// Everything a baseline holds that a review reads, as text.
fn canonical(b: &Baseline) -> String {
    let ends: BTreeMap<_, _> = b.ends.iter().collect();
    let per_namespace: BTreeMap<_, _> = b.per_namespace.iter().collect();
    format!(
        "{:?}\n{:?}\n{:?}\n{per_namespace:?}\n{}",
        b.report.flows,
        b.flows,
        ends,
        b.by_id.len(&b.report.flows)
    )
}

/// A review's answer on `b`: the rules compiled into the baseline's engine are used here.
fn review(b: &Baseline) -> String {
    let docs = policy::source::load_bytes(
        "review",
        b"{apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, metadata: {name: deny-all, namespace: shop}, spec: {podSelector: {}, policyTypes: [Ingress, Egress]}}",
    )
    .unwrap();
    let new = policy::parse::policies(&docs).policies;
    let key = new.network_policies[0].key();
    let outcome = b.evaluate(&Change::Policy {
        key,
        new: Some(new),
        notes: Vec::new(),
    });
    format!("{:?}", outcome.newly_denied)
}

#[test]
fn a_baseline_after_each_update_equals_one_computed_afresh() {
    let mut objects: BTreeMap<String, String> = START
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let opts = CheckOptions::default();
    let mut previous = Baseline::compute(loaded(&objects), opts.clone());
    let (mut kept_rules, mut kept_verdicts) = (0, 0);
    for (step, (key, value)) in STEPS.iter().enumerate() {
        match value {
            Some(v) => objects.insert((*key).to_owned(), (*v).to_owned()),
            None => objects.remove(*key),
        };
        let input = loaded(&objects);
        let compiled = previous.compiled();
        if compiled.holds_for(&input) {
            kept_rules += 1;
        } else if compiled.from.inventory.same_objects(&input.inventory) {
            kept_verdicts += 1;
        }
        let updated = Baseline::compute_after(Arc::clone(&input), opts.clone(), Some(&compiled));
        let afresh = Baseline::compute(input, opts.clone());
        assert_eq!(
            canonical(&updated),
            canonical(&afresh),
            "step {step} ({key})"
        );
        assert_eq!(review(&updated), review(&afresh), "step {step} ({key})");
        previous = updated;
    }
    // Both shortcuts must be taken, or this proves nothing about them.
    assert!(
        kept_rules >= 8 && kept_verdicts >= 5,
        "{kept_rules} steps kept the rules, {kept_verdicts} the verdicts"
    );
}

/// A small deterministic generator for the steps below.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n.max(1)
    }
}

fn random_pod(rng: &mut Lcg) -> policy::inventory::Pod {
    use policy::inventory::{ContainerPort, Pod};
    let namespace = ["kube-system", "other", "shop", "shop"][rng.below(4)];
    let name = ["a-web", "coredns-2", "web-1", "web-5", "x", "zz"][rng.below(6)];
    let mut labels = BTreeMap::new();
    match rng.below(4) {
        0 => labels.insert("app".to_owned(), "web".to_owned()),
        1 => labels.insert("k8s-app".to_owned(), "kube-dns".to_owned()),
        2 => labels.insert("app".to_owned(), "other".to_owned()),
        _ => None,
    };
    Pod {
        namespace: namespace.into(),
        name: name.into(),
        labels,
        ip: Some(std::net::IpAddr::from([10, 0, 3, rng.below(250) as u8 + 1])),
        host_network: rng.below(8) == 0,
        node: Some(["cp-1", "worker-1"][rng.below(2)].into()),
        ports: vec![ContainerPort {
            name: Some("http".into()),
            port: [8080, 9090][rng.below(2)],
            protocol: policy::model::Protocol::Tcp,
        }],
        owner: None,
        service_account: "default".into(),
    }
}

/// One watch update of the inventory, sharing the pods it does not change (as the view
/// does): a pod put in key order (or out of it) or deleted, or a namespace's labels, a node
/// or a service.
fn inventory_step(inv: &mut Inventory, rng: &mut Lcg) {
    let key = |p: &policy::inventory::Pod| format!("{}/{}", p.namespace, p.name);
    match rng.below(11) {
        0..=3 => {
            let p = random_pod(rng);
            match inv.pods.binary_search_by(|q| key(q).cmp(&key(&p))) {
                Ok(i) => inv.pods[i] = Arc::new(p),
                Err(i) => inv.pods.insert(i, Arc::new(p)),
            }
        }
        4..=6 if !inv.pods.is_empty() => {
            let i = rng.below(inv.pods.len());
            inv.pods.remove(i);
        }
        // Out of key order (as files may give them), perhaps a second pod of one name.
        10 => {
            let i = rng.below(inv.pods.len() + 1);
            inv.pods.insert(i, Arc::new(random_pod(rng)));
        }
        7 => {
            if let Some(ns) = inv.namespaces.iter_mut().find(|n| n.name == "shop") {
                let ns = Arc::make_mut(ns);
                match ns.labels.remove("team") {
                    Some(_) => None,
                    None => ns.labels.insert("team".into(), "a".into()),
                };
            }
        }
        8 => match inv.nodes.iter().position(|n| n.name == "worker-2") {
            Some(i) => {
                inv.nodes.remove(i);
            }
            None => inv.nodes.push(Arc::new(policy::inventory::Node {
                name: "worker-2".into(),
                addresses: vec![std::net::IpAddr::from([198, 18, 0, 11])],
                ..Default::default()
            })),
        },
        _ => match inv.services.iter().position(|s| s.name == "kube-dns") {
            Some(i) => {
                inv.services.remove(i);
            }
            None => inv.services.push(policy::inventory::Service {
                namespace: "kube-system".into(),
                name: "kube-dns".into(),
                selector: Some([("k8s-app".to_owned(), "kube-dns".to_owned())].into()),
                ..Default::default()
            }),
        },
    }
    inv.normalise();
}

/// Pod, node, namespace and service updates that share the unchanged pods, so that the pod
/// index, the catalogue, the flow ends and the report are followed, not found afresh: each
/// baseline equals one computed afresh, and a review on it answers alike.
#[test]
fn a_baseline_after_inventory_updates_sharing_pods_equals_one_computed_afresh() {
    let objects: BTreeMap<String, String> = START
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let opts = CheckOptions::default();
    let (mut same_catalogue, mut same_report, mut steps) = (0, 0, 0);
    for seed in 0..12u64 {
        let mut rng = Lcg(seed);
        let mut input = loaded(&objects);
        let mut previous = Baseline::compute(Arc::clone(&input), opts.clone());
        for step in 0..40 {
            let mut next: Loaded = (*input).clone();
            inventory_step(&mut next.inventory, &mut rng);
            input = Arc::new(next);
            let compiled = previous.compiled();
            let updated =
                Baseline::compute_after(Arc::clone(&input), opts.clone(), Some(&compiled));
            let afresh = Baseline::compute(Arc::clone(&input), opts.clone());
            let what = format!("seed {seed} step {step}");
            assert_eq!(canonical(&updated), canonical(&afresh), "{what}");
            assert_eq!(review(&updated), review(&afresh), "{what}");
            same_catalogue += usize::from(Arc::ptr_eq(&updated.flows, &compiled.flows));
            same_report += usize::from(Arc::ptr_eq(&updated.report, &compiled.report));
            steps += 1;
            previous = updated;
        }
    }
    // The shortcuts must be taken often, and not always, or this proves little.
    assert!(
        same_catalogue > steps / 4 && same_catalogue < steps,
        "{same_catalogue} of {steps} kept the catalogue"
    );
    assert!(
        same_report > steps / 8 && same_report < steps,
        "{same_report} of {steps} kept the report"
    );
}
