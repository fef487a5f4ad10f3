//! `lifeboat status`: what every member says about itself and the cluster, and what that means.
//!
//! [`gather`] asks every endpoint at once under one deadline (dial + command timeout), so a dead
//! or frozen member costs the timeout once, not once per member. The Status RPC is answered by
//! each member locally, without a leader, so this works when quorum is gone. [`diagnose`] is pure:
//! observations in, quorum math and findings out. [`facts`] derives what the observations prove
//! (per cluster ID: members asked and answering, quorum held, lost or not known); each rule in
//! [`rules`] turns facts into findings and claims nothing the facts do not show.

mod diagnose;
mod facts;
mod gather;
mod rules;
#[cfg(test)]
mod test_support;

use serde::Serialize;

pub use diagnose::{DiagnoseOptions, diagnose};
pub use gather::{Observation, ObservedEndpoint, ObservedMember, ObservedStatus, gather};

/// The whole report; its JSON form is documented in `docs/json/status.md`.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterStatus {
    pub members: Vec<MemberRow>,
    pub endpoints: Vec<EndpointRow>,
    pub alarms: Vec<AlarmRow>,
    pub quorum: Quorum,
    /// Members that no endpoint was asked for (`--only-given`, or a client URL of another
    /// scheme): their state is unknown, neither up nor down.
    pub unexamined_members: Vec<String>,
    /// The answering endpoints grouped by the cluster ID they answer for; one entry normally,
    /// several when the endpoints belong to different clusters (then no quorum is judged).
    pub clusters: Vec<ClusterGroup>,
    pub findings: Vec<Finding>,
}

/// One cluster ID and the endpoints answering for it, with that cluster's own quorum math.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterGroup {
    pub cluster_id: String,
    pub endpoints: Vec<String>,
    /// The member IDs this cluster's member list names.
    pub member_ids: Vec<String>,
    pub quorum: Quorum,
}

#[derive(Debug, Clone, Serialize)]
pub struct MemberRow {
    pub id: String,
    pub name: String,
    pub peer_urls: Vec<String>,
    pub client_urls: Vec<String>,
    pub is_learner: bool,
    /// An added member that never started has no name and no client URLs yet.
    pub started: bool,
    pub reachable: bool,
    pub is_leader: bool,
}

impl MemberRow {
    /// `name (id)` for messages, or the ID alone for a member that never started.
    pub fn label(&self) -> String {
        if self.name.is_empty() {
            self.id.clone()
        } else {
            format!("{} ({})", self.name, self.id)
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct EndpointRow {
    pub endpoint: String,
    pub reachable: bool,
    pub member_id: Option<String>,
    pub cluster_id: Option<String>,
    pub version: Option<String>,
    pub db_size: Option<u64>,
    pub db_size_in_use: Option<u64>,
    pub leader_id: Option<String>,
    pub is_leader: bool,
    pub is_learner: bool,
    pub raft_term: Option<u64>,
    pub raft_index: Option<u64>,
    pub raft_applied_index: Option<u64>,
    pub errors: Vec<String>,
    pub latency_ms: Option<f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AlarmRow {
    pub member_id: String,
    pub alarm: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Quorum {
    pub voting_members: usize,
    pub reachable_voters: usize,
    /// Started voters whose endpoints were never asked: not counted as up, nor as down.
    pub unexamined_voters: usize,
    pub quorum_size: usize,
    /// How many more voters may fail before quorum is lost, counted from those reachable now.
    pub failures_tolerated: usize,
    /// True only when a quorum of voters answered.
    pub has_quorum: bool,
    /// What the evidence proves: held, lost, or unknown (too few voters asked to tell).
    pub state: QuorumState,
    pub leader_id: Option<String>,
    /// True when a leader exists and every reachable member names the same one.
    pub leader_agreed: bool,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum QuorumState {
    /// A quorum of voters answered.
    Held,
    /// Even if every voter not asked were up, too few voters answer.
    Lost,
    /// The voters not asked decide it, or no membership was read, or several clusters answered.
    Unknown,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Ok,
    Warning,
    Critical,
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub code: &'static str,
    pub message: String,
    /// The command or action that fixes it; absent when nothing needs doing.
    pub fix: Option<String>,
}

/// The monitoring-plugin verdict the exit code carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Healthy,
    Warning,
    Critical,
    /// Nothing answered, or too few members were asked to judge quorum: the state of the
    /// cluster is not known.
    Unknown,
}

impl ClusterStatus {
    /// A proven critical finding outranks an unknown quorum; an unknown quorum outranks warnings,
    /// because "healthy, with warnings" would claim a quorum nobody saw.
    pub fn verdict(&self) -> Verdict {
        if !self.endpoints.iter().any(|e| e.reachable) {
            return Verdict::Unknown;
        }
        match self.findings.iter().map(|f| f.severity).max() {
            Some(Severity::Critical) => Verdict::Critical,
            _ if self.quorum.state == QuorumState::Unknown => Verdict::Unknown,
            Some(Severity::Warning) => Verdict::Warning,
            _ => Verdict::Healthy,
        }
    }

    /// Settled, as a test or a drill waits for it: every asked endpoint answers, a leader is
    /// among them (followers keep naming a dead leader until their election timeout fires), and
    /// quorum holds with one agreed leader. Otherwise the findings, for the timeout message.
    pub fn settled(&self) -> Result<(), String> {
        if self.endpoints.iter().all(|e| e.reachable)
            && self.endpoints.iter().any(|e| e.is_leader)
            && self.quorum.has_quorum
            && self.quorum.leader_agreed
        {
            return Ok(());
        }
        Err(self
            .findings
            .iter()
            .map(|f| format!("{}: {}", f.code, f.message))
            .collect::<Vec<_>>()
            .join("; "))
    }
}
