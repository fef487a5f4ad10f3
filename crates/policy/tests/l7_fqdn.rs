//! L7 rules (C11, C2.8) and toFQDNs (C12) as the engine evaluates them: an L7 rule allows its
//! port and marks the flow L7-filtered; a flow to an outside address meets a toFQDNs rule only
//! when the flow names its DNS name, and the name is learned through a DNS rule.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

use policy::check::{Flow, FlowResult, evaluate};
use policy::engine::Engine;
use policy::inventory::Inventory;
use policy::inventory::reference::reference_cluster;
use policy::model::Protocol;
use policy::source::load_bytes;

fn inventory() -> Inventory {
    let mut inv = reference_cluster();
    for (name, app, ip) in [("web", "web", "10.244.1.5"), ("db", "db", "10.244.2.5")] {
        inv.pods.push(std::sync::Arc::new(policy::inventory::Pod {
            namespace: "shop".into(),
            name: name.into(),
            labels: policy::inventory::read::labels(&[("app", app)]),
            ip: ip.parse().ok(),
            node: Some("worker-1".into()),
            service_account: "default".into(),
            ..Default::default()
        }));
    }
    inv.normalise();
    inv
}

fn run(
    inv: &Inventory,
    policies: &str,
    flows: &[(&str, &str, Protocol, u16, Option<&str>)],
) -> Vec<FlowResult> {
    let docs = load_bytes("p.yaml", policies.as_bytes()).expect("yaml");
    let parsed = policy::parse::policies(&docs);
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    let engine = Engine::new(inv, &parsed.policies);
    let flows: Vec<Flow> = flows
        .iter()
        .map(|(src, dst, protocol, port, fqdn)| Flow {
            name: format!("{src}->{dst}"),
            src: (*src).into(),
            dst: (*dst).into(),
            protocol: *protocol,
            port: *port,
            critical: false,
            purpose: "test",
            fqdn: fqdn.map(str::to_owned),
        })
        .collect();
    let mut findings = Vec::new();
    let out = evaluate(&engine, &flows, &mut findings);
    assert!(findings.is_empty(), "{findings:?}");
    assert_eq!(out.len(), flows.len());
    out
}

const FQDN: &str = "apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: web-out, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: web}}
  egress:
  - toEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: kube-system, k8s-app: kube-dns}}]
    toPorts:
    - ports: [{port: '53', protocol: ANY}]
      rules:
        dns: [{matchPattern: '*.example.com'}]
  - toFQDNs: [{matchName: api.example.com}, {matchPattern: '*.cdn.example.org'}]
    toPorts: [{ports: [{port: '443', protocol: TCP}]}]
";

#[test]
fn to_fqdns_needs_the_name_and_a_dns_rule_c12() {
    let inv = inventory();
    let out = "world/203.0.113.10";
    // (fqdn, port, allowed, depends on DNS, explanation must contain)
    let cases: &[(Option<&str>, u16, bool, bool, &str)] = &[
        (None, 443, false, true, "depends on DNS"),
        (Some("api.example.com"), 443, true, false, "web-out"),
        (Some("API.Example.com."), 443, true, false, "web-out"),
        // Matches the selector, but the DNS rule only sees *.example.com: never learned.
        (
            Some("img.cdn.example.org"),
            443,
            false,
            false,
            "never learned",
        ),
        (
            Some("www.example.com"),
            443,
            false,
            false,
            "matches no toFQDNs selector",
        ),
        // C5.1: the FQDN peer AND its ports.
        (Some("api.example.com"), 80, false, false, "no rule allows"),
    ];
    for (fqdn, port, allowed, dns, text) in cases {
        let r = &run(
            &inv,
            FQDN,
            &[("shop/web", out, Protocol::Tcp, *port, *fqdn)],
        )[0];
        assert_eq!(r.allowed(), *allowed, "{fqdn:?}/{port}: {}", r.explanation);
        assert_eq!(r.depends_on_dns, *dns, "{fqdn:?}/{port}");
        assert!(
            r.explanation.contains(text),
            "{fqdn:?}/{port}: {}",
            r.explanation
        );
        if !allowed {
            assert!(r.rules.contains(&"C12") || *port == 80, "{:?}", r.rules);
        }
    }
    // Without the L7 proxy no DNS answer is seen.
    let mut no_proxy = inventory();
    no_proxy.cilium.l7_proxy = false;
    let r = &run(
        &no_proxy,
        FQDN,
        &[("shop/web", out, Protocol::Tcp, 443, Some("api.example.com"))],
    )[0];
    assert!(!r.allowed());
    assert!(
        r.explanation.contains("L7 proxy is disabled"),
        "{}",
        r.explanation
    );
}

#[test]
fn dns_rule_allows_port_53_l7_filtered_c11() {
    let inv = inventory();
    let rs = run(
        &inv,
        FQDN,
        &[
            (
                "shop/web",
                "kube-system/coredns-5d78c9869d-0",
                Protocol::Udp,
                53,
                None,
            ),
            (
                "shop/web",
                "kube-system/coredns-5d78c9869d-0",
                Protocol::Tcp,
                53,
                None,
            ),
        ],
    );
    for r in &rs {
        assert!(r.allowed(), "{}", r.explanation);
        assert!(r.l7_filtered, "{}", r.explanation);
        assert!(r.explanation.contains("L7-filtered"), "{}", r.explanation);
        assert!(r.rules.contains(&"C11"), "{:?}", r.rules);
    }
}

const HTTP: &str = "apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: db-http, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: db}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: web}}]
    toPorts:
    - ports: [{port: '8080', protocol: TCP}]
      rules:
        http: [{method: GET, path: /api}]
";

const PLAIN: &str = "apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: db-plain, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: db}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: web}}]
    toPorts: [{ports: [{port: '8080', protocol: TCP}]}]
";

#[test]
fn l7_allows_the_port_and_an_l4_rule_overrides_it_c11() {
    let inv = inventory();
    let flow = [("shop/web", "shop/db", Protocol::Tcp, 8080, None)];
    // (policies, allowed, L7-filtered)
    let both = format!("{HTTP}---\n{PLAIN}");
    let cases: &[(&str, bool, bool)] = &[(HTTP, true, true), (both.as_str(), true, false)];
    for (policies, allowed, l7) in cases {
        let r = &run(&inv, policies, &flow)[0];
        assert_eq!(r.allowed(), *allowed, "{}", r.explanation);
        assert_eq!(r.l7_filtered, *l7, "{}", r.explanation);
    }
    // Another port stays denied (C2.4), L7 or not.
    let r = &run(
        &inv,
        HTTP,
        &[("shop/web", "shop/db", Protocol::Tcp, 9090, None)],
    )[0];
    assert!(!r.allowed() && !r.l7_filtered, "{}", r.explanation);
}

#[test]
fn l7_without_default_deny_depends_on_version_c2_8() {
    let policy = HTTP.replace(
        "  ingress:\n",
        "  enableDefaultDeny: {ingress: false}\n  ingress:\n",
    );
    let flow = [("shop/web", "shop/db", Protocol::Tcp, 8080, None)];
    // (Cilium version, L7-filtered): 1.18+ adds a wildcard L7 allow when the direction is
    // not default-deny; older or unknown versions may still refuse requests.
    for (version, l7) in [(Some((1, 18)), false), (Some((1, 17)), true), (None, true)] {
        let mut inv = inventory();
        inv.cilium.version = version;
        let r = &run(&inv, &policy, &flow)[0];
        assert!(r.allowed(), "{}", r.explanation);
        assert_eq!(r.l7_filtered, l7, "{version:?}: {}", r.explanation);
        assert!(r.rules.contains(&"C2.8"), "{:?}", r.rules);
    }
}
