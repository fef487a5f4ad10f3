//! Observed traffic: the Hubble corpus in fixtures/hubble replayed against the reference
//! cluster with and without the lockout CCNP; malformed and oversized lines; arbitrary bytes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

use std::io::Cursor;
use std::path::PathBuf;

use policy::inventory::reference::reference_cluster;
use policy::model::PolicySet;
use policy::observed::{Group, ObservedReport, analyse, analyse_file, line};
use policy::parse;
use policy::source::load_bytes;
use proptest::prelude::*;

fn policies(text: &str) -> PolicySet {
    let docs = load_bytes("p.yaml", text.as_bytes()).expect("yaml");
    let p = parse::policies(&docs);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    p.policies
}

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/hubble/incident.jsonl")
}

fn incident(set: &PolicySet) -> ObservedReport {
    analyse_file(&corpus(), &reference_cluster(), set).expect("corpus reads")
}

fn lockout() -> PolicySet {
    policies(include_str!("fixtures/lockout-ccnp.yaml"))
}

fn find<'g>(groups: &'g [Group], src: &str, dst: &str, port: u16) -> Option<&'g Group> {
    groups
        .iter()
        .find(|g| g.src_workload == src && g.dst_workload == dst && g.port == port)
}

#[test]
fn lockout_ccnp_would_drop_forwarded_etcd_and_apiserver_flows_between_nodes() {
    let r = incident(&lockout());
    let etcd = find(&r.would_drop, "node/cp-1", "node/cp-2", 2379).expect("2379 cp-1 -> cp-2");
    // Seen at both ends (egress at cp-1, ingress at cp-2) plus one AUDIT flow.
    assert_eq!(etcd.count, 3);
    assert_eq!(etcd.protocol, "TCP");
    assert_eq!(etcd.first_seen.as_deref(), Some("2026-12-01T02:59:59.9Z"));
    // Fractions of unequal length compare by value, not as text.
    assert_eq!(etcd.last_seen.as_deref(), Some("2026-12-01T03:00:00.1005Z"));
    assert!(
        etcd.explanation
            .contains("restrict-node-exporter-hostport-9100")
    );
    assert!(find(&r.would_drop, "node/cp-1", "node/cp-3", 2380).is_some());
    assert!(find(&r.would_drop, "node/worker-1", "node/cp-1", 6443).is_some());
    let icmp = find(&r.would_drop, "node/cp-1", "node/worker-1", 8).expect("ICMP echo");
    assert_eq!(icmp.protocol, "ICMP");
    // CoreDNS to the outside is not under any policy: still allowed.
    assert!(r.would_drop.iter().all(|g| g.dst_workload != "world"));
    assert_eq!(r.would_drop.len(), 4);
}

#[test]
fn a_policy_drop_the_ccnp_admits_is_reported_as_would_allow() {
    let r = incident(&lockout());
    let g = find(&r.would_allow, "world", "node/cp-1", 9100).expect("9100 from 103.10.20.30");
    assert_eq!(g.count, 1);
    assert_eq!(g.first_line, 7);
    assert_eq!(r.would_allow.len(), 1);
}

#[test]
fn without_policies_no_forwarded_flow_would_drop() {
    let r = incident(&PolicySet::default());
    assert!(r.would_drop.is_empty(), "{:?}", r.would_drop);
    assert_eq!(r.evaluated, 8);
}

#[test]
fn replies_other_events_and_non_policy_verdicts_are_counted_not_evaluated() {
    let r = incident(&lockout());
    assert_eq!(r.lines, 17);
    assert_eq!(r.flows, 13);
    assert_eq!(r.replies_skipped, 1);
    assert_eq!(r.other_events, 1);
    assert_eq!(r.skipped_verdicts.get("TRACED"), Some(&1));
    assert_eq!(
        r.skipped_verdicts
            .get("DROPPED (CT_MAP_INSERTION_FAILED, not by policy)"),
        Some(&1)
    );
}

#[test]
fn malformed_lines_are_reported_by_number() {
    let r = incident(&lockout());
    assert_eq!(r.malformed, 2);
    let numbers: Vec<u64> = r.malformed_lines.iter().map(|m| m.line).collect();
    assert_eq!(numbers, vec![12, 13]);
}

#[test]
fn unmapped_endpoints_are_not_evaluated_with_their_reason() {
    let r = incident(&lockout());
    let pod = r
        .not_evaluated
        .iter()
        .find(|n| n.reason == "pod not in the inventory")
        .expect("web pod");
    assert_eq!(pod.example, "default/web-7d9f8-abcde");
    assert_eq!(pod.first_line, 9);
    assert!(
        r.not_evaluated
            .iter()
            .any(|n| n.example == "reserved:health")
    );
}

#[test]
fn a_remote_node_address_outside_the_inventory_is_not_guessed() {
    let line = r#"{"flow":{"verdict":"FORWARDED","IP":{"source":"10.9.9.9","destination":"10.0.0.11"},"l4":{"TCP":{"destination_port":2379}},"source":{"identity":6,"labels":["reserved:remote-node"]},"destination":{"identity":1,"labels":["reserved:host"]},"node_name":"cp-1","is_reply":false}}"#;
    let r = analyse(Cursor::new(line), "mem", &reference_cluster(), &lockout()).unwrap();
    assert_eq!(r.evaluated, 0);
    assert_eq!(
        r.not_evaluated[0].reason,
        "node address not in the inventory"
    );
    assert!(r.would_drop.is_empty());
}

#[test]
fn an_oversized_line_is_malformed_and_the_next_line_still_counts() {
    let mut input = vec![b'x'; line::MAX_LINE + 10];
    input.push(b'\n');
    input.extend_from_slice(br#"{"node_status":{},"time":"2026-12-01T00:00:00Z"}"#);
    let r = analyse(Cursor::new(input), "mem", &reference_cluster(), &lockout()).unwrap();
    assert_eq!(r.lines, 2);
    assert_eq!(r.malformed, 1);
    assert_eq!(r.malformed_lines[0].line, 1);
    assert!(r.malformed_lines[0].error.contains("longer than"));
    assert_eq!(r.other_events, 1);
}

#[test]
fn lower_camel_names_are_read_too() {
    let line = r#"{"flow":{"verdict":"FORWARDED","IP":{"source":"10.0.0.11","destination":"10.0.0.12"},"l4":{"TCP":{"destinationPort":2380}},"source":{"labels":["reserved:host"]},"destination":{"labels":["reserved:remote-node"]},"nodeName":"cp-1","isReply":false}}"#;
    let r = analyse(Cursor::new(line), "mem", &reference_cluster(), &lockout()).unwrap();
    assert!(find(&r.would_drop, "node/cp-1", "node/cp-2", 2380).is_some());
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = line::parse_line(&bytes);
        let newlines = bytes.iter().filter(|&&b| b == b'\n').count() as u64;
        let r = analyse(Cursor::new(bytes), "mem", &reference_cluster(), &PolicySet::default())
            .unwrap();
        prop_assert!(r.lines >= newlines && r.lines <= newlines + 1);
        prop_assert!(r.malformed <= r.lines);
    }

    #[test]
    fn mutated_corpus_lines_never_panic(cut in 0usize..700, flip in any::<u8>()) {
        let text = std::fs::read(corpus()).unwrap();
        let mut first: Vec<u8> = text.split(|&b| b == b'\n').next().unwrap().to_vec();
        let at = cut.min(first.len().saturating_sub(1));
        first[at] ^= flip;
        let _ = analyse(Cursor::new(first), "mem", &reference_cluster(), &lockout()).unwrap();
    }
}

#[test]
fn bare_flows_of_the_legacy_json_output_are_read() {
    let path = corpus().with_file_name("legacy-bare-flow.jsonl");
    let r = analyse_file(&path, &reference_cluster(), &lockout()).unwrap();
    assert_eq!((r.flows, r.other_events, r.malformed), (2, 0, 0));
    assert_eq!(r.replies_skipped, 1);
    let g = find(&r.would_drop, "node/cp-2", "node/cp-3", 2380).expect("2380 cp-2 -> cp-3");
    assert_eq!(g.first_seen.as_deref(), Some("2026-12-01T04:00:00Z"));
}

#[test]
fn a_named_pod_missing_from_the_inventory_is_not_matched_by_its_ip() {
    // 10.244.3.10 is coredns-5d78c9869d-0 in the reference cluster; the line names another pod.
    let named = r#"{"flow":{"verdict":"FORWARDED","IP":{"source":"10.244.3.10","destination":"10.0.0.11"},"l4":{"TCP":{"destination_port":6443}},"source":{"namespace":"kube-system","pod_name":"gone-1","labels":["k8s:app=gone"]},"destination":{"labels":["reserved:host"]},"node_name":"cp-1"}}"#;
    let r = analyse(Cursor::new(named), "mem", &reference_cluster(), &lockout()).unwrap();
    assert_eq!(r.evaluated, 0);
    assert_eq!(r.not_evaluated[0].example, "kube-system/gone-1");
    // Without a name the address is all there is, and it is the inventory's pod.
    let anonymous = named.replace(r#""pod_name":"gone-1","#, "");
    let r = analyse(
        Cursor::new(anonymous),
        "mem",
        &reference_cluster(),
        &lockout(),
    )
    .unwrap();
    assert_eq!(r.evaluated, 1);
}
