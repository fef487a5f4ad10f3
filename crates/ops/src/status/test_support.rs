//! Hand-built observations for the rule and diagnosis tests: the races a live cluster only shows
//! sometimes are pinned down with these.

use super::diagnose::DiagnoseOptions;
use super::facts::Facts;
use super::gather::{Observation, ObservedEndpoint, ObservedMember, ObservedStatus};
use super::rules::Rule;
use super::{Finding, Severity};
use crate::settings::Endpoint;

pub const CLUSTER: u64 = 0xc1;

pub fn member(id: u64, port: u16) -> ObservedMember {
    ObservedMember {
        id,
        name: format!("m{id}"),
        peer_urls: vec![format!("https://127.0.0.1:{}", port + 1)],
        client_urls: vec![format!("https://127.0.0.1:{port}")],
        is_learner: false,
    }
}

pub fn endpoint(port: u16) -> Endpoint {
    Endpoint::parse(&format!("https://127.0.0.1:{port}")).expect("a valid test URL")
}

pub fn up(id: u64, port: u16, leader: u64, members: &[ObservedMember]) -> ObservedEndpoint {
    ObservedEndpoint {
        endpoint: endpoint(port),
        status: Ok(ObservedStatus {
            member_id: id,
            cluster_id: CLUSTER,
            version: "3.4.23".into(),
            db_size: 1 << 20,
            db_size_in_use: 1 << 19,
            leader,
            raft_term: 2,
            raft_index: 100,
            raft_applied_index: 100,
            is_learner: false,
            errors: vec![],
            latency_ms: 1.0,
        }),
        members: Some(members.to_vec()),
        errors: vec![],
    }
}

/// `up`, answering for another cluster ID.
pub fn up_in(
    cluster: u64,
    id: u64,
    port: u16,
    leader: u64,
    members: &[ObservedMember],
) -> ObservedEndpoint {
    let mut e = up(id, port, leader, members);
    if let Ok(s) = &mut e.status {
        s.cluster_id = cluster;
    }
    e
}

/// Changes what an answering endpoint reports.
pub fn with(mut e: ObservedEndpoint, change: impl FnOnce(&mut ObservedStatus)) -> ObservedEndpoint {
    if let Ok(s) = &mut e.status {
        change(s);
    }
    e
}

pub fn down(port: u16) -> ObservedEndpoint {
    ObservedEndpoint {
        endpoint: endpoint(port),
        status: Err("cannot connect: Connection refused".into()),
        members: None,
        errors: vec![],
    }
}

pub fn three() -> Vec<ObservedMember> {
    vec![member(1, 1000), member(2, 2000), member(3, 3000)]
}

pub fn obs(endpoints: Vec<ObservedEndpoint>) -> Observation {
    Observation { endpoints }
}

/// One rule applied to the facts of these endpoints.
pub fn apply(rule: Rule, endpoints: Vec<ObservedEndpoint>) -> Vec<Finding> {
    let o = obs(endpoints);
    let opts = DiagnoseOptions::default();
    rule(&Facts::new(&o, &opts))
}

pub fn codes_of(findings: &[Finding]) -> Vec<&'static str> {
    findings.iter().map(|f| f.code).collect()
}

/// Fixes that stop, remove, move or force something: never given on partial evidence.
pub fn destructive(f: &Finding) -> bool {
    let fix = f.fix.as_deref().unwrap_or("");
    [
        "force",
        "member remove",
        "move its data dir",
        "stop etcd",
        "stop one of",
    ]
    .iter()
    .any(|w| fix.contains(w))
        && f.severity != Severity::Ok
}
