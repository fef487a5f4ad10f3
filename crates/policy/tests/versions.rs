//! Known fields per Cilium version (C1: unknown fields are findings): a field newer than the
//! cluster's Cilium is reported with the version that added it; the same policy on a new
//! enough Cilium, or with no version given, gets no such finding.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

use policy::inventory::reference::reference_cluster;
use policy::parse;
use policy::source::load_bytes;

const CNP_HEAD: &str = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p, namespace: shop}\nspec:\n  endpointSelector: {matchLabels: {app: web}}\n";
const CCNP_HEAD: &str = "apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: p}\nspec:\n  endpointSelector: {}\n";

/// Version findings for `policy` on a cluster of `version`: (code, message) pairs.
fn version_findings(policy: &str, version: Option<&str>) -> Vec<(String, String, String)> {
    let docs = load_bytes("v.yaml", policy.as_bytes()).expect("yaml");
    let parsed = parse::policies(&docs);
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    // Newest schema: none of these fields is unknown to the parser itself.
    assert!(
        parsed.findings.iter().all(|f| f.code != "unknown-field"),
        "{:?}",
        parsed.findings
    );
    let v = version.and_then(policy::inventory::CiliumConfig::parse_version);
    policy::parse::versions::findings(&parsed.policies, v)
        .into_iter()
        .map(|f| (f.code.to_owned(), f.message, f.location.unwrap_or_default()))
        .collect()
}

#[test]
fn fields_newer_than_the_cluster_are_findings_naming_the_version_table() {
    // (rule text after the head, field path, line, version that added it)
    let cases: &[(&str, &str, &str, u32, &str)] = &[
        (
            CNP_HEAD,
            "  enableDefaultDeny: {ingress: false}\n  ingress: [{fromEntities: [world]}]\n",
            "spec.enableDefaultDeny",
            6,
            "1.16",
        ),
        (
            CNP_HEAD,
            "  log: {value: demo}\n  ingress: [{fromEntities: [world]}]\n",
            "spec.log",
            6,
            "1.18",
        ),
        (
            CCNP_HEAD,
            "  ingress:\n  - fromNodes: [{matchLabels: {role: infra}}]\n",
            "spec.ingress[0].fromNodes",
            7,
            "1.16",
        ),
        (
            CCNP_HEAD,
            "  egress:\n  - toNodes: [{matchLabels: {role: infra}}]\n",
            "spec.egress[0].toNodes",
            7,
            "1.16",
        ),
        (
            CNP_HEAD,
            "  egress:\n  - toPorts: [{ports: [{port: '8000', endPort: 8100, protocol: TCP}]}]\n",
            "spec.egress[0].toPorts[0].ports[0].endPort",
            7,
            "1.16",
        ),
        (
            CNP_HEAD,
            "  ingress:\n  - fromCIDRSet: [{cidrGroupRef: office}]\n",
            "spec.ingress[0].fromCIDRSet[0].cidrGroupRef",
            7,
            "1.14",
        ),
        (
            CNP_HEAD,
            "  egress:\n  - toCIDRSet: [{cidrGroupRef: office}]\n",
            "spec.egress[0].toCIDRSet[0].cidrGroupRef",
            7,
            "1.16",
        ),
        (
            CNP_HEAD,
            "  egress:\n  - toCIDRSet: [{cidrGroupSelector: {matchLabels: {a: b}}}]\n",
            "spec.egress[0].toCIDRSet[0].cidrGroupSelector",
            7,
            "1.17",
        ),
        (
            CNP_HEAD,
            "  ingress:\n  - fromEntities: [cluster]\n    authentication: {mode: required}\n",
            "spec.ingress[0].authentication",
            8,
            "1.14",
        ),
    ];
    for (head, body, path, line, since) in cases {
        let text = format!("{head}{body}");
        let (maj, min) = since.split_once('.').expect("x.y");
        let min: u32 = min.parse().expect("minor");
        let older = format!("{maj}.{}", min - 1);
        let got = version_findings(&text, Some(&older));
        assert_eq!(got.len(), 1, "{path} on {older}: {got:?}");
        let (_, msg, loc) = &got[0];
        assert!(
            msg.contains(path) && msg.contains(&format!("added in Cilium {since}")),
            "{path}: {msg}"
        );
        assert!(msg.contains(&format!("runs {older}")), "{msg}");
        assert_eq!(loc, &format!("v.yaml:{line}"), "{path}");
        // The version that added it, a later one, and no version: nothing to report.
        for v in [Some(*since), Some("1.20.0-pre.4"), None] {
            let got = version_findings(&text, v);
            assert!(got.is_empty(), "{path} on {v:?}: {got:?}");
        }
    }
}

#[test]
fn lint_reports_version_findings_with_the_cluster_version() {
    let text = format!(
        "{CNP_HEAD}  enableDefaultDeny: {{ingress: false}}\n  ingress:\n  - toPorts: [{{ports: [{{port: '8000', endPort: 8100}}]}}]\n"
    );
    let docs = load_bytes("v.yaml", text.as_bytes()).expect("yaml");
    let parsed = parse::policies(&docs);
    let mut inv = reference_cluster();
    inv.cilium.version = Some((1, 15));
    let lint = policy::lint::lint(&parsed.policies, &inv);
    let codes: Vec<&str> = lint.iter().map(|f| f.code).collect();
    // C2.7: enableDefaultDeny dropped on 1.15 isolates the subject: critical.
    assert!(
        codes.contains(&"enable-default-deny-unsupported"),
        "{codes:?}"
    );
    assert!(codes.contains(&"field-not-in-cilium-version"), "{codes:?}");
    assert_eq!(
        lint.iter()
            .filter(|f| f.code == "enable-default-deny-unsupported")
            .count(),
        1,
        "reported once"
    );
    inv.cilium.version = Some((1, 16));
    let lint = policy::lint::lint(&parsed.policies, &inv);
    assert!(
        lint.iter()
            .all(|f| f.code != "enable-default-deny-unsupported"
                && f.code != "field-not-in-cilium-version"),
        "{lint:?}"
    );
}

#[test]
fn cluster_version_comes_from_the_agent_image() {
    // (inventory, version found): the agent DaemonSet's template, or an agent pod.
    let ds = "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: cilium, namespace: kube-system}\nspec:\n  template:\n    metadata: {labels: {k8s-app: cilium}}\n    spec:\n      hostNetwork: true\n      containers: [{name: cilium-agent, image: 'quay.io/cilium/cilium:v1.15.4@sha256:0123'}]\n";
    let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: cilium-x1\n  namespace: kube-system\n  ownerReferences: [{kind: DaemonSet, name: cilium, controller: true}]\nspec:\n  containers: [{name: cilium-agent, image: 'quay.io/cilium/cilium:v1.17.2'}]\n";
    let operator = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: cilium-operator, namespace: kube-system}\nspec:\n  template:\n    spec:\n      containers: [{name: op, image: 'quay.io/cilium/operator-generic:v1.14.0'}]\n";
    let cases: &[(&str, Option<(u32, u32)>)] =
        &[(ds, Some((1, 15))), (pod, Some((1, 17))), (operator, None)];
    for (text, want) in cases {
        let docs = load_bytes("c.yaml", text.as_bytes()).expect("yaml");
        let inv = policy::inventory::read::inventory(&docs).expect("inventory");
        assert_eq!(inv.cilium.version, *want, "{text}");
    }
    // --cilium-version wins over the inventory.
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("c.yaml");
    // An inventory needs its nodes (load_inventory refuses one without).
    let node = "---\napiVersion: v1\nkind: Node\nmetadata: {name: n1}\n";
    std::fs::write(&path, format!("{ds}{node}")).expect("write");
    let inv = policy::input::load_inventory(Some(&path), None, None).expect("inv");
    assert_eq!(inv.cilium.version, Some((1, 15)));
    let inv = policy::input::load_inventory(Some(&path), None, Some("1.18.1")).expect("inv");
    assert_eq!(inv.cilium.version, Some((1, 18)));
}
