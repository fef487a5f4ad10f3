//! Parser tests: valid shapes, C1 validation errors naming file/document/field, unknown-field
//! findings, and arbitrary bytes never panicking.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

use policy::model::{Direction, Entity, KnpPeer, L7Kind, Peer, PortSpec, Protocol, Subject};
use policy::parse::{self, Parsed};
use policy::source::load_bytes;

fn parse_str(text: &str) -> Parsed {
    let docs = load_bytes("test.yaml", text.as_bytes()).expect("syntax");
    parse::policies(&docs)
}

const LOCKOUT: &str = include_str!("fixtures/lockout-ccnp.yaml");

#[test]
fn lockout_ccnp_parses_as_host_policy() {
    let p = parse_str(LOCKOUT);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    let c = &p.policies.cilium[0];
    assert_eq!(c.kind(), "CiliumClusterwideNetworkPolicy");
    let r = &c.rules[0];
    // C13.2: matchLabels {} selects every node.
    assert!(matches!(&r.subject, Subject::Nodes(s) if s.is_empty()));
    assert_eq!(r.ingress.len(), 2);
    assert!(matches!(r.ingress[0].peers[0], Peer::Cidr(_)));
    assert_eq!(r.ingress[1].peers, vec![Peer::Entity(Entity::Cluster)]);
    let ports = r.ingress[1].ports.as_ref().expect("toPorts");
    assert_eq!(ports[0].ports[0].port, PortSpec::Number(9100));
    assert_eq!(ports[0].ports[0].protocol, Protocol::Tcp);
}

#[test]
fn knp_policy_types_defaulting_k2() {
    let cases = [
        // (spec body, expected types)
        ("ingress: [{}]", vec![Direction::Ingress]),
        ("egress: [{}]", vec![Direction::Ingress, Direction::Egress]),
        ("egress: []", vec![Direction::Ingress]),
        (
            "policyTypes: [Egress]\n  egress: []",
            vec![Direction::Egress],
        ),
    ];
    for (body, want) in cases {
        let text = format!(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: p, namespace: a}}\nspec:\n  podSelector: {{}}\n  {body}\n"
        );
        let p = parse_str(&text);
        assert!(p.errors.is_empty(), "{body}: {:?}", p.errors);
        assert_eq!(
            p.policies.network_policies[0].policy_types, want,
            "K2 for {body}"
        );
    }
}

#[test]
fn knp_peers_and_ports_k5_k6_k7() {
    let p = parse_str(
        "kind: NetworkPolicy\napiVersion: networking.k8s.io/v1\nmetadata: {name: p}\nspec:\n  podSelector: {matchLabels: {app: db}}\n  ingress:\n  - from:\n    - namespaceSelector: {matchLabels: {team: a}}\n      podSelector: {matchLabels: {app: web}}\n    - ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}\n    ports:\n    - port: 5432\n    - port: http\n      protocol: TCP\n    - port: 8000\n      endPort: 8100\n      protocol: UDP\n",
    );
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    let np = &p.policies.network_policies[0];
    assert_eq!(np.namespace, "default");
    let rule = &np.ingress[0];
    assert!(matches!(
        &rule.peers[0],
        KnpPeer::Pods {
            pods: Some(_),
            namespaces: Some(_)
        }
    ));
    assert!(matches!(&rule.peers[1], KnpPeer::IpBlock { except, .. } if except.len() == 1));
    assert_eq!(
        rule.ports[0].protocol,
        Protocol::Tcp,
        "K7: protocol defaults to TCP"
    );
    assert_eq!(rule.ports[1].port, PortSpec::Named("http".into()));
    assert_eq!(rule.ports[2].end_port, Some(8100));
}

#[test]
fn c5_4_explicit_empty_peer_list_is_kept_apart_from_null() {
    let p = parse_str(
        "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p, namespace: a}\nspec:\n  endpointSelector: {}\n  ingress:\n  - fromEndpoints: []\n  - fromEndpoints:\n    toPorts: [{ports: [{port: '80'}]}]\n",
    );
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    let r = &p.policies.cilium[0].rules[0];
    assert!(r.ingress[0].l3_present && r.ingress[0].peers.is_empty());
    assert_eq!(r.ingress[0].empty_lists, vec!["fromEndpoints".to_owned()]);
    assert!(
        !r.ingress[1].l3_present,
        "C5.4: `fromEndpoints:` with nothing is null = absent"
    );
}

#[test]
fn specs_l7_fqdn_icmp_services_and_default_deny() {
    let p = parse_str(include_str!("fixtures/cilium-features.yaml"));
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    let c = &p.policies.cilium[0];
    assert_eq!(c.rules.len(), 2, "C1: specs is a list of rules");
    let r0 = &c.rules[0];
    assert_eq!(r0.enable_default_deny.ingress, Some(false));
    let dns = &r0.egress[0].ports.as_ref().expect("ports")[0];
    assert_eq!(dns.l7, Some(L7Kind::Dns));
    assert_eq!(dns.dns_patterns, vec!["*".to_owned()]);
    assert!(matches!(r0.egress[1].peers[0], Peer::Fqdn(_)));
    assert!(r0.ingress[0].icmps.as_ref().is_some_and(|i| i.len() == 1));
    assert!(matches!(r0.egress[2].peers[0], Peer::Service { .. }));
    let r1 = &c.rules[1];
    assert_eq!(r1.egress_deny.len(), 1);
    assert!(matches!(&r1.egress_deny[0].peers[0], Peer::Cidr(c) if c.except.len() == 1));
}

/// C1 and friends: each invalid rule is an error naming file, document and field.
#[test]
fn invalid_rules_are_errors_with_file_document_and_field() {
    let head =
        "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p, namespace: a}\n";
    let chead =
        "apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: p}\n";
    let cases: &[(&str, String, &str, &str)] = &[
        (
            "C1 no direction",
            format!("{head}spec:\n  endpointSelector: {{}}\n  ingress: []\n"),
            "spec",
            "at least one of",
        ),
        (
            "C1 both selectors",
            format!(
                "{chead}spec:\n  endpointSelector: {{}}\n  nodeSelector: {{}}\n  ingress: [{{}}]\n"
            ),
            "spec",
            "both",
        ),
        (
            "C1 no selector",
            format!("{head}spec:\n  ingress: [{{}}]\n"),
            "spec",
            "endpointSelector or nodeSelector",
        ),
        (
            "C1 nodeSelector in CNP",
            format!("{head}spec:\n  nodeSelector: {{}}\n  ingress: [{{}}]\n"),
            "spec.nodeSelector",
            "NodeSelector",
        ),
        ("C1 no spec", head.to_string(), "spec", "spec or specs"),
        (
            "C8 unknown entity",
            format!(
                "{head}spec:\n  endpointSelector: {{}}\n  ingress: [{{fromEntities: [planet]}}]\n"
            ),
            "spec.ingress[0].fromEntities[0]",
            "unknown entity",
        ),
        (
            "C10 port range",
            format!(
                "{head}spec:\n  endpointSelector: {{}}\n  ingress: [{{toPorts: [{{ports: [{{port: '70000'}}]}}]}}]\n"
            ),
            "spec.ingress[0].toPorts[0].ports[0].port",
            "outside",
        ),
        (
            "C10 endPort below port",
            format!(
                "{head}spec:\n  endpointSelector: {{}}\n  ingress: [{{toPorts: [{{ports: [{{port: '90', endPort: 80}}]}}]}}]\n"
            ),
            "spec.ingress[0].toPorts[0].ports[0]",
            "below",
        ),
        (
            "C10 protocol",
            format!(
                "{head}spec:\n  endpointSelector: {{}}\n  ingress: [{{toPorts: [{{ports: [{{port: '80', protocol: HTTP}}]}}]}}]\n"
            ),
            "spec.ingress[0].toPorts[0].ports[0].protocol",
            "unsupported protocol",
        ),
        (
            "C5.6 fqdn with other L3",
            format!(
                "{head}spec:\n  endpointSelector: {{}}\n  egress: [{{toFQDNs: [{{matchName: a.b}}], toEntities: [world]}}]\n"
            ),
            "spec.egress[0]",
            "toFQDNs",
        ),
        (
            "C5.6 icmps with toPorts",
            format!(
                "{head}spec:\n  endpointSelector: {{}}\n  ingress: [{{icmps: [{{fields: [{{type: 8}}]}}], toPorts: [{{ports: [{{port: '80'}}]}}]}}]\n"
            ),
            "spec.ingress[0]",
            "icmps",
        ),
        (
            "C11 L7 on host ingress",
            format!(
                "{chead}spec:\n  nodeSelector: {{}}\n  ingress: [{{toPorts: [{{ports: [{{port: '80', protocol: TCP}}], rules: {{http: [{{}}]}}}}]}}]\n"
            ),
            "spec.ingress[0].toPorts[0].rules",
            "host ingress",
        ),
        (
            "C11 L7 in deny",
            format!(
                "{head}spec:\n  endpointSelector: {{}}\n  egressDeny: [{{toPorts: [{{ports: [{{port: '53'}}], rules: {{dns: [{{matchPattern: '*'}}]}}}}]}}]\n"
            ),
            "spec.egressDeny[0].toPorts[0].rules",
            "deny",
        ),
        (
            "C9 bad CIDR",
            format!(
                "{head}spec:\n  endpointSelector: {{}}\n  ingress: [{{fromCIDR: [10.0.0.300/8]}}]\n"
            ),
            "spec.ingress[0].fromCIDR[0]",
            "not a CIDR",
        ),
        (
            "C9 except outside",
            format!(
                "{head}spec:\n  endpointSelector: {{}}\n  ingress: [{{fromCIDRSet: [{{cidr: 10.0.0.0/8, except: [11.0.0.0/8]}}]}}]\n"
            ),
            "spec.ingress[0].fromCIDRSet[0].except[0]",
            "not inside",
        ),
        (
            "wrong type",
            format!(
                "{head}spec:\n  endpointSelector: {{}}\n  ingress: {{fromEntities: [world]}}\n"
            ),
            "spec.ingress",
            "expected a list",
        ),
        (
            "selector operator",
            format!(
                "{head}spec:\n  endpointSelector: {{matchExpressions: [{{key: a, operator: Has}}]}}\n  ingress: [{{}}]\n"
            ),
            "spec.endpointSelector.matchExpressions[0].operator",
            "unknown operator",
        ),
    ];
    for (name, text, field, needle) in cases {
        let p = parse_str(&format!("---\n# first document is a comment\n---\n{text}"));
        assert!(
            p.policies.cilium.is_empty(),
            "{name}: an invalid policy must not be used"
        );
        let e = p
            .errors
            .iter()
            .find(|e| e.field == *field)
            .unwrap_or_else(|| panic!("{name}: no error on {field}: {:?}", p.errors));
        assert!(e.message.contains(needle), "{name}: {}", e.message);
        assert_eq!(e.file, "test.yaml");
        assert_eq!(e.doc, 1, "{name}: empty documents are skipped");
        assert!(e.line >= 3, "{name}: line {}", e.line);
        assert!(e.to_string().starts_with("test.yaml:"), "{name}: {e}");
    }
}

#[test]
fn unknown_fields_are_findings_not_errors() {
    // A renamed field (here the pre-1.x `fromEndpoint`) leaves the item with no L3 at all.
    let p = parse_str(
        "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p, namespace: a}\nspec:\n  endpointSelector: {}\n  ingress:\n  - fromEndpoint: [{}]\n    toPorts: [{ports: [{port: '80'}]}]\n",
    );
    assert!(p.errors.is_empty());
    assert_eq!(p.policies.cilium.len(), 1);
    let f = p
        .findings
        .iter()
        .find(|f| f.code == "unknown-field")
        .expect("finding");
    assert!(
        f.message.contains("spec.ingress[0].fromEndpoint"),
        "{}",
        f.message
    );
    assert_eq!(f.location.as_deref(), Some("test.yaml:7"));
}

#[test]
fn lists_json_and_folders() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("a.json"), r#"{"kind":"List","apiVersion":"v1","items":[{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"x","namespace":"n"},"spec":{"podSelector":{}}}]}"#).expect("write");
    std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
    std::fs::write(dir.path().join("sub/b.yaml"), LOCKOUT).expect("write");
    std::fs::write(dir.path().join("notes.txt"), "not: [yaml").expect("write");
    let docs = policy::source::load_path(dir.path(), inputs::Kind::POLICY).expect("load");
    let p = parse::policies(&docs);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert_eq!(p.policies.network_policies.len(), 1);
    assert_eq!(p.policies.cilium.len(), 1);
}

#[test]
fn malformed_yaml_and_bombs_are_clear_errors() {
    let err = load_bytes(
        "bad.yaml",
        b"kind: NetworkPolicy\nspec:\n  podSelector: {\n",
    )
    .expect_err("unclosed");
    let msg = err.to_string();
    assert!(msg.starts_with("bad.yaml:"), "{msg}");
    let bomb = "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n";
    let err = load_bytes("bomb.yaml", bomb.as_bytes()).expect_err("bomb");
    assert!(err.to_string().starts_with("bomb.yaml:"), "{err}");
    let err = load_bytes("bin.yaml", &[0xff, 0xfe, 0x00]).expect_err("binary");
    assert!(err.to_string().contains("bin.yaml"));
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(docs) = load_bytes("fuzz.yaml", &bytes) {
                let _ = parse::policies(&docs);
            }
        }

        #[test]
        fn mutated_policies_never_panic(pos in 0usize..2000, byte in any::<u8>(), cut in 0usize..2000) {
            let mut bytes = LOCKOUT.as_bytes().to_vec();
            let n = bytes.len();
            bytes[pos % n] = byte;
            bytes.truncate(cut.max(1) % n + 1);
            if let Ok(docs) = load_bytes("mut.yaml", &bytes) {
                let _ = parse::policies(&docs);
            }
        }
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let mut block = String::new();
    for i in 0..5000 {
        block.push_str(&" ".repeat(i));
        block.push_str("a:\n");
    }
    let err = load_bytes("deep.yaml", block.as_bytes()).expect_err("too deep");
    assert!(err.to_string().starts_with("deep.yaml:"), "{err}");
    let flow = format!("a: {}{}\n", "[".repeat(5000), "]".repeat(5000));
    let err = load_bytes("flow.yaml", flow.as_bytes()).expect_err("too deep");
    assert!(err.to_string().starts_with("flow.yaml:"), "{err}");
}

/// Issue 12: values the API server (Kubernetes validation, Cilium's CRD) or the Cilium agent
/// refuses are errors naming the field, never a policy that seems to check clean.
#[test]
fn values_the_api_server_or_cilium_refuses_are_errors() {
    let knp = |body: &str| {
        format!(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: p, namespace: a}}\nspec:\n  podSelector: {{}}\n{body}"
        )
    };
    let cnp = |item: &str| {
        format!(
            "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {{name: p, namespace: a}}\nspec:\n  endpointSelector: {{}}\n  ingress:\n  - {item}\n"
        )
    };
    let egress = |item: &str| {
        format!(
            "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {{name: p, namespace: a}}\nspec:\n  endpointSelector: {{}}\n  egress:\n  - {item}\n"
        )
    };
    // (case, document, field path ending, message part)
    let cases: Vec<(&str, String, &str, &str)> = vec![
        (
            "K7 port 0",
            knp("  ingress: [{ports: [{port: 0}]}]\n"),
            "ports[0].port",
            "1-65535",
        ),
        (
            "K7 port above range",
            knp("  ingress: [{ports: [{port: 70000}]}]\n"),
            "ports[0].port",
            "1-65535",
        ),
        (
            "K7 quoted number",
            knp("  ingress: [{ports: [{port: '80'}]}]\n"),
            "ports[0].port",
            "without quotes",
        ),
        (
            "K7 upper-case name",
            knp("  ingress: [{ports: [{port: HTTP}]}]\n"),
            "ports[0].port",
            "lower-case",
        ),
        (
            "K7 endPort 0",
            knp("  ingress: [{ports: [{port: 1, endPort: 0}]}]\n"),
            "endPort",
            "1-65535",
        ),
        (
            "K7 endPort quoted",
            knp("  ingress: [{ports: [{port: 1, endPort: '9'}]}]\n"),
            "endPort",
            "without quotes",
        ),
        (
            "K7 protocol case",
            knp("  ingress: [{ports: [{port: 80, protocol: tcp}]}]\n"),
            "protocol",
            "unsupported protocol",
        ),
        (
            "K7 protocol name",
            knp("  ingress: [{ports: [{port: 80, protocol: HTTP}]}]\n"),
            "protocol",
            "unsupported protocol",
        ),
        (
            "K6 host address",
            knp("  ingress: [{from: [{ipBlock: {cidr: 10.0.0.1}}]}]\n"),
            "ipBlock.cidr",
            "10.0.0.1/32",
        ),
        (
            "K6 except equal",
            knp("  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.0.0.0/8]}}]}]\n"),
            "except[0]",
            "strictly inside",
        ),
        (
            "K3 label key",
            knp("").replace("podSelector: {}", "podSelector: {matchLabels: {'a b': x}}"),
            "matchLabels.a b",
            "label key",
        ),
        (
            "K3 label value",
            knp("").replace(
                "podSelector: {}",
                "podSelector: {matchLabels: {app: 'x y'}}",
            ),
            "matchLabels.app",
            "label value",
        ),
        (
            "K3 expression value",
            knp("").replace(
                "podSelector: {}",
                "podSelector: {matchExpressions: [{key: app, operator: In, values: ['-x']}]}",
            ),
            "matchExpressions[0]",
            "label value",
        ),
        (
            "name",
            knp("").replace("name: p,", "name: My_Policy,"),
            "metadata.name",
            "not a valid name",
        ),
        (
            "namespace",
            knp("").replace("namespace: a", "namespace: a.b"),
            "metadata.namespace",
            "namespace",
        ),
        (
            "apiVersion",
            knp("").replace("networking.k8s.io/v1", "networking.k8s.io/v1beta1"),
            "apiVersion",
            "networking.k8s.io/v1",
        ),
        (
            "C9 host address",
            cnp("fromCIDR: [10.0.0.1]"),
            "fromCIDR[0]",
            "10.0.0.1/32",
        ),
        (
            "C9 cidrSet host address",
            cnp("fromCIDRSet: [{cidr: '2001:db8::1'}]"),
            "cidr",
            "/128",
        ),
        (
            "C10 unquoted port",
            cnp("toPorts: [{ports: [{port: 80}]}]"),
            "ports[0].port",
            "as a string",
        ),
        (
            "C10 no port",
            cnp("toPorts: [{ports: [{protocol: TCP}]}]"),
            "ports[0].port",
            "must be specified",
        ),
        (
            "C10 port above range",
            cnp("toPorts: [{ports: [{port: '70000'}]}]"),
            "ports[0].port",
            "0-65535",
        ),
        (
            "C10 protocol case",
            cnp("toPorts: [{ports: [{port: '80', protocol: tcp}]}]"),
            "protocol",
            "unsupported protocol",
        ),
        (
            "C10 endPort quoted",
            cnp("toPorts: [{ports: [{port: '80', endPort: '90'}]}]"),
            "endPort",
            "without quotes",
        ),
        (
            "C10 endPort above range",
            cnp("toPorts: [{ports: [{port: '80', endPort: 70000}]}]"),
            "endPort",
            "0-65535",
        ),
        (
            "C11 L7 on port 0",
            egress("toPorts: [{ports: [{port: '0', protocol: TCP}], rules: {http: [{}]}}]"),
            "rules",
            "port is 0",
        ),
        (
            "C11 L7 on ANY",
            egress("toPorts: [{ports: [{port: '80', protocol: ANY}], rules: {http: [{}]}}]"),
            "rules",
            "TCP",
        ),
        (
            "C5.1 two peer kinds",
            cnp("fromEndpoints: [{}]\n    fromEntities: [world]"),
            "ingress[0]",
            "more than one kind",
        ),
        (
            "C5.1 CIDR and CIDR set",
            cnp("fromCIDR: [10.0.0.0/8]\n    fromCIDRSet: [{cidr: 10.1.0.0/16}]"),
            "ingress[0]",
            "more than one kind",
        ),
        (
            "C12 matchName",
            egress("toFQDNs: [{matchName: 'a b.com'}]"),
            "matchName",
            "not a DNS name",
        ),
        (
            "C10 ICMP type",
            cnp("icmps: [{fields: [{type: 300}]}]"),
            "type",
            "0-255",
        ),
        (
            "apiVersion",
            cnp("{}").replace("cilium.io/v2", "cilium.io/v1"),
            "apiVersion",
            "cilium.io/v2",
        ),
        ("label value not a string", cnp("fromEndpoints: [{matchLabels: {enabled: true}}]"), "matchLabels.enabled", "in quotes"),
        ("expression value not a string", knp("").replace("podSelector: {}", "podSelector: {matchExpressions: [{key: v, operator: In, values: [1]}]}"), "values[0]", "in quotes"),
        ("K2 three policyTypes", knp("  policyTypes: [Ingress, Egress, Ingress]\n"), "policyTypes", "more than two"),
        ("C1 empty specs", "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p, namespace: a}\nspecs: []\n".to_owned(), "specs", "no rule"),
    ];
    for (case, text, field, msg) in cases {
        let p = parse_str(&text);
        assert!(
            p.errors
                .iter()
                .any(|e| e.field.ends_with(field) && e.message.contains(msg)),
            "{case}: want {field}: {msg}, got {:#?}",
            p.errors
        );
        assert!(
            p.policies.is_empty(),
            "{case}: an invalid policy is not kept"
        );
    }
    // And the values they accept still parse: named ports, "0", ranges, a /32.
    let fine = [
        knp(
            "  ingress: [{ports: [{port: http}, {port: 8000, endPort: 8100, protocol: UDP}], from: [{ipBlock: {cidr: 10.0.0.1/32}}]}]\n",
        ),
        cnp(
            "fromEndpoints: [{matchLabels: {'k8s:app': web}}]\n    toPorts: [{ports: [{port: '0'}, {port: HTTP-alt, protocol: TCP}, {port: '8000', endPort: 8100}]}]",
        ),
        egress("toFQDNs: [{matchPattern: '*.example.com'}]"),
    ];
    for text in fine {
        let p = parse_str(&text);
        assert!(p.errors.is_empty(), "{text}: {:#?}", p.errors);
    }
}

/// A namespaced policy without metadata.namespace: checked in `default`, and said, since
/// `kubectl apply` puts it in the context's namespace.
#[test]
fn a_missing_namespace_is_assumed_default_and_said() {
    let p = parse_str(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec: {podSelector: {}}\n",
    );
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert_eq!(p.policies.network_policies[0].namespace, "default");
    assert!(
        p.findings
            .iter()
            .any(|f| f.code == "namespace-assumed" && f.message.contains("context")),
        "{:?}",
        p.findings
    );
    let ccnp = parse_str(LOCKOUT);
    assert!(!ccnp.findings.iter().any(|f| f.code == "namespace-assumed"));
}
