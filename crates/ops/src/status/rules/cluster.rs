//! Rules about the cluster as a whole: is anything answering, is it one cluster, was enough of
//! it asked, does it have quorum and a leader.

use super::super::facts::{ClusterFacts, Facts};
use super::super::{Finding, QuorumState, Severity};
use super::ASK_EVERY_MEMBER;
use crate::ids::hex_id;

pub(super) fn nothing_reachable(f: &Facts<'_>) -> Vec<Finding> {
    if !f.answered.is_empty() {
        return vec![];
    }
    vec![Finding {
        severity: Severity::Critical,
        code: "NOTHING_REACHABLE",
        message: "no endpoint answered, so the cluster's state is unknown".into(),
        fix: Some(
            "check that etcd runs on this node (`crictl ps --name etcd` or `systemctl status \
             etcd`) and that --endpoints and --cacert/--cert/--key are right (see the errors \
             per endpoint)"
                .into(),
        ),
    }]
}

/// Endpoints answering for different cluster IDs are never counted in one quorum: each group
/// is described, and nothing is judged across them.
pub(super) fn clusters_mixed(f: &Facts<'_>) -> Vec<Finding> {
    if f.clusters.len() < 2 {
        return vec![];
    }
    let groups: Vec<String> = f.clusters.iter().map(describe_group).collect();
    vec![Finding {
        severity: Severity::Critical,
        code: "CLUSTERS_MIXED",
        message: format!(
            "the endpoints answer for {} different clusters, so no quorum, leader or membership \
             is judged across them: {}",
            f.clusters.len(),
            groups.join("; ")
        ),
        fix: Some(
            "change nothing on this evidence. If the endpoints were mixed up, run `lifeboat \
             status --endpoints <the URLs of one cluster>` for each cluster. If they should be \
             one cluster, a second one was started beside it (a restore or a new cluster on the \
             old nodes' addresses): find the one the API servers use (--etcd-servers in \
             kube-apiserver's manifest) and examine each cluster alone before stopping anything"
                .into(),
        ),
    }]
}

fn describe_group(c: &ClusterFacts<'_>) -> String {
    let eps: Vec<String> = c
        .reachable
        .iter()
        .map(|(e, _)| e.endpoint.to_string())
        .collect();
    format!(
        "cluster {} answers at {} ({} of {} voting members it lists answer)",
        hex_id(c.id),
        eps.join(", "),
        c.quorum.reachable,
        c.quorum.voters
    )
}

/// Members nobody asked, or no membership read at all: the verdict is partial, and says so.
pub(super) fn partial_evidence(f: &Facts<'_>) -> Vec<Finding> {
    let Some(c) = f.judged() else { return vec![] };
    let unexamined: Vec<String> = c.unexamined().map(|m| label(m.id, &m.name)).collect();
    let what = if c.members.is_empty() {
        "no member list could be read, so the membership and quorum are unknown".to_string()
    } else if unexamined.is_empty() {
        return vec![];
    } else {
        format!(
            "{} {} not asked (--only-given, or a client URL of another scheme than the \
             credentials given), so {} state is unknown",
            unexamined.join(", "),
            if unexamined.len() == 1 { "was" } else { "were" },
            if unexamined.len() == 1 {
                "its"
            } else {
                "their"
            },
        )
    };
    let q = &c.quorum;
    let quorum = match q.state {
        QuorumState::Unknown if !c.members.is_empty() => format!(
            "; quorum cannot be judged: {} of {} voting members answer, {} not asked, quorum \
             needs {}{}",
            q.reachable,
            q.voters,
            q.unexamined,
            q.size,
            named_leader(c)
        ),
        _ => String::new(),
    };
    vec![Finding {
        severity: Severity::Warning,
        code: "PARTIAL_EVIDENCE",
        message: format!("{what}{quorum}"),
        fix: Some(format!(
            "{ASK_EVERY_MEMBER}; change nothing on partial evidence"
        )),
    }]
}

fn named_leader(c: &ClusterFacts<'_>) -> String {
    match c.leader_ids.iter().next() {
        Some(l) if c.leader_ids.len() == 1 => {
            format!(
                "; the members asked name leader {} (not confirmed)",
                hex_id(*l)
            )
        }
        _ => String::new(),
    }
}

fn label(id: u64, name: &str) -> String {
    if name.is_empty() {
        hex_id(id)
    } else {
        format!("{name} ({})", hex_id(id))
    }
}

/// Only when the evidence proves it: even the voters not asked could not make a quorum.
pub(super) fn quorum_lost(f: &Facts<'_>) -> Vec<Finding> {
    let Some(c) = f.judged() else { return vec![] };
    let q = &c.quorum;
    if q.state != QuorumState::Lost {
        return vec![];
    }
    let down = q.voters - q.reachable - q.unexamined;
    let need = q.size.saturating_sub(q.reachable);
    let mut fix = format!(
        "bring back {need} of the {down} unreachable voting members (restart etcd on them) and \
         quorum returns by itself"
    );
    if let Some(stale) = c.voters().find(|m| m.name.is_empty()) {
        fix.push_str(&format!(
            "; then remove the never-started member: `lifeboat member remove {}`",
            hex_id(stale.id)
        ));
    }
    fix.push_str(
        ". If they are lost for good, run `lifeboat recover plan`: it reads the survivors' \
         evidence, says which one holds the most data and what is missing, and changes nothing",
    );
    let not_asked = match q.unexamined {
        0 => String::new(),
        n => format!(" ({n} not asked)"),
    };
    vec![Finding {
        severity: Severity::Critical,
        code: "QUORUM_LOST",
        message: format!(
            "only {} of {} voting members answer{not_asked}; quorum needs {}: no writes, no \
             leader election",
            q.reachable, q.voters, q.size
        ),
        fix: Some(fix),
    }]
}

pub(super) fn no_leader(f: &Facts<'_>) -> Vec<Finding> {
    let Some(c) = f.judged() else { return vec![] };
    if !c.leader_ids.is_empty() && c.isolated_leader.is_none() {
        return vec![];
    }
    let message = match (c.isolated_leader, c.stale_leader) {
        (Some(l), _) => format!(
            "no working leader: {} still calls itself leader but cannot reach a quorum, so it \
             commits nothing and will step down",
            hex_id(l)
        ),
        (None, Some(l)) => format!(
            "no leader: members still name {}, which does not answer; the cluster accepts no \
             writes and no linearizable reads",
            hex_id(l)
        ),
        // Asked members without a leader prove only their own state when others went unasked.
        (None, None) if c.quorum.state == QuorumState::Unknown => {
            "no member asked knows a leader: they accept no writes and no linearizable reads \
             (whether the members not asked have one is not known)"
                .into()
        }
        (None, None) => "no reachable member knows a leader: the cluster accepts no writes and \
                         no linearizable reads"
            .into(),
    };
    let fix = match c.quorum.state {
        QuorumState::Held => {
            "a majority answers, so an election should finish within seconds; if it does not, \
             look for members restarting in a loop or for a network partition between peers \
             (port 2380)"
                .to_string()
        }
        QuorumState::Lost => "restore quorum first (see QUORUM_LOST)".to_string(),
        QuorumState::Unknown => {
            format!("whether a majority is up is not known: {ASK_EVERY_MEMBER}")
        }
    };
    vec![Finding {
        severity: Severity::Critical,
        code: "NO_LEADER",
        message,
        fix: Some(fix),
    }]
}

pub(super) fn leader_disagrees(f: &Facts<'_>) -> Vec<Finding> {
    let Some(c) = f.judged() else { return vec![] };
    if c.leader_ids.len() < 2 {
        return vec![];
    }
    let ids: Vec<String> = c.leader_ids.iter().map(|l| hex_id(*l)).collect();
    vec![Finding {
        severity: Severity::Warning,
        code: "LEADER_DISAGREES",
        message: format!("members name different leaders: {}", ids.join(", ")),
        fix: Some("usually an election in progress; run status again in a few seconds".into()),
    }]
}

#[cfg(test)]
#[path = "cluster_tests.rs"]
mod tests;
