//! What the observations prove, computed once for the rules to read.
//!
//! Endpoints are grouped by the cluster ID they answer for, and each group is judged on its own:
//! members of one cluster never count toward another's quorum. A member is only "down" when one
//! of its endpoints was asked and failed; a member nobody asked is unknown, so a verdict drawn
//! from a few endpoints says what it does not know instead of guessing.

use std::collections::{BTreeMap, BTreeSet};

use super::gather::{Observation, ObservedEndpoint, ObservedMember, ObservedStatus};
use super::{DiagnoseOptions, QuorumState};
use crate::settings::Endpoint;

pub(super) type Answer<'a> = (&'a ObservedEndpoint, &'a ObservedStatus);

pub(super) struct Facts<'a> {
    pub obs: &'a Observation,
    pub opts: &'a DiagnoseOptions,
    /// Every endpoint that answered Status, whatever its cluster.
    pub answered: Vec<Answer<'a>>,
    /// One entry per cluster ID that answered, most answering endpoints first.
    pub clusters: Vec<ClusterFacts<'a>>,
}

impl<'a> Facts<'a> {
    pub fn new(obs: &'a Observation, opts: &'a DiagnoseOptions) -> Facts<'a> {
        let answered: Vec<Answer<'a>> = obs
            .endpoints
            .iter()
            .filter_map(|e| e.status.as_ref().ok().map(|s| (e, s)))
            .collect();
        let mut by_id: BTreeMap<u64, Vec<Answer<'a>>> = BTreeMap::new();
        for (e, s) in &answered {
            by_id.entry(s.cluster_id).or_default().push((e, s));
        }
        let mut clusters: Vec<ClusterFacts<'a>> = by_id
            .into_iter()
            .map(|(id, reachable)| ClusterFacts::new(obs, id, reachable))
            .collect();
        clusters.sort_by_key(|c| std::cmp::Reverse(c.reachable.len()));
        Facts {
            obs,
            opts,
            answered,
            clusters,
        }
    }

    /// The cluster the membership rules judge: only when exactly one cluster answered.
    pub fn judged(&self) -> Option<&ClusterFacts<'a>> {
        match self.clusters.as_slice() {
            [one] => Some(one),
            _ => None,
        }
    }
}

pub(super) struct ClusterFacts<'a> {
    pub id: u64,
    /// The endpoints answering for this cluster.
    pub reachable: Vec<Answer<'a>>,
    /// Every member list these endpoints returned, by endpoint.
    pub lists: Vec<(&'a ObservedEndpoint, &'a Vec<ObservedMember>)>,
    /// Membership as the one self-declared leader sees it, else as most members see it.
    pub members: Vec<ObservedMember>,
    /// `members` is the list of a member that calls itself leader.
    pub members_from_leader: bool,
    pub answering: BTreeSet<u64>,
    /// Members one of whose endpoints was asked (answering or not).
    pub asked: BTreeSet<u64>,
    /// Members asked that did not answer.
    pub probed_dead: BTreeSet<u64>,
    /// Leaders named by the answering members that may still lead (not dead, not removed).
    pub leader_ids: BTreeSet<u64>,
    /// A leader still named although it was asked and did not answer.
    pub stale_leader: Option<u64>,
    pub quorum: QuorumCount,
    /// One leader named, but quorum is proven lost: it commits nothing and will step down.
    pub isolated_leader: Option<u64>,
    /// The working leader: one named, and quorum proven held.
    pub leader_id: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct QuorumCount {
    pub voters: usize,
    pub reachable: usize,
    pub unexamined: usize,
    pub size: usize,
    pub state: QuorumState,
}

impl QuorumCount {
    pub fn new(voters: usize, reachable: usize, unexamined: usize) -> QuorumCount {
        let size = voters / 2 + 1;
        let state = if voters == 0 {
            QuorumState::Unknown
        } else if reachable >= size {
            QuorumState::Held
        } else if reachable + unexamined < size {
            QuorumState::Lost
        } else {
            QuorumState::Unknown
        };
        QuorumCount {
            voters,
            reachable,
            unexamined,
            size,
            state,
        }
    }
}

impl<'a> ClusterFacts<'a> {
    fn new(obs: &'a Observation, id: u64, reachable: Vec<Answer<'a>>) -> ClusterFacts<'a> {
        let lists: Vec<(&ObservedEndpoint, &Vec<ObservedMember>)> = reachable
            .iter()
            .filter_map(|(e, _)| e.members.as_ref().map(|m| (*e, m)))
            .collect();
        let leader_list = leader_member_list(&reachable);
        let members_from_leader = leader_list.is_some();
        let members = leader_list
            .or_else(|| most_common(lists.iter().map(|(_, m)| (*m).clone())))
            .unwrap_or_default();
        let answering: BTreeSet<u64> = reachable.iter().map(|(_, s)| s.member_id).collect();
        let asked = asked_members(obs, &members, &answering);
        let probed_dead: BTreeSet<u64> = asked.difference(&answering).copied().collect();
        let is_member = |l: &u64| members.is_empty() || members.iter().any(|m| m.id == *l);
        // A member keeps naming its old leader until the election timeout fires; a leader that
        // was asked and did not answer is gone, whatever the followers still believe. A removed
        // member keeps being named for an election timeout too; it cannot lead.
        let leader_ids: BTreeSet<u64> = reachable
            .iter()
            .map(|(_, s)| s.leader)
            .filter(|l| *l != 0 && !probed_dead.contains(l) && is_member(l))
            .collect();
        let stale_leader = reachable
            .iter()
            .map(|(_, s)| s.leader)
            .find(|l| probed_dead.contains(l));
        let quorum = count_quorum(&members, &answering, &asked);
        // A leader cut off from a majority keeps its title until CheckQuorum demotes it one
        // election timeout later, but it can commit nothing: without quorum there is no leader.
        // With quorum unknown, the leader the members name is not confirmed either way.
        let claimed = single(&leader_ids);
        let isolated_leader = claimed.filter(|_| quorum.state == QuorumState::Lost);
        let leader_id = claimed.filter(|_| quorum.state == QuorumState::Held);
        ClusterFacts {
            id,
            reachable,
            lists,
            members,
            members_from_leader,
            answering,
            asked,
            probed_dead,
            leader_ids,
            stale_leader,
            quorum,
            isolated_leader,
            leader_id,
        }
    }

    pub fn voters(&self) -> impl Iterator<Item = &ObservedMember> {
        self.members.iter().filter(|m| !m.is_learner)
    }

    /// Started members no endpoint was asked for. A member that never started has no client
    /// URL to ask; the member list itself says it is not running.
    pub fn unexamined(&self) -> impl Iterator<Item = &ObservedMember> {
        self.members
            .iter()
            .filter(|m| !m.name.is_empty() && !self.asked.contains(&m.id))
    }

    /// Every answering member names the working leader.
    pub fn leader_agreed(&self) -> bool {
        self.leader_id.is_some()
            && self
                .reachable
                .iter()
                .all(|(_, s)| Some(s.leader) == self.leader_id)
    }

    /// The membership is a leader's with a quorum behind it and no member disagrees: strong
    /// enough to act on (stop a node that is not in it).
    pub fn membership_confirmed(&self) -> bool {
        self.members_from_leader
            && self.leader_id.is_some()
            && self.lists.iter().all(|(_, l)| **l == self.members)
    }
}

fn leader_member_list(reachable: &[Answer<'_>]) -> Option<Vec<ObservedMember>> {
    let leaders: Vec<&Vec<ObservedMember>> = reachable
        .iter()
        .filter(|(_, s)| s.leader != 0 && s.leader == s.member_id)
        .filter_map(|(e, _)| e.members.as_ref())
        .collect();
    // Two self-declared leaders with different lists (a force-new-cluster beside the old
    // members): neither list is the membership; fall back to the majority view.
    match leaders.as_slice() {
        [first, rest @ ..] if rest.iter().all(|l| l == first) => Some((*first).clone()),
        _ => None,
    }
}

/// A member was asked when it answered, or when one of its client URLs was probed.
fn asked_members(
    obs: &Observation,
    members: &[ObservedMember],
    answering: &BTreeSet<u64>,
) -> BTreeSet<u64> {
    let probed: BTreeSet<String> = obs
        .endpoints
        .iter()
        .map(|e| e.endpoint.to_string())
        .collect();
    members
        .iter()
        .filter(|m| {
            answering.contains(&m.id)
                || m.client_urls
                    .iter()
                    .filter_map(|u| Endpoint::parse(u).ok())
                    .any(|u| probed.contains(&u.to_string()))
        })
        .map(|m| m.id)
        .collect()
}

fn count_quorum(
    members: &[ObservedMember],
    answering: &BTreeSet<u64>,
    asked: &BTreeSet<u64>,
) -> QuorumCount {
    let voters: Vec<&ObservedMember> = members.iter().filter(|m| !m.is_learner).collect();
    let reachable = voters.iter().filter(|m| answering.contains(&m.id)).count();
    let unexamined = voters
        .iter()
        .filter(|m| !m.name.is_empty() && !asked.contains(&m.id))
        .count();
    QuorumCount::new(voters.len(), reachable, unexamined)
}

fn single(ids: &BTreeSet<u64>) -> Option<u64> {
    match ids.len() {
        1 => ids.iter().next().copied(),
        _ => None,
    }
}

pub(super) fn most_common<T: Ord + Clone>(items: impl Iterator<Item = T>) -> Option<T> {
    let mut counts: BTreeMap<T, usize> = BTreeMap::new();
    for i in items {
        *counts.entry(i).or_default() += 1;
    }
    counts.into_iter().max_by_key(|(_, n)| *n).map(|(v, _)| v)
}

#[cfg(test)]
#[path = "facts_tests.rs"]
mod tests;
