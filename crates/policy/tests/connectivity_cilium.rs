//! `policy connectivity` under Cilium semantics: small hand-made cases whose expected listing
//! follows from policy-semantics.md (rule numbers beside each line).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

use policy::source::load_bytes;

/// Two workloads in `shop`, one in `other`; pods from Deployments (no nodes given).
const WORKLOADS: &str = "
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Namespace
metadata: {name: other}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 2
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, ports: [{containerPort: 8080, name: http}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: db, namespace: shop}
spec:
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: c, ports: [{containerPort: 5432, name: pg}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: client, namespace: other}
spec:
  template:
    metadata: {labels: {app: client}}
    spec: {containers: [{name: c}]}
";

const WEB: &str = "shop/web[Deployment]";
const DB: &str = "shop/db[Deployment]";
const CLIENT: &str = "other/client[Deployment]";
const WORLD: &str = "0.0.0.0-255.255.255.255[External]";

fn listing(policies: &str) -> Vec<String> {
    let text = format!("{WORKLOADS}---\n{policies}");
    let docs = load_bytes("c.yaml", text.as_bytes()).expect("yaml");
    let parsed = policy::parse::policies(&docs);
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    let inv = policy::inventory::read::inventory(&docs).expect("inventory");
    policy::connectivity::cilium::connectivity(&inv, &parsed.policies)
        .iter()
        .map(|c| c.line())
        .collect()
}

fn assert_listing(policies: &str, want: &[String]) {
    let got = listing(policies);
    let mut want = want.to_vec();
    want.sort();
    assert_eq!(got, want, "\ngot:\n{}\n", got.join("\n"));
}

fn line(src: &str, dst: &str, conn: &str) -> String {
    format!("{src} => {dst} : {conn}")
}

/// Every pair among the three workloads and the world, all allowed, except those in `but`
/// (given with their own connections, or dropped when `None`).
fn all_but(but: &[(&str, &str, Option<&str>)]) -> Vec<String> {
    let peers = [WEB, DB, CLIENT, WORLD];
    let mut out = Vec::new();
    for s in peers {
        for d in peers {
            if s == d || (s == WORLD && d == WORLD) {
                continue;
            }
            match but.iter().find(|(a, b, _)| *a == s && *b == d) {
                Some((_, _, Some(c))) => out.push(line(s, d, c)),
                Some((_, _, None)) => {}
                None => out.push(line(s, d, "All Connections")),
            }
        }
    }
    out
}

#[test]
fn cnp_ingress_from_same_namespace_peer_on_one_port() {
    // C2.2/C2.4: db is ingress default-deny; C5.1: fromEndpoints AND toPorts; C7.2: the
    // peer selector gets the policy's namespace, so other/client does not match; C2.6: db's
    // egress has no entries and stays open.
    let cnp = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: db, namespace: shop}\nspec:\n  endpointSelector: {matchLabels: {app: db}}\n  ingress:\n  - fromEndpoints: [{matchLabels: {app: web}}]\n    toPorts: [{ports: [{port: '5432', protocol: TCP}]}]\n";
    assert_listing(
        cnp,
        &all_but(&[
            (WEB, DB, Some("TCP 5432")),
            (CLIENT, DB, None),
            (WORLD, DB, None),
        ]),
    );
}

#[test]
fn ccnp_egress_to_host_entity_and_a_cidr() {
    // C7.5: a CCNP endpointSelector spans namespaces; C2.4: web egress default-deny;
    // C8: `host` is web's own node, an L3-only rule allows every port (C5.3);
    // C9: toCIDR plus toPorts allows 10.0.0.0/8 on TCP 443 only, and the world is split at
    // that CIDR's bounds.
    let ccnp = "apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: web-out}\nspec:\n  endpointSelector: {matchLabels: {app: web}}\n  egress:\n  - toEntities: [host]\n  - toCIDR: [10.0.0.0/8]\n    toPorts: [{ports: [{port: '443', protocol: TCP}]}]\n";
    let ranges = [
        "0.0.0.0-9.255.255.255[External]",
        "10.0.0.0-10.255.255.255[External]",
        "11.0.0.0-255.255.255.255[External]",
    ];
    let host = "host[Entity]";
    let mut want = Vec::new();
    for (s, d) in [(DB, CLIENT), (CLIENT, DB), (DB, WEB), (CLIENT, WEB)] {
        want.push(line(s, d, "All Connections"));
    }
    for w in [WEB, DB, CLIENT] {
        // C2.6: nobody's ingress is enforced; C14 aside, the host reaches every pod.
        want.push(line(host, w, "All Connections"));
        for r in ranges {
            want.push(line(r, w, "All Connections"));
        }
    }
    for w in [DB, CLIENT] {
        want.push(line(w, host, "All Connections"));
        for r in ranges {
            want.push(line(w, r, "All Connections"));
        }
    }
    want.push(line(WEB, host, "All Connections"));
    want.push(line(WEB, ranges[1], "TCP 443"));
    assert_listing(ccnp, &want);
}

#[test]
fn deny_beats_allow_and_knp_beside_cnp_follows_k9() {
    // C4.2: the deny on TCP 22 wins over `fromEntities: [all]`; C2.6: the allow-all item
    // keeps the rest open. K9: the NetworkPolicy on web (podSelector-only peer = own
    // namespace) allows db on TCP 8080, plus the named port `http` (K7) which is 8080 too.
    let policies = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: db, namespace: shop}\nspec:\n  endpointSelector: {matchLabels: {app: db}}\n  ingress:\n  - fromEntities: [all]\n  ingressDeny:\n  - fromEndpoints: [{matchLabels: {app: web}}]\n    toPorts: [{ports: [{port: '22', protocol: TCP}]}]\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: web, namespace: shop}\nspec:\n  podSelector: {matchLabels: {app: web}}\n  policyTypes: [Ingress]\n  ingress:\n  - from: [{podSelector: {matchLabels: {app: db}}}]\n    ports: [{port: http}]\n";
    assert_listing(
        policies,
        &all_but(&[
            (WEB, DB, Some("TCP 1-21,23-65535,UDP,SCTP")),
            (DB, WEB, Some("TCP 8080")),
            (CLIENT, WEB, None),
            (WORLD, WEB, None),
        ]),
    );
}
