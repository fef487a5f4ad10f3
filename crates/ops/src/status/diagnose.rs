//! From observations to a verdict: [`Facts`] says who is a member, who was asked, who answers
//! and whether quorum is held, lost or unknown; each rule in [`RULES`] turns facts into findings.
//! Pure, so every rule is testable without a cluster.

use super::facts::{ClusterFacts, Facts, QuorumCount};
use super::rules::{RULES, collect_alarms};
use super::{ClusterGroup, ClusterStatus, EndpointRow, Finding, MemberRow, Quorum, Severity};
use super::{QuorumState, gather::Observation};
use crate::ids::hex_id;

#[derive(Debug, Clone)]
pub struct DiagnoseOptions {
    /// The backend quota the members run with (`--quota-backend-bytes`); etcd's default is 2 GiB.
    pub quota_bytes: u64,
    /// Raft entries a member may trail the most advanced one before it is reported.
    pub max_raft_lag: u64,
}

impl Default for DiagnoseOptions {
    fn default() -> Self {
        DiagnoseOptions {
            quota_bytes: 2 * 1024 * 1024 * 1024,
            max_raft_lag: 1000,
        }
    }
}

pub fn diagnose(obs: &Observation, opts: &DiagnoseOptions) -> ClusterStatus {
    let facts = Facts::new(obs, opts);
    let mut findings: Vec<Finding> = RULES.iter().flat_map(|rule| rule(&facts)).collect();
    let judged = facts.judged();
    if findings.is_empty() {
        findings.push(healthy(judged));
    }
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    ClusterStatus {
        members: judged.map(member_rows).unwrap_or_default(),
        endpoints: obs.endpoints.iter().map(endpoint_row).collect(),
        alarms: collect_alarms(obs),
        quorum: judged.map(quorum).unwrap_or_else(unjudged_quorum),
        unexamined_members: judged
            .map(|c| c.unexamined().map(|m| hex_id(m.id)).collect())
            .unwrap_or_default(),
        clusters: facts.clusters.iter().map(group).collect(),
        findings,
    }
}

/// Only reached when no rule found anything, which needs a judged cluster with quorum held.
fn healthy(judged: Option<&ClusterFacts<'_>>) -> Finding {
    let (reachable, voters, leader) = judged
        .map(|c| (c.quorum.reachable, c.quorum.voters, c.leader_id))
        .unwrap_or_default();
    Finding {
        severity: Severity::Ok,
        code: "HEALTHY",
        message: format!(
            "{reachable} of {voters} voting members answer, leader {}",
            leader.map(hex_id).unwrap_or_default()
        ),
        fix: None,
    }
}

fn member_rows(c: &ClusterFacts<'_>) -> Vec<MemberRow> {
    c.members
        .iter()
        .map(|m| MemberRow {
            id: hex_id(m.id),
            name: m.name.clone(),
            peer_urls: m.peer_urls.clone(),
            client_urls: m.client_urls.clone(),
            is_learner: m.is_learner,
            started: !m.name.is_empty(),
            reachable: c.answering.contains(&m.id),
            is_leader: Some(m.id) == c.leader_id,
        })
        .collect()
}

fn quorum(c: &ClusterFacts<'_>) -> Quorum {
    Quorum {
        leader_id: c.leader_id.map(hex_id),
        leader_agreed: c.leader_agreed(),
        ..counts(&c.quorum)
    }
}

fn counts(q: &QuorumCount) -> Quorum {
    Quorum {
        voting_members: q.voters,
        reachable_voters: q.reachable,
        unexamined_voters: q.unexamined,
        quorum_size: if q.voters == 0 { 0 } else { q.size },
        failures_tolerated: q.reachable.saturating_sub(q.size),
        has_quorum: q.state == QuorumState::Held,
        state: q.state,
        leader_id: None,
        leader_agreed: false,
    }
}

/// Nothing answered, or several clusters did: no quorum is claimed either way.
fn unjudged_quorum() -> Quorum {
    counts(&QuorumCount::new(0, 0, 0))
}

fn group(c: &ClusterFacts<'_>) -> ClusterGroup {
    ClusterGroup {
        cluster_id: hex_id(c.id),
        endpoints: c
            .reachable
            .iter()
            .map(|(e, _)| e.endpoint.to_string())
            .collect(),
        member_ids: c.members.iter().map(|m| hex_id(m.id)).collect(),
        quorum: quorum(c),
    }
}

fn endpoint_row(e: &super::ObservedEndpoint) -> EndpointRow {
    match &e.status {
        Ok(s) => EndpointRow {
            endpoint: e.endpoint.to_string(),
            reachable: true,
            member_id: Some(hex_id(s.member_id)),
            cluster_id: Some(hex_id(s.cluster_id)),
            version: Some(s.version.clone()),
            db_size: Some(s.db_size),
            db_size_in_use: Some(s.db_size_in_use),
            leader_id: (s.leader != 0).then(|| hex_id(s.leader)),
            is_leader: s.leader != 0 && s.leader == s.member_id,
            is_learner: s.is_learner,
            raft_term: Some(s.raft_term),
            raft_index: Some(s.raft_index),
            raft_applied_index: Some(s.raft_applied_index),
            errors: s.errors.iter().chain(e.errors.iter()).cloned().collect(),
            latency_ms: Some((s.latency_ms * 10.0).round() / 10.0),
        },
        Err(err) => EndpointRow {
            endpoint: e.endpoint.to_string(),
            reachable: false,
            member_id: None,
            cluster_id: None,
            version: None,
            db_size: None,
            db_size_in_use: None,
            leader_id: None,
            is_leader: false,
            is_learner: false,
            raft_term: None,
            raft_index: None,
            raft_applied_index: None,
            errors: std::iter::once(err.clone())
                .chain(e.errors.iter().cloned())
                .collect(),
            latency_ms: None,
        },
    }
}

#[cfg(test)]
#[path = "diagnose_tests.rs"]
mod tests;
