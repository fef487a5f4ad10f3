//! Engine tests on the reference cluster; each case cites its rule in policy-semantics.md.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

use policy::engine::Engine;
use policy::inventory::reference::reference_cluster;
use policy::inventory::{EnforcementMode, Inventory};
use policy::model::{PolicySet, Protocol};
use policy::parse;
use policy::source::load_bytes;

fn policies(text: &str) -> PolicySet {
    let docs = load_bytes("t.yaml", text.as_bytes()).expect("yaml");
    let p = parse::policies(&docs);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    p.policies
}

/// (source, destination, protocol, port) → allowed?
fn check(inv: &Inventory, set: &PolicySet, cases: &[(&str, &str, Protocol, u16, bool, &str)]) {
    let engine = Engine::new(inv, set);
    for (src, dst, proto, port, want, rule) in cases {
        let s = engine.resolve(src).unwrap_or_else(|| panic!("{src}"));
        let d = engine.resolve(dst).unwrap_or_else(|| panic!("{dst}"));
        let v = engine.flow(&s, &d, *proto, *port);
        assert_eq!(
            v.allowed,
            *want,
            "{rule}: {src} -> {dst} {proto:?}/{port}: {}",
            v.explanation()
        );
        assert!(!v.explanation().is_empty());
    }
}

const LOCKOUT: &str = include_str!("fixtures/lockout-ccnp.yaml");
const FIXED: &str = include_str!("fixtures/lockout-ccnp-fixed.yaml");

fn with_pod(
    mut inv: Inventory,
    ns: &str,
    name: &str,
    labels: &[(&str, &str)],
    node: &str,
    ip: &str,
) -> Inventory {
    inv.pods.push(std::sync::Arc::new(policy::inventory::Pod {
        namespace: ns.into(),
        name: name.into(),
        labels: policy::inventory::read::labels(labels),
        ip: ip.parse().ok(),
        node: Some(node.into()),
        service_account: "default".into(),
        ..Default::default()
    }));
    inv.normalise();
    inv
}

#[test]
fn lockout_ccnp_cuts_control_plane_c2_c13() {
    let inv = reference_cluster();
    let set = policies(LOCKOUT);
    check(
        &inv,
        &set,
        &[
            (
                "node/cp-1",
                "node/cp-2",
                Protocol::Tcp,
                2380,
                false,
                "C2.4/C13.4 etcd peer",
            ),
            (
                "node/cp-2",
                "node/cp-3",
                Protocol::Tcp,
                2379,
                false,
                "C2.4/C13.4 etcd client",
            ),
            (
                "node/worker-1",
                "node/cp-1",
                Protocol::Tcp,
                6443,
                false,
                "C2.4 kubelet to API server",
            ),
            (
                "node/cp-1",
                "node/worker-2",
                Protocol::Tcp,
                10250,
                false,
                "C2.4 API server to kubelet",
            ),
            (
                "node/cp-1",
                "node/cp-2",
                Protocol::Udp,
                8472,
                false,
                "C2.4 VXLAN",
            ),
            // The rule that was meant: 9100 from the cluster and from the monitoring /32.
            (
                "node/cp-1",
                "node/cp-2",
                Protocol::Tcp,
                9100,
                true,
                "C8 cluster includes remote-node",
            ),
            (
                "103.10.20.30",
                "node/cp-2",
                Protocol::Tcp,
                9100,
                true,
                "C9 fromCIDR",
            ),
            (
                "103.10.20.31",
                "node/cp-2",
                Protocol::Tcp,
                9100,
                false,
                "C9 outside the /32",
            ),
            // C13.3: host policies do not apply between ordinary pods.
            (
                "kube-system/coredns-5d78c9869d-0",
                "kube-system/coredns-5d78c9869d-1",
                Protocol::Udp,
                53,
                true,
                "C13.3",
            ),
            // Egress is untouched by an ingress-only policy (C2.6).
            (
                "node/cp-1",
                "203.0.113.9",
                Protocol::Tcp,
                443,
                true,
                "C2.6 direction without entries",
            ),
        ],
    );
    let engine = Engine::new(&inv, &set);
    let (a, b) = (
        engine.host("cp-1").expect("cp-1"),
        engine.host("cp-2").expect("cp-2"),
    );
    let v = engine.flow(&a, &b, Protocol::Tcp, 2380);
    assert!(v.ingress.enforced && v.ingress.default_deny);
    assert_eq!(
        v.ingress.selected_by,
        vec!["CiliumClusterwideNetworkPolicy restrict-node-exporter-hostport-9100".to_owned()]
    );
    assert!(
        v.explanation().contains("default-deny"),
        "{}",
        v.explanation()
    );
    assert!(v.ingress.cites.contains(&"C2.4"));
}

#[test]
fn corrected_lockout_policy_allows_control_plane() {
    let inv = reference_cluster();
    check(
        &inv,
        &policies(FIXED),
        &[
            (
                "node/cp-1",
                "node/cp-2",
                Protocol::Tcp,
                2380,
                true,
                "C8 cluster",
            ),
            (
                "node/cp-2",
                "node/cp-3",
                Protocol::Tcp,
                2379,
                true,
                "C8 cluster",
            ),
            (
                "node/worker-1",
                "node/cp-1",
                Protocol::Tcp,
                6443,
                true,
                "C8 cluster",
            ),
            (
                "node/cp-1",
                "node/worker-2",
                Protocol::Tcp,
                10250,
                true,
                "C8 cluster",
            ),
            (
                "198.51.100.7",
                "node/cp-1",
                Protocol::Tcp,
                6443,
                true,
                "C5.2 ports without L3",
            ),
            (
                "198.51.100.7",
                "node/cp-1",
                Protocol::Tcp,
                22,
                false,
                "C2.4 world on other ports",
            ),
        ],
    );
}

#[test]
fn host_firewall_off_makes_host_policies_inert_c13_1() {
    let mut inv = reference_cluster();
    inv.cilium.host_firewall = false;
    check(
        &inv,
        &policies(LOCKOUT),
        &[("node/cp-1", "node/cp-2", Protocol::Tcp, 2380, true, "C13.1")],
    );
}

#[test]
fn published_host_policy_examples_behave_as_documented() {
    // Tutorial policy: nodes labelled access=ssh; all from cluster, SSH and ICMP echo from anywhere.
    let mut inv = reference_cluster();
    for n in inv
        .nodes
        .iter_mut()
        .filter(|n| n.name.starts_with("worker"))
    {
        let n = std::sync::Arc::make_mut(n);
        n.labels.insert("access".into(), "ssh".into());
        n.labels.insert("role".into(), "worker".into());
    }
    check(
        &inv,
        &policies(include_str!("fixtures/host-ssh-and-cluster.yaml")),
        &[
            (
                "198.51.100.7",
                "node/worker-1",
                Protocol::Tcp,
                22,
                true,
                "C5.2 toPorts without L3",
            ),
            (
                "198.51.100.7",
                "node/worker-1",
                Protocol::Tcp,
                80,
                false,
                "C2.4 other ports from outside",
            ),
            (
                "198.51.100.7",
                "node/worker-1",
                Protocol::Icmp,
                8,
                true,
                "C10 icmps EchoRequest",
            ),
            (
                "node/cp-1",
                "node/worker-1",
                Protocol::Tcp,
                10250,
                true,
                "C8 cluster",
            ),
            (
                "kube-system/coredns-5d78c9869d-0",
                "node/worker-2",
                Protocol::Tcp,
                9090,
                true,
                "C8 cluster covers pods",
            ),
            (
                "198.51.100.7",
                "node/cp-1",
                Protocol::Tcp,
                80,
                true,
                "C13.2 node not selected",
            ),
        ],
    );
    // "Lock down ingress" example: listed ports from anywhere; 10250 and 2380 are not listed.
    check(
        &inv,
        &policies(include_str!("fixtures/worker-minimal-ports.yaml")),
        &[
            (
                "node/cp-1",
                "node/worker-1",
                Protocol::Tcp,
                6443,
                true,
                "C5.2",
            ),
            (
                "node/cp-1",
                "node/worker-1",
                Protocol::Udp,
                8472,
                true,
                "C5.2",
            ),
            (
                "node/cp-1",
                "node/worker-1",
                Protocol::Tcp,
                10250,
                false,
                "C13.7 kubelet not in the example",
            ),
            (
                "node/cp-1",
                "node/worker-1",
                Protocol::Udp,
                6081,
                false,
                "C13.7 geneve not in the example",
            ),
            (
                "node/worker-1",
                "node/cp-1",
                Protocol::Tcp,
                2380,
                true,
                "C13.2 control plane not selected",
            ),
        ],
    );
}

#[test]
fn deny_only_policy_switches_on_default_deny_c2_6() {
    let inv = reference_cluster();
    let deny_only = "apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: deny-world}\nspec:\n  nodeSelector: {}\n  ingressDeny:\n  - fromEntities: [world]\n";
    check(
        &inv,
        &policies(deny_only),
        &[
            (
                "node/cp-1",
                "node/cp-2",
                Protocol::Tcp,
                2380,
                false,
                "C2.6 deny-only flips default deny",
            ),
            (
                "198.51.100.7",
                "node/cp-2",
                Protocol::Tcp,
                22,
                false,
                "C4.2 deny",
            ),
        ],
    );
    let with_flag = format!("{deny_only}  enableDefaultDeny: {{ingress: false}}\n");
    check(
        &inv,
        &policies(&with_flag),
        &[
            (
                "node/cp-1",
                "node/cp-2",
                Protocol::Tcp,
                2380,
                true,
                "C2.5/C2.7 allow-all baseline",
            ),
            (
                "198.51.100.7",
                "node/cp-2",
                Protocol::Tcp,
                22,
                false,
                "C2.5 deny still applies",
            ),
        ],
    );
    let mut forced = reference_cluster();
    forced.cilium.non_default_deny_policies = false;
    check(
        &forced,
        &policies(&with_flag),
        &[(
            "node/cp-1",
            "node/cp-2",
            Protocol::Tcp,
            2380,
            false,
            "C2.3 flag forced",
        )],
    );
}

#[test]
fn deny_beats_allow_across_resources_c4_2() {
    let inv = with_pod(
        reference_cluster(),
        "shop",
        "web",
        &[("app", "web")],
        "worker-1",
        "10.244.3.20",
    );
    let inv = with_pod(
        inv,
        "shop",
        "client",
        &[("app", "client")],
        "worker-2",
        "10.244.4.20",
    );
    let set = policies(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: allow-all, namespace: shop}\nspec:\n  podSelector: {}\n  ingress: [{}]\n---\napiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: no-8080}\nspec:\n  endpointSelector: {matchLabels: {app: web}}\n  ingressDeny:\n  - toPorts: [{ports: [{port: '8080', protocol: TCP}]}]\n",
    );
    check(
        &inv,
        &set,
        &[
            (
                "shop/client",
                "shop/web",
                Protocol::Tcp,
                8080,
                false,
                "C4.2",
            ),
            (
                "shop/client",
                "shop/web",
                Protocol::Tcp,
                80,
                true,
                "K5 ingress [{}] allows all",
            ),
        ],
    );
}

#[test]
fn namespace_injection_c7() {
    let inv = with_pod(
        reference_cluster(),
        "a",
        "web",
        &[("app", "web")],
        "worker-1",
        "10.244.3.20",
    );
    let inv = with_pod(
        inv,
        "a",
        "client",
        &[("app", "c")],
        "worker-2",
        "10.244.4.21",
    );
    let inv = with_pod(
        inv,
        "b",
        "client",
        &[("app", "c")],
        "worker-2",
        "10.244.4.22",
    );
    let cnp = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p, namespace: a}\nspec:\n  endpointSelector: {matchLabels: {app: web}}\n  ingress: [{fromEndpoints: [{}]}]\n";
    check(
        &inv,
        &policies(cnp),
        &[
            (
                "a/client",
                "a/web",
                Protocol::Tcp,
                80,
                true,
                "C7.2 same namespace",
            ),
            (
                "b/client",
                "a/web",
                Protocol::Tcp,
                80,
                false,
                "C7.2 other namespace",
            ),
            (
                "node/worker-2",
                "a/web",
                Protocol::Tcp,
                80,
                false,
                "C7.2 not the host",
            ),
            (
                "node/worker-1",
                "a/web",
                Protocol::Tcp,
                80,
                true,
                "C14 allow-localhost",
            ),
        ],
    );
    let ccnp = "apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: p}\nspec:\n  endpointSelector: {matchLabels: {app: web}}\n  ingress: [{fromEndpoints: [{}]}]\n";
    check(
        &inv,
        &policies(ccnp),
        &[
            (
                "b/client",
                "a/web",
                Protocol::Tcp,
                80,
                true,
                "C7.3 any namespace",
            ),
            (
                "node/worker-2",
                "a/web",
                Protocol::Tcp,
                80,
                false,
                "C7.3 never remote-node",
            ),
        ],
    );
    // C7.3 in a host policy: `fromEndpoints: [{}]` does not cover other nodes (footgun d.8).
    let host = "apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: h}\nspec:\n  nodeSelector: {}\n  ingress: [{fromEndpoints: [{}]}]\n";
    check(
        &inv,
        &policies(host),
        &[
            (
                "a/client",
                "node/cp-1",
                Protocol::Tcp,
                6443,
                true,
                "C7.3 pods",
            ),
            (
                "node/cp-2",
                "node/cp-1",
                Protocol::Tcp,
                2380,
                false,
                "C7.3 not remote-node",
            ),
        ],
    );
    // C7.1: a CNP subject is confined to its namespace even if it names another.
    let other = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p, namespace: b}\nspec:\n  endpointSelector: {matchLabels: {k8s:io.kubernetes.pod.namespace: a}}\n  ingress: [{}]\n";
    check(
        &inv,
        &policies(other),
        &[("a/client", "a/web", Protocol::Tcp, 80, true, "C7.1")],
    );
}

#[test]
fn entities_cidr_and_ports_c8_c9_c10() {
    let inv = reference_cluster();
    let mk = |ingress: &str| {
        policies(&format!(
            "apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {{name: p}}\nspec:\n  nodeSelector: {{}}\n  ingress:\n{ingress}"
        ))
    };
    check(
        &inv,
        &mk("  - fromEntities: [remote-node]\n"),
        &[
            (
                "node/cp-1",
                "node/cp-2",
                Protocol::Tcp,
                2380,
                true,
                "C8 remote-node",
            ),
            (
                "198.51.100.7",
                "node/cp-2",
                Protocol::Tcp,
                2380,
                false,
                "C8 world is not remote-node",
            ),
        ],
    );
    check(
        &inv,
        &mk("  - fromEntities: [kube-apiserver]\n"),
        &[
            (
                "node/cp-1",
                "node/worker-1",
                Protocol::Tcp,
                10250,
                true,
                "C8 kube-apiserver on cp nodes",
            ),
            (
                "node/worker-2",
                "node/worker-1",
                Protocol::Tcp,
                10250,
                false,
                "C8 workers are not apiserver",
            ),
        ],
    );
    check(
        &inv,
        &mk("  - fromCIDR: [10.0.0.0/24]\n"),
        &[(
            "node/cp-1",
            "node/cp-2",
            Protocol::Tcp,
            2380,
            false,
            "C9 CIDR does not match nodes",
        )],
    );
    let mut nodes_mode = reference_cluster();
    nodes_mode.cilium.cidr_match_nodes = true;
    check(
        &nodes_mode,
        &mk("  - fromCIDR: [10.0.0.0/24]\n"),
        &[(
            "node/cp-1",
            "node/cp-2",
            Protocol::Tcp,
            2380,
            true,
            "C9 policy-cidr-match-mode nodes",
        )],
    );
    check(
        &inv,
        &mk("  - fromCIDRSet: [{cidr: 198.51.100.0/24, except: [198.51.100.0/28]}]\n"),
        &[
            (
                "198.51.100.77",
                "node/cp-1",
                Protocol::Tcp,
                22,
                true,
                "C9 inside",
            ),
            (
                "198.51.100.7",
                "node/cp-1",
                Protocol::Tcp,
                22,
                false,
                "C9 except",
            ),
        ],
    );
    check(
        &inv,
        &mk("  - toPorts: [{ports: [{port: '2379', endPort: 2380}]}]\n"),
        &[
            (
                "node/cp-1",
                "node/cp-2",
                Protocol::Tcp,
                2380,
                true,
                "C10 endPort inclusive",
            ),
            (
                "node/cp-1",
                "node/cp-2",
                Protocol::Udp,
                2379,
                true,
                "C10 ANY includes UDP",
            ),
            (
                "node/cp-1",
                "node/cp-2",
                Protocol::Icmp,
                8,
                false,
                "C10 ANY excludes ICMP",
            ),
        ],
    );
    check(
        &inv,
        &mk("  - toPorts: [{ports: [{port: '0', protocol: TCP}]}]\n"),
        &[
            (
                "node/cp-1",
                "node/cp-2",
                Protocol::Tcp,
                31000,
                true,
                "C10 port 0 = all",
            ),
            (
                "node/cp-1",
                "node/cp-2",
                Protocol::Udp,
                8472,
                false,
                "C10 TCP only",
            ),
        ],
    );
    // C5.4: an explicitly empty list isolates and allows nothing.
    check(
        &inv,
        &mk("  - fromEntities: []\n"),
        &[("node/cp-1", "node/cp-2", Protocol::Tcp, 2380, false, "C5.4")],
    );
}

#[test]
fn label_filter_makes_node_selector_inert_c6_4_c13_2() {
    let inv = reference_cluster();
    let on_hostname = "apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: p}\nspec:\n  nodeSelector: {matchLabels: {kubernetes.io/hostname: cp-2}}\n  ingress: [{}]\n";
    check(
        &inv,
        &policies(on_hostname),
        &[(
            "node/cp-1",
            "node/cp-2",
            Protocol::Tcp,
            2380,
            true,
            "C6.4 filtered label never matches",
        )],
    );
    let on_role = "apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: p}\nspec:\n  nodeSelector: {matchLabels: {node-role.kubernetes.io/control-plane: ''}}\n  ingress: [{}]\n";
    check(
        &inv,
        &policies(on_role),
        &[
            (
                "node/cp-1",
                "node/cp-2",
                Protocol::Tcp,
                2380,
                false,
                "C6.4 node-role is kept",
            ),
            (
                "node/cp-1",
                "node/worker-2",
                Protocol::Tcp,
                10250,
                true,
                "C13.2 workers not selected",
            ),
        ],
    );
}

#[test]
fn knp_semantics_under_cilium_k2_k9_c4_1() {
    let inv = with_pod(
        reference_cluster(),
        "shop",
        "web",
        &[("app", "web")],
        "worker-1",
        "10.244.3.20",
    );
    let inv = with_pod(
        inv,
        "shop",
        "client",
        &[("app", "client")],
        "worker-2",
        "10.244.4.20",
    );
    // K2: egress rules without policyTypes also isolate ingress.
    let egress_only = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: e, namespace: shop}\nspec:\n  podSelector: {matchLabels: {app: web}}\n  egress: [{}]\n";
    check(
        &inv,
        &policies(egress_only),
        &[
            (
                "shop/client",
                "shop/web",
                Protocol::Tcp,
                80,
                false,
                "K2 ingress implied",
            ),
            (
                "shop/web",
                "shop/client",
                Protocol::Tcp,
                80,
                true,
                "K5 egress [{}]",
            ),
            (
                "node/worker-1",
                "shop/web",
                Protocol::Tcp,
                8080,
                true,
                "C14 kubelet probes",
            ),
        ],
    );
    // C4.1: the client's egress must allow too.
    let client_egress = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: c, namespace: shop}\nspec:\n  podSelector: {matchLabels: {app: client}}\n  policyTypes: [Egress]\n  egress:\n  - to: [{podSelector: {matchLabels: {app: db}}}]\n";
    check(
        &inv,
        &policies(client_egress),
        &[
            (
                "shop/client",
                "shop/web",
                Protocol::Tcp,
                80,
                false,
                "C4.1 source egress",
            ),
            (
                "shop/web",
                "shop/client",
                Protocol::Tcp,
                80,
                true,
                "K1 ingress not isolated",
            ),
        ],
    );
    // K9: a NetworkPolicy never selects a host endpoint.
    let all = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: d, namespace: kube-system}\nspec:\n  podSelector: {}\n  policyTypes: [Ingress, Egress]\n";
    check(
        &inv,
        &policies(all),
        &[
            (
                "node/cp-1",
                "node/cp-2",
                Protocol::Tcp,
                2380,
                true,
                "K9 hostNetwork etcd is the host",
            ),
            (
                "shop/client",
                "kube-system/coredns-5d78c9869d-0",
                Protocol::Udp,
                53,
                false,
                "K1 DNS cut",
            ),
        ],
    );
}

#[test]
fn enforcement_modes_c3() {
    let mut inv = reference_cluster();
    inv.cilium.enforcement = EnforcementMode::Always;
    check(
        &inv,
        &PolicySet::default(),
        &[(
            "node/cp-1",
            "node/cp-2",
            Protocol::Tcp,
            2380,
            false,
            "C3 always + host firewall",
        )],
    );
    inv.cilium.enforcement = EnforcementMode::Never;
    check(
        &inv,
        &policies(LOCKOUT),
        &[(
            "node/cp-1",
            "node/cp-2",
            Protocol::Tcp,
            2380,
            true,
            "C3 never",
        )],
    );
    let mut audit = reference_cluster();
    audit.cilium.audit_mode = true;
    check(
        &audit,
        &policies(LOCKOUT),
        &[(
            "node/cp-1",
            "node/cp-2",
            Protocol::Tcp,
            2380,
            true,
            "C13.6 audit",
        )],
    );
}

#[test]
fn fqdn_destinations_are_runtime_knowledge_c12() {
    let inv = with_pod(
        reference_cluster(),
        "shop",
        "web",
        &[("app", "web")],
        "worker-1",
        "10.244.3.20",
    );
    let set = policies(
        "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: gh, namespace: shop}\nspec:\n  endpointSelector: {matchLabels: {app: web}}\n  egress:\n  - toFQDNs: [{matchName: api.github.com}]\n    toPorts: [{ports: [{port: '443', protocol: TCP}]}]\n",
    );
    let engine = Engine::new(&inv, &set);
    let (s, d) = (
        engine.resolve("shop/web").expect("pod"),
        engine.resolve("140.82.112.6").expect("world"),
    );
    let v = engine.flow(&s, &d, Protocol::Tcp, 443);
    assert!(!v.allowed, "C12: statically no FQDN IP is known");
    assert!(
        v.egress.cites.contains(&"C12") && v.explanation().contains("toFQDNs"),
        "{}",
        v.explanation()
    );
}

/// C10: ICMP type names are read per family, as the CRD lists them: `Echo` is IPv4 type 8,
/// an IPv6 `EchoRequest` is ICMPv6 type 128 (not ICMP 128, nor ICMPv6 8).
#[test]
fn c10_icmp_type_names_per_family() {
    let set = policies(
        "apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: icmp}\nspec:\n  nodeSelector: {}\n  ingress:\n  - fromEntities: [cluster]\n    toPorts: [{ports: [{port: '0', protocol: ANY}]}]\n  - icmps: [{fields: [{type: Echo}, {type: EchoRequest, family: IPv6}]}]\n",
    );
    let src = "198.51.100.7";
    let dst = "node/worker-1";
    check(
        &reference_cluster(),
        &set,
        &[
            (src, dst, Protocol::Icmp, 8, true, "C10 Echo is IPv4 type 8"),
            (
                src,
                dst,
                Protocol::IcmpV6,
                128,
                true,
                "C10 IPv6 EchoRequest is 128",
            ),
            (src, dst, Protocol::Icmp, 128, false, "C10 not ICMPv4 128"),
            (src, dst, Protocol::IcmpV6, 8, false, "C10 not ICMPv6 8"),
        ],
    );
}
