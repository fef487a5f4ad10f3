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
