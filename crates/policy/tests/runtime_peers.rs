//! Peers lifeboat cannot resolve offline (cloud provider groups, CiliumCIDRGroups) and peers
//! the agent refuses (fromNodes/toNodes without node-selector labels): findings say so, and no
//! verdict claims an allow or a deny it could not evaluate without saying so (C7.7, C9).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

use policy::check::{CheckOptions, CheckReport, check, flows_file::parse_flows};
use policy::inventory::Inventory;
use policy::inventory::reference::reference_cluster;
use policy::parse;
use policy::source::load_bytes;

const DNS_POD: &str = "kube-system/coredns-5d78c9869d-0";

fn run(inv: &Inventory, policy: &str, flows: &str) -> CheckReport {
    let docs = load_bytes("p.yaml", policy.as_bytes()).expect("yaml");
    let parsed = parse::policies(&docs);
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    let opts = CheckOptions {
        admin_cidrs: Vec::new(),
        user_flows: parse_flows("flows.yaml", flows).expect("flows"),
    };
    check(inv, &parsed.policies, &opts, parsed.findings)
}

fn flow<'a>(r: &'a CheckReport, name: &str) -> &'a policy::check::FlowResult {
    r.flows
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("{name}"))
}

const EGRESS_HEAD: &str = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: out, namespace: kube-system}\nspec:\n  endpointSelector: {}\n  egress:\n";

#[test]
fn a_deny_that_a_cloud_group_may_lift_says_so() {
    let policy = format!(
        "{EGRESS_HEAD}  - toEntities: [cluster]\n  - toGroups: [{{aws: {{securityGroupsIds: [sg-0123]}}}}]\n    toPorts: [{{ports: [{{port: '443', protocol: TCP}}]}}]\n"
    );
    let flows = format!(
        "- {{name: to-cloud, src: {DNS_POD}, dst: 203.0.113.7, port: 443}}\n- {{name: other-port, src: {DNS_POD}, dst: 203.0.113.7, port: 80}}\n"
    );
    let r = run(&reference_cluster(), &policy, &flows);
    let f = flow(&r, "to-cloud");
    assert_eq!(f.verdict, "deny");
    assert!(f.unresolved, "{}", f.explanation);
    assert!(
        f.explanation.contains("Not certain") && f.explanation.contains("toGroups"),
        "{}",
        f.explanation
    );
    // Another port: no group rule on it, the deny is certain.
    let f = flow(&r, "other-port");
    assert_eq!(f.verdict, "deny");
    assert!(!f.unresolved, "{}", f.explanation);
    assert!(r.findings.iter().any(|f| f.code == "groups-unresolved"));
}

#[test]
fn an_allow_that_a_cidr_group_deny_may_drop_says_so() {
    let policy = format!(
        "{EGRESS_HEAD}  - toEntities: [world, cluster]\n  egressDeny:\n  - toCIDRSet: [{{cidrGroupRef: bad-ips}}]\n"
    );
    let flows = format!("- {{name: out, src: {DNS_POD}, dst: 203.0.113.7, port: 443}}\n");
    let r = run(&reference_cluster(), &policy, &flows);
    let f = flow(&r, "out");
    assert_eq!(f.verdict, "allow");
    assert!(f.unresolved, "{}", f.explanation);
    assert!(
        f.explanation.contains("CiliumCIDRGroup bad-ips")
            && f.explanation.contains("the flow is denied"),
        "{}",
        f.explanation
    );
    assert!(
        r.outcome() >= policy::findings::Outcome::Warnings,
        "an unsettled verdict is not a clean exit"
    );
    // A peer inside the cluster is never in a CIDR group (C9): settled.
    let api = flow(&r, "apiserver-from-pod");
    assert!(!api.unresolved, "{}", api.explanation);
}

#[test]
fn from_nodes_without_node_selector_labels_is_refused_and_said() {
    // A host policy admitting kubelet only from nodes labelled role=cp, through fromNodes.
    let policy = "apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: kubelet}\nspec:\n  nodeSelector: {}\n  ingress:\n  - fromNodes: [{matchLabels: {role: cp}}]\n    toPorts: [{ports: [{port: '10250', protocol: TCP}]}]\n";
    let mut inv = reference_cluster();
    assert!(!inv.cilium.node_selector_labels, "Cilium's default");
    let r = run(&inv, policy, "[]\n");
    // The agent refuses the policy: it isolates nothing, and the verdicts say why.
    let etcd = flow(&r, "etcd-peer");
    assert_eq!(etcd.verdict, "allow", "{}", etcd.explanation);
    assert!(
        etcd.explanation.contains("Not counted")
            && etcd.explanation.contains("enable-node-selector-labels"),
        "{}",
        etcd.explanation
    );
    let finding = r
        .findings
        .iter()
        .find(|f| f.code == "refused-by-agent")
        .expect("finding");
    assert!(finding.message.contains("assumed"), "{}", finding.message);

    // With node-selector labels on, the policy is in force: etcd is cut.
    inv.cilium.node_selector_labels = true;
    let r = run(&inv, policy, "[]\n");
    let etcd = flow(&r, "etcd-peer");
    assert_eq!(etcd.verdict, "deny", "{}", etcd.explanation);
    assert!(!r.findings.iter().any(|f| f.code == "refused-by-agent"));
}

#[test]
fn an_allow_that_an_unevaluated_from_requires_may_narrow_says_so() {
    let policy = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: req, namespace: kube-system}\nspec:\n  endpointSelector: {}\n  ingress:\n  - fromEntities: [all]\n  - fromRequires: [{matchLabels: {env: prod}}]\n";
    let flows =
        format!("- {{name: in, src: 198.51.100.7, dst: {DNS_POD}, protocol: UDP, port: 53}}\n");
    let r = run(&reference_cluster(), policy, &flows);
    let f = flow(&r, "in");
    assert_eq!(f.verdict, "allow");
    assert!(f.unresolved, "{}", f.explanation);
    assert!(f.explanation.contains("fromRequires"), "{}", f.explanation);
}
