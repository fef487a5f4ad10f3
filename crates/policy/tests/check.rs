//! `policy check` on the reference cluster: the lockout CCNP gives critical denials, its
//! corrected version does not; JSON shape and exit codes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

use policy::check::{CheckOptions, check, flows_file::parse_flows};
use policy::inventory::reference::reference_cluster;
use policy::model::PolicySet;
use policy::parse;
use policy::source::load_bytes;

fn policies(text: &str) -> PolicySet {
    let docs = load_bytes("p.yaml", text.as_bytes()).expect("yaml");
    let p = parse::policies(&docs);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    p.policies
}

fn cp(s: &str) -> bool {
    s.starts_with("node/cp-")
}

#[test]
fn lockout_ccnp_critical_denials_between_control_plane_nodes() {
    let report = check(
        &reference_cluster(),
        &policies(include_str!("fixtures/lockout-ccnp.yaml")),
        &CheckOptions::default(),
        vec![],
    );
    assert!(report.assumed_inventory);
    for port in [2379u16, 2380, 6443, 10250] {
        let denied: Vec<_> = report
            .flows
            .iter()
            .filter(|f| f.port == port && cp(&f.src) && cp(&f.dst))
            .collect();
        assert!(
            !denied.is_empty(),
            "a flow for {port} between control-plane nodes"
        );
        for f in denied {
            assert_eq!(f.verdict, "deny", "{port}: {}", f.explanation);
            assert!(f.critical, "{port} is critical");
            assert!(
                f.explanation
                    .contains("restrict-node-exporter-hostport-9100"),
                "{}",
                f.explanation
            );
            assert!(f.rules.contains(&"C2.4"));
            let fix = f.fix.as_deref().expect("a fix");
            assert!(
                fix.contains("fromEntities: [remote-node]")
                    && fix.contains(&format!("port: \"{port}\"")),
                "{fix}"
            );
            assert!(fix.contains("enableDefaultDeny"), "{fix}");
        }
    }
    // Critical denials come first.
    assert_eq!(report.flows[0].verdict, "deny");
    assert!(report.flows[0].critical);
    assert_eq!(report.outcome(), policy::findings::Outcome::Critical);
    // Pods still resolve names: the host policy does not touch pod-to-pod traffic (C13.3).
    assert!(
        report
            .flows
            .iter()
            .filter(|f| f.name.starts_with("dns-"))
            .all(|f| f.verdict == "allow")
    );
}

#[test]
fn corrected_lockout_policy_allows_the_control_plane() {
    let report = check(
        &reference_cluster(),
        &policies(include_str!("fixtures/lockout-ccnp-fixed.yaml")),
        &CheckOptions::default(),
        vec![],
    );
    for port in [2379u16, 2380, 6443, 10250] {
        for f in report
            .flows
            .iter()
            .filter(|f| f.port == port && cp(&f.src) && cp(&f.dst))
        {
            assert_eq!(f.verdict, "allow", "{port}: {}", f.explanation);
            assert!(f.fix.is_none());
        }
    }
    assert!(
        report.flows.iter().all(|f| f.verdict == "allow"),
        "{:#?}",
        report
            .flows
            .iter()
            .filter(|f| f.verdict == "deny")
            .collect::<Vec<_>>()
    );
    assert_eq!(report.outcome(), policy::findings::Outcome::Clean);
}

#[test]
fn cluster_wide_default_deny_cuts_dns_and_apiserver_from_pods() {
    let deny_all = "apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: default-deny}\nspec:\n  endpointSelector: {}\n  ingress: [{}]\n  egress: [{}]\n";
    let report = check(
        &reference_cluster(),
        &policies(deny_all),
        &CheckOptions::default(),
        vec![],
    );
    let dns: Vec<_> = report
        .flows
        .iter()
        .filter(|f| f.name.starts_with("dns-"))
        .collect();
    assert_eq!(dns.len(), 4, "UDP and TCP to two CoreDNS pods");
    assert!(dns.iter().all(|f| f.verdict == "deny" && f.critical));
    let api = report
        .flows
        .iter()
        .find(|f| f.name == "apiserver-from-pod")
        .expect("flow");
    assert_eq!(api.verdict, "deny");
    assert!(
        api.fix
            .as_deref()
            .is_some_and(|f| f.contains("toEntities: [kube-apiserver, remote-node]")),
        "{:?}",
        api.fix
    );
    // Node-to-node traffic is not touched by an endpointSelector policy (C7.5).
    assert!(
        report
            .flows
            .iter()
            .filter(|f| f.name == "etcd-peer")
            .all(|f| f.verdict == "allow")
    );
    assert_eq!(report.outcome(), policy::findings::Outcome::Critical);
}

#[test]
fn admin_cidr_and_user_flows() {
    let flows = parse_flows("flows.yaml", "flows:\n- name: node-exporter\n  src: 103.10.20.30\n  dst: node/cp-1\n  protocol: TCP\n  port: 9100\n- name: vrrp-ish\n  src: node/cp-1\n  dst: node/cp-2\n  protocol: UDP\n  port: 5000\n  critical: true\n").expect("flows");
    let opts = CheckOptions {
        admin_cidrs: vec!["198.51.100.0/24".parse().expect("cidr")],
        user_flows: flows,
    };
    let report = check(
        &reference_cluster(),
        &policies(include_str!("fixtures/lockout-ccnp.yaml")),
        &opts,
        vec![],
    );
    let ne = report
        .flows
        .iter()
        .find(|f| f.name == "node-exporter")
        .expect("user flow");
    assert_eq!(ne.verdict, "allow", "{}", ne.explanation);
    let ssh = report
        .flows
        .iter()
        .find(|f| f.name == "ssh-from-admin")
        .expect("ssh flow");
    assert_eq!(ssh.verdict, "deny");
    assert!(
        ssh.fix
            .as_deref()
            .is_some_and(|f| f.contains("fromCIDR: [198.51.100.0/32]")),
        "{:?}",
        ssh.fix
    );
    let udp = report
        .flows
        .iter()
        .find(|f| f.name == "vrrp-ish")
        .expect("flow");
    assert!(udp.critical && udp.verdict == "deny");
    let bad = parse_flows("flows.yaml", "- {src: a, dst: b, port: 99999}\n").expect_err("bad port");
    assert!(bad[0].to_string().starts_with("flows.yaml:1"), "{}", bad[0]);
}

#[test]
fn json_shape_is_stable() {
    let report = check(
        &reference_cluster(),
        &policies(include_str!("fixtures/lockout-ccnp.yaml")),
        &CheckOptions::default(),
        vec![],
    );
    let v = serde_json::to_value(&report).expect("json");
    assert_eq!(v["assumed_inventory"], serde_json::Value::Bool(true));
    let f = &v["flows"][0];
    for key in [
        "name",
        "src",
        "dst",
        "protocol",
        "port",
        "verdict",
        "critical",
        "explanation",
        "fix",
    ] {
        assert!(f.get(key).is_some(), "flow key {key}");
    }
    assert!(v["findings"].is_array());
}

#[test]
fn namespace_egress_policy_without_dns_is_caught_from_a_real_pod() {
    let mut inv = reference_cluster();
    inv.pods.push(std::sync::Arc::new(policy::inventory::Pod {
        namespace: "shop".into(),
        name: "web-1".into(),
        labels: policy::inventory::read::labels(&[("app", "web")]),
        node: Some("worker-1".into()),
        service_account: "default".into(),
        ..Default::default()
    }));
    inv.normalise();
    // d.15: egress locked to HTTPS only; DNS and the API server are gone for this namespace.
    let set = policies(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: egress-https, namespace: shop}\nspec:\n  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n  - ports: [{port: 443}]\n",
    );
    let report = check(&inv, &set, &CheckOptions::default(), vec![]);
    let dns: Vec<_> = report
        .flows
        .iter()
        .filter(|f| f.src == "shop/web-1" && f.name.starts_with("dns-"))
        .collect();
    assert_eq!(dns.len(), 2, "UDP and TCP from the namespace's pod");
    assert!(
        dns.iter().all(|f| f.verdict == "deny" && f.critical),
        "{dns:#?}"
    );
    assert!(
        dns[0]
            .explanation
            .contains("NetworkPolicy shop/egress-https"),
        "{}",
        dns[0].explanation
    );
    let api = report
        .flows
        .iter()
        .find(|f| f.src == "shop/web-1" && f.name == "apiserver-from-pod")
        .expect("flow");
    assert_eq!(api.verdict, "deny");
    // The probe in `default` is unaffected by shop's policy.
    assert!(
        report
            .flows
            .iter()
            .filter(|f| f.src == "default/lifeboat-probe")
            .all(|f| f.verdict == "allow")
    );
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.code == "egress-without-dns")
    );
    assert_eq!(report.outcome(), policy::findings::Outcome::Critical);
}

/// The suggested fix is YAML that, added where it says, makes the flow pass.
#[test]
fn applying_the_suggested_fix_allows_the_flow() {
    let base = include_str!("fixtures/lockout-ccnp.yaml");
    let report = check(
        &reference_cluster(),
        &policies(base),
        &CheckOptions::default(),
        vec![],
    );
    let f = report
        .flows
        .iter()
        .find(|f| f.name == "etcd-peer")
        .expect("flow");
    let fix = f.fix.as_deref().expect("fix");
    // The rule: lines up to the first comment after the header.
    let rule: Vec<&str> = fix
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with('#'))
        .collect();
    assert!(
        fix.lines()
            .next()
            .is_some_and(|l| l.contains("spec.ingress")),
        "{fix}"
    );
    let mut patched = base.to_owned();
    for l in &rule {
        patched.push_str(&format!("  {l}\n"));
    }
    let after = check(
        &reference_cluster(),
        &policies(&patched),
        &CheckOptions::default(),
        vec![],
    );
    let g = after
        .flows
        .iter()
        .find(|g| g.name == "etcd-peer" && g.src == f.src && g.dst == f.dst)
        .expect("flow");
    assert_eq!(g.verdict, "allow", "{patched}\n{}", g.explanation);
    // The alternative: enableDefaultDeny.ingress false in spec (Cilium 1.16+, C2.7).
    let alt: Vec<&str> = fix
        .lines()
        .skip_while(|l| !l.starts_with("# Or"))
        .skip(1)
        .collect();
    let with_flag = base.replace(
        "spec:\n",
        &format!(
            "spec:\n{}\n",
            alt.iter()
                .map(|l| format!("  {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        ),
    );
    let flagged = check(
        &reference_cluster(),
        &policies(&with_flag),
        &CheckOptions::default(),
        vec![],
    );
    assert!(
        flagged
            .flows
            .iter()
            .filter(|g| g.name == "etcd-peer")
            .all(|g| g.verdict == "allow"),
        "{with_flag}"
    );
}

/// Issue 12: flows the inventory gives nothing to derive from are said, never silently absent
/// from a "0 denied".
#[test]
fn flows_the_inventory_cannot_derive_are_findings() {
    let docs = load_bytes(
        "c.yaml",
        b"apiVersion: v1\nkind: Node\nmetadata: {name: n1}\nstatus: {addresses: [{type: InternalIP, address: 198.18.0.1}]}\n",
    )
    .expect("yaml");
    let inv = policy::inventory::read::inventory(&docs).expect("inventory");
    let report = check(
        &inv,
        &policies(include_str!("fixtures/lockout-ccnp-fixed.yaml")),
        &CheckOptions::default(),
        vec![],
    );
    let gaps: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.code == "flows-not-checked")
        .map(|f| f.message.as_str())
        .collect();
    assert_eq!(gaps.len(), 3, "{gaps:?}");
    assert!(gaps.iter().any(|m| m.contains("API server")));
    assert!(gaps.iter().any(|m| m.contains("etcd")));
    assert!(gaps.iter().any(|m| m.contains("DNS")));
    assert!(report.outcome() >= policy::findings::Outcome::Warnings);
}
