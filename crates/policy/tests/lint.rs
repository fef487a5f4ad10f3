//! `policy lint`: each footgun of policy-semantics.md (d) gives its finding; clean input gives none.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

use policy::findings::Outcome;
use policy::inventory::reference::reference_cluster;
use policy::inventory::{EnforcementMode, Inventory};
use policy::lint::{lint, outcome};
use policy::parse;
use policy::source::load_bytes;

fn codes(text: &str, inv: &Inventory) -> Vec<&'static str> {
    let docs = load_bytes("l.yaml", text.as_bytes()).expect("yaml");
    let p = parse::policies(&docs);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    lint(&p.policies, inv)
        .iter()
        .map(|f| f.code)
        .filter(|c| *c != "assumed-inventory")
        .collect()
}

const CNP: &str = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p, namespace: a}\nspec:\n";
const CCNP: &str =
    "apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: p}\nspec:\n";
const KNP: &str = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: a}\nspec:\n  podSelector: {}\n";

#[test]
fn footguns_table() {
    let inv = reference_cluster();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "d.17 K2",
            format!("{KNP}  egress:\n  - to: [{{podSelector: {{}}}}]\n"),
            "knp-egress-only-isolates-ingress",
        ),
        (
            "d.15",
            format!("{KNP}  policyTypes: [Egress]\n  egress:\n  - ports: [{{port: 443}}]\n"),
            "egress-without-dns",
        ),
        (
            "d.16 C9",
            format!(
                "{KNP}  policyTypes: [Egress]\n  egress:\n  - to: [{{ipBlock: {{cidr: 10.0.0.0/24}}}}]\n"
            ),
            "ipblock-node-ips",
        ),
        (
            "d.19",
            format!("{KNP}  ingress:\n  - from: [{{namespaceSelector: {{}}}}]\n"),
            "knp-all-namespaces",
        ),
        (
            "d.14 C2.6",
            format!("{CCNP}  nodeSelector: {{}}\n  ingressDeny:\n  - fromEntities: [world]\n"),
            "deny-only-default-deny",
        ),
        (
            "d.1 C13.4",
            include_str!("fixtures/lockout-ccnp.yaml").to_owned(),
            "host-policy-lockout-risk",
        ),
        (
            "d.23 C5.4",
            format!("{CNP}  endpointSelector: {{}}\n  ingress:\n  - fromEndpoints: []\n"),
            "empty-peer-list",
        ),
        (
            "d.8 C7.3",
            format!("{CCNP}  nodeSelector: {{}}\n  ingress:\n  - fromEndpoints: [{{}}]\n"),
            "host-policy-endpoints-pods-only",
        ),
        (
            "d.4 C6.4",
            format!(
                "{CCNP}  nodeSelector: {{matchLabels: {{kubernetes.io/os: linux}}}}\n  ingress: [{{fromEntities: [cluster]}}]\n"
            ),
            "subject-selects-filtered-label",
        ),
        (
            "C6.4 peers",
            format!(
                "{CNP}  endpointSelector: {{}}\n  ingress:\n  - fromEndpoints: [{{matchLabels: {{pod-template-hash: abc}}}}]\n"
            ),
            "peer-selects-filtered-label",
        ),
        (
            "d.20 C12",
            format!(
                "{CNP}  endpointSelector: {{}}\n  egress:\n  - toFQDNs: [{{matchName: api.github.com}}]\n"
            ),
            "fqdn-without-dns-rule",
        ),
        (
            "d.7 C11",
            format!(
                "{CCNP}  nodeSelector: {{}}\n  egress:\n  - toPorts: [{{ports: [{{port: '53', protocol: UDP}}], rules: {{dns: [{{matchPattern: '*'}}]}}}}]\n"
            ),
            "host-policy-l7-dns",
        ),
        (
            "d.13 d.15",
            format!(
                "{CCNP}  endpointSelector: {{}}\n  egress:\n  - toEntities: [world]\n    toPorts: [{{ports: [{{port: '443', protocol: TCP}}]}}]\n"
            ),
            "clusterwide-default-deny-without-dns",
        ),
        (
            "C2.7 version unknown",
            format!(
                "{CNP}  endpointSelector: {{}}\n  enableDefaultDeny: {{ingress: false}}\n  ingress: [{{fromEntities: [world]}}]\n"
            ),
            "enable-default-deny-version",
        ),
    ];
    for (rule, text, code) in cases {
        let got = codes(&text, &inv);
        assert!(got.contains(&code), "{rule}: expected {code}, got {got:?}");
    }
}

#[test]
fn cluster_footguns() {
    let host = format!("{CCNP}  nodeSelector: {{}}\n  ingress: [{{fromEntities: [cluster]}}]\n");
    let mut off = reference_cluster();
    off.cilium.host_firewall = false;
    assert!(
        codes(&host, &off).contains(&"host-policy-inert"),
        "d.5 C13.1"
    );
    let mut always = reference_cluster();
    always.cilium.enforcement = EnforcementMode::Always;
    assert!(
        codes(&host, &always).contains(&"always-with-host-firewall"),
        "d.6 C3"
    );
    let mut old = reference_cluster();
    old.cilium.version = Some((1, 15));
    let flag = format!(
        "{CNP}  endpointSelector: {{}}\n  enableDefaultDeny: {{ingress: false}}\n  ingress: [{{fromEntities: [world]}}]\n"
    );
    assert!(
        codes(&flag, &old).contains(&"enable-default-deny-unsupported"),
        "C2.7"
    );
    let mut kpr = reference_cluster();
    kpr.cilium.kube_proxy_replacement = true;
    kpr.pods.push(std::sync::Arc::new(policy::inventory::Pod {
        namespace: "kube-system".into(),
        name: "kube-proxy-x1".into(),
        ..Default::default()
    }));
    for n in &mut kpr.nodes {
        std::sync::Arc::make_mut(n).kernel = Some("4.15.0-213-generic".into());
    }
    let got = codes(&host, &kpr);
    assert!(
        got.contains(&"kube-proxy-with-replacement") && got.contains(&"kernel-too-old"),
        "{got:?}"
    );
    let mut given = reference_cluster();
    given.assumed = false;
    given.cilium.from_config_map = false;
    given.cilium.l7_proxy = false;
    let l7 = format!(
        "{CNP}  endpointSelector: {{}}\n  egress:\n  - toPorts: [{{ports: [{{port: '80', protocol: TCP}}], rules: {{http: [{{method: GET}}]}}}}]\n"
    );
    let got = codes(&l7, &given);
    assert!(
        got.contains(&"cilium-config-assumed") && got.contains(&"l7-without-proxy"),
        "C3 C11: {got:?}"
    );
    let mut no_hubble = reference_cluster();
    no_hubble.cilium.hubble = false;
    assert!(codes(&host, &no_hubble).contains(&"hubble-off"));
}

#[test]
fn clean_policies_give_no_warnings() {
    let inv = reference_cluster();
    let docs = load_bytes(
        "ok.yaml",
        include_bytes!("fixtures/lockout-ccnp-fixed.yaml"),
    )
    .expect("yaml");
    let p = parse::policies(&docs);
    let findings = lint(&p.policies, &inv);
    assert_eq!(outcome(&findings), Outcome::Clean, "{findings:#?}");
    let docs = load_bytes(
        "bad.yaml",
        format!("{CCNP}  nodeSelector: {{}}\n  ingressDeny:\n  - fromEntities: [world]\n")
            .as_bytes(),
    )
    .expect("yaml");
    let p = parse::policies(&docs);
    assert_eq!(outcome(&lint(&p.policies, &inv)), Outcome::Critical);
}
