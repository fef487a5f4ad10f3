//! Rules about single members: unreachable, never started, learners, an even voter count,
//! members that disagree about the membership.

use std::collections::BTreeSet;

use super::super::facts::Facts;
use super::super::gather::ObservedMember;
use super::super::{Finding, QuorumState, Severity};
use super::ASK_EVERY_MEMBER;
use crate::ids::hex_id;

pub(super) fn membership_disagrees(f: &Facts<'_>) -> Vec<Finding> {
    let Some(c) = f.judged() else { return vec![] };
    let distinct: BTreeSet<&Vec<ObservedMember>> = c.lists.iter().map(|(_, m)| *m).collect();
    if distinct.len() < 2 {
        return vec![];
    }
    let views: Vec<String> = c
        .lists
        .iter()
        .map(|(e, list)| {
            let ids: Vec<String> = list.iter().map(|m| hex_id(m.id)).collect();
            format!("{} sees [{}]", e.endpoint, ids.join(", "))
        })
        .collect();
    vec![Finding {
        severity: Severity::Critical,
        code: "MEMBERSHIP_DISAGREES",
        message: format!(
            "members do not agree on the membership: {}",
            views.join("; ")
        ),
        fix: Some(
            "do not change membership now; wait for the lagging members to apply the last \
             change, and compare `lifeboat status -o json` again"
                .into(),
        ),
    }]
}

/// Only members that were asked and did not answer: one nobody asked is not known to be down.
/// Replacing the member is only advised with quorum held: removing a member needs a quorum.
pub(super) fn member_unreachable(f: &Facts<'_>) -> Vec<Finding> {
    let Some(c) = f.judged() else { return vec![] };
    c.members
        .iter()
        .filter(|m| !m.name.is_empty() && c.probed_dead.contains(&m.id))
        .map(|m| {
            let host = m.peer_urls.first().cloned().unwrap_or_default();
            let id = hex_id(m.id);
            let check = "check etcd on that node (`systemctl status etcd`, or `crictl ps --name \
                         etcd` with kubeadm) and the client port";
            let then = match c.quorum.state {
                QuorumState::Held => format!(
                    "if the node is gone for good, replace it: `lifeboat member remove {id}` \
                     first, then add the new node as a learner"
                ),
                QuorumState::Lost => "bringing it back restores quorum (see QUORUM_LOST); do \
                                      not remove it now, removing a member needs quorum"
                    .into(),
                QuorumState::Unknown => format!(
                    "replace nothing before the quorum is known (see PARTIAL_EVIDENCE): \
                     {ASK_EVERY_MEMBER}"
                ),
            };
            Finding {
                severity: Severity::Warning,
                code: "MEMBER_UNREACHABLE",
                message: format!("member {} ({id}, peer {host}) does not answer", m.name),
                fix: Some(format!("{check}; {then}")),
            }
        })
        .collect()
}

pub(super) fn member_unstarted(f: &Facts<'_>) -> Vec<Finding> {
    let Some(c) = f.judged() else { return vec![] };
    c.members
        .iter()
        .filter(|m| m.name.is_empty())
        .map(|m| {
            let id = hex_id(m.id);
            let fix = match c.quorum.state {
                QuorumState::Held => format!(
                    "start that member with --initial-cluster-state=existing, or remove it: \
                     `lifeboat member remove {id}`"
                ),
                QuorumState::Lost => format!(
                    "once quorum is back (see QUORUM_LOST), remove it: `lifeboat member remove \
                     {id}`"
                ),
                QuorumState::Unknown => format!(
                    "{ASK_EVERY_MEMBER} (see PARTIAL_EVIDENCE); with quorum confirmed, start it \
                     or remove it: `lifeboat member remove {id}`"
                ),
            };
            Finding {
                severity: if m.is_learner {
                    Severity::Warning
                } else {
                    Severity::Critical
                },
                code: "MEMBER_UNSTARTED",
                message: format!(
                    "member {id} (peer {}) was added but never started{}",
                    m.peer_urls.join(","),
                    if m.is_learner {
                        ""
                    } else {
                        ": it counts as a voter, so one more failure than you think loses quorum \
                         (the stale member of a node replacement done add-before-remove)"
                    }
                ),
                fix: Some(fix),
            }
        })
        .collect()
}

pub(super) fn learner_not_promoted(f: &Facts<'_>) -> Vec<Finding> {
    let Some(c) = f.judged() else { return vec![] };
    let max_index = c
        .reachable
        .iter()
        .map(|(_, s)| s.raft_index)
        .max()
        .unwrap_or(0);
    c.members
        .iter()
        .filter(|m| m.is_learner && !m.name.is_empty())
        .map(|m| {
            let caught_up = c
                .reachable
                .iter()
                .find(|(_, s)| s.member_id == m.id)
                .map(|(_, s)| {
                    max_index.saturating_sub(s.raft_applied_index) <= f.opts.max_raft_lag
                });
            let progress = match caught_up {
                Some(true) => " and has caught up",
                Some(false) => " and is still catching up",
                None if c.asked.contains(&m.id) => " and does not answer",
                None => " and was not asked",
            };
            Finding {
                severity: Severity::Warning,
                code: "LEARNER_NOT_PROMOTED",
                message: format!(
                    "member {} ({}) is a learner: it copies data but does not vote{progress}",
                    m.name,
                    hex_id(m.id),
                ),
                fix: Some(format!(
                    "`lifeboat member promote {}` once it has caught up",
                    hex_id(m.id)
                )),
            }
        })
        .collect()
}

pub(super) fn even_voters(f: &Facts<'_>) -> Vec<Finding> {
    let Some(c) = f.judged() else { return vec![] };
    let voters = c.quorum.voters;
    if voters == 0 || !voters.is_multiple_of(2) {
        return vec![];
    }
    vec![Finding {
        severity: Severity::Warning,
        code: "EVEN_VOTERS",
        message: format!(
            "{voters} voting members tolerate no more failures than {}; the extra member only adds \
             a way to lose quorum",
            voters - 1
        ),
        fix: Some("remove the surplus member or add one more to reach an odd count".into()),
    }]
}

#[cfg(test)]
#[path = "members_tests.rs"]
mod tests;
