//! From observations to a verdict: who is a member, who answers, is there quorum and a leader,
//! and what to do about each problem. Pure, so every rule is testable without a cluster.

use std::collections::{BTreeMap, BTreeSet};

use super::gather::{Observation, ObservedMember};
use super::{AlarmRow, ClusterStatus, EndpointRow, Finding, MemberRow, Quorum, Severity};
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
    let mut findings = Vec::new();
    let reachable: Vec<_> = obs
        .endpoints
        .iter()
        .filter_map(|e| e.status.as_ref().ok().map(|s| (e, s)))
        .collect();

    // The cluster's identity is the one most reachable members report; a member answering for
    // another cluster ID is a second cluster (a force-new-cluster left running beside the old).
    let cluster_id = most_common(reachable.iter().map(|(_, s)| s.cluster_id));

    // Membership as the leader sees it, else as most members see it.
    let lists: Vec<(&str, &Vec<ObservedMember>)> = reachable
        .iter()
        .filter(|(_, s)| Some(s.cluster_id) == cluster_id)
        .filter_map(|(e, _)| e.members.as_ref().map(|m| (e.endpoint.host(), m)))
        .collect();
    let members: Vec<ObservedMember> = reachable
        .iter()
        .find(|(_, s)| s.leader != 0 && s.leader == s.member_id)
        .and_then(|(e, _)| e.members.clone())
        .or_else(|| most_common(lists.iter().map(|(_, m)| (*m).clone())))
        .unwrap_or_default();

    let distinct_lists: BTreeSet<&Vec<ObservedMember>> = lists.iter().map(|(_, m)| *m).collect();
    if distinct_lists.len() > 1 {
        let views: Vec<String> = obs
            .endpoints
            .iter()
            .filter_map(|e| {
                let ids: Vec<String> = e.members.as_ref()?.iter().map(|m| hex_id(m.id)).collect();
                Some(format!("{} sees [{}]", e.endpoint, ids.join(", ")))
            })
            .collect();
        findings.push(Finding {
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
        });
    }

    let answering: BTreeSet<u64> = reachable
        .iter()
        .filter(|(_, s)| Some(s.cluster_id) == cluster_id)
        .map(|(_, s)| s.member_id)
        .collect();
    // A member keeps naming its old leader until the election timeout fires; a leader that was
    // asked and did not answer is gone, whatever the followers still believe.
    let probed_dead: BTreeSet<u64> = members
        .iter()
        .filter(|m| !answering.contains(&m.id))
        .filter(|m| {
            m.client_urls.iter().any(|u| {
                obs.endpoints
                    .iter()
                    .any(|e| e.status.is_err() && e.endpoint.to_string() == u.trim_end_matches('/'))
            })
        })
        .map(|m| m.id)
        .collect();
    let leader_ids: BTreeSet<u64> = reachable
        .iter()
        .filter(|(_, s)| Some(s.cluster_id) == cluster_id)
        .map(|(_, s)| s.leader)
        .filter(|l| *l != 0 && !probed_dead.contains(l))
        // A removed member keeps being named for an election timeout; it cannot lead.
        .filter(|l| members.is_empty() || members.iter().any(|m| m.id == *l))
        .collect();
    let stale_leader: Option<u64> = reachable
        .iter()
        .map(|(_, s)| s.leader)
        .find(|l| probed_dead.contains(l));
    let voters: Vec<&ObservedMember> = members.iter().filter(|m| !m.is_learner).collect();
    let reachable_voters = voters.iter().filter(|m| answering.contains(&m.id)).count();
    let quorum_size = voters.len() / 2 + 1;
    let has_quorum = !voters.is_empty() && reachable_voters >= quorum_size;
    // A leader cut off from a majority keeps its title until CheckQuorum demotes it one election
    // timeout later, but it can commit nothing: without quorum there is no leader.
    let claimed_leader = if leader_ids.len() == 1 {
        leader_ids.iter().next().copied()
    } else {
        None
    };
    let isolated_leader = claimed_leader.filter(|_| !members.is_empty() && !has_quorum);
    let leader_id = claimed_leader.filter(|_| isolated_leader.is_none());
    let leader_agreed = leader_id.is_some()
        && reachable
            .iter()
            .filter(|(_, s)| Some(s.cluster_id) == cluster_id)
            .all(|(_, s)| Some(s.leader) == leader_id);

    let unreachable_started: Vec<&ObservedMember> = members
        .iter()
        .filter(|m| !answering.contains(&m.id) && !m.name.is_empty())
        .collect();
    let unstarted: Vec<&ObservedMember> = members.iter().filter(|m| m.name.is_empty()).collect();

    if reachable.is_empty() {
        findings.push(Finding {
            severity: Severity::Critical,
            code: "NOTHING_REACHABLE",
            message: "no endpoint answered, so the cluster's state is unknown".into(),
            fix: Some(
                "check that etcd runs on this node (`crictl ps --name etcd` or `systemctl status \
                 etcd`) and that --endpoints and --cacert/--cert/--key are right (see the errors \
                 per endpoint)"
                    .into(),
            ),
        });
    } else if !members.is_empty() && !has_quorum {
        let missing = voters.len().saturating_sub(reachable_voters);
        let need = quorum_size.saturating_sub(reachable_voters);
        let mut fix = format!(
            "bring back {need} of the {missing} unreachable voting members (restart etcd on them) \
             and quorum returns by itself"
        );
        if let Some(stale) = unstarted.iter().find(|m| !m.is_learner) {
            fix.push_str(&format!(
                "; then remove the never-started member: `lifeboat member remove {}`",
                hex_id(stale.id)
            ));
        }
        fix.push_str(
            ". If they are lost for good, rank the survivors' data dirs with `lifeboat datadir \
             rank` and force a new cluster from the freshest one",
        );
        findings.push(Finding {
            severity: Severity::Critical,
            code: "QUORUM_LOST",
            message: format!(
                "only {reachable_voters} of {} voting members answer; quorum needs {quorum_size}: \
                 no writes, no leader election",
                voters.len()
            ),
            fix: Some(fix),
        });
    }

    if !reachable.is_empty() && (leader_ids.is_empty() || isolated_leader.is_some()) {
        findings.push(Finding {
            severity: Severity::Critical,
            code: "NO_LEADER",
            message: match (isolated_leader, stale_leader) {
                (Some(l), _) => format!(
                    "no working leader: {} still calls itself leader but cannot reach a quorum, \
                     so it commits nothing and will step down",
                    hex_id(l)
                ),
                (None, Some(l)) => format!(
                    "no leader: members still name {}, which does not answer; the cluster \
                     accepts no writes and no linearizable reads",
                    hex_id(l)
                ),
                (None, None) => {
                    "no reachable member knows a leader: the cluster accepts no writes and \
                         no linearizable reads"
                        .into()
                }
            },
            fix: Some(if has_quorum {
                "a majority answers, so an election should finish within seconds; if it does not, \
                 look for members restarting in a loop or for a network partition between peers \
                 (port 2380)"
                    .into()
            } else {
                "restore quorum first (see QUORUM_LOST)".into()
            }),
        });
    } else if leader_ids.len() > 1 {
        let ids: Vec<String> = leader_ids.iter().map(|l| hex_id(*l)).collect();
        findings.push(Finding {
            severity: Severity::Warning,
            code: "LEADER_DISAGREES",
            message: format!("members name different leaders: {}", ids.join(", ")),
            fix: Some("usually an election in progress; run status again in a few seconds".into()),
        });
    }

    for m in &unreachable_started {
        let host = m.peer_urls.first().cloned().unwrap_or_default();
        findings.push(Finding {
            severity: Severity::Warning,
            code: "MEMBER_UNREACHABLE",
            message: format!(
                "member {} ({}, peer {host}) does not answer",
                m.name,
                hex_id(m.id)
            ),
            fix: Some(format!(
                "check etcd on that node (`systemctl status etcd`, or `crictl ps --name etcd` with \
                 kubeadm) and the client port; if the node is gone for good, replace it: \
                 `lifeboat member remove {}` first, then add the new node as a learner",
                hex_id(m.id)
            )),
        });
    }

    for m in &unstarted {
        let peer = m.peer_urls.join(",");
        findings.push(Finding {
            severity: if m.is_learner {
                Severity::Warning
            } else {
                Severity::Critical
            },
            code: "MEMBER_UNSTARTED",
            message: format!(
                "member {} (peer {peer}) was added but never started{}",
                hex_id(m.id),
                if m.is_learner {
                    ""
                } else {
                    ": it counts as a voter, so one more failure than you think loses quorum \
                     (the stale member of a node replacement done add-before-remove)"
                }
            ),
            fix: Some(if has_quorum {
                format!(
                    "start that member with --initial-cluster-state=existing, or remove it: \
                     `lifeboat member remove {}`",
                    hex_id(m.id)
                )
            } else {
                format!(
                    "once quorum is back (see QUORUM_LOST), remove it: `lifeboat member remove {}`",
                    hex_id(m.id)
                )
            }),
        });
    }

    let max_index = reachable
        .iter()
        .map(|(_, s)| s.raft_index)
        .max()
        .unwrap_or(0);
    for m in members
        .iter()
        .filter(|m| m.is_learner && !m.name.is_empty())
    {
        let caught_up = reachable
            .iter()
            .find(|(_, s)| s.member_id == m.id)
            .map(|(_, s)| max_index.saturating_sub(s.raft_applied_index) <= opts.max_raft_lag);
        findings.push(Finding {
            severity: Severity::Warning,
            code: "LEARNER_NOT_PROMOTED",
            message: format!(
                "member {} ({}) is a learner: it copies data but does not vote{}",
                m.name,
                hex_id(m.id),
                match caught_up {
                    Some(true) => " and has caught up",
                    Some(false) => " and is still catching up",
                    None => " and does not answer",
                }
            ),
            fix: Some(format!(
                "`lifeboat member promote {}` once it has caught up",
                hex_id(m.id)
            )),
        });
    }

    if !voters.is_empty() && voters.len().is_multiple_of(2) {
        findings.push(Finding {
            severity: Severity::Warning,
            code: "EVEN_VOTERS",
            message: format!(
                "{} voting members tolerate no more failures than {}; the extra member only adds \
                 a way to lose quorum",
                voters.len(),
                voters.len() - 1
            ),
            fix: Some("remove the surplus member or add one more to reach an odd count".into()),
        });
    }

    for (e, s) in &reachable {
        let lag = max_index.saturating_sub(s.raft_applied_index);
        if lag > opts.max_raft_lag {
            findings.push(Finding {
                severity: Severity::Warning,
                code: "RAFT_LAG",
                message: format!(
                    "{} has applied raft index {}, {lag} entries behind the most advanced member",
                    e.endpoint, s.raft_applied_index
                ),
                fix: Some(
                    "check that member's disk latency and CPU; if it never catches up, replace it"
                        .into(),
                ),
            });
        }
        if let Some(other) = cluster_id.filter(|c| *c != s.cluster_id) {
            findings.push(Finding {
                severity: Severity::Critical,
                code: "ENDPOINT_NOT_MEMBER",
                message: format!(
                    "{} answers for cluster {}, not {}: a second cluster exists (a \
                     force-new-cluster or restore running beside the old members?)",
                    e.endpoint,
                    hex_id(s.cluster_id),
                    hex_id(other)
                ),
                fix: Some(
                    "stop one of the two clusters before any client writes to both; keep the one \
                     with the newer data"
                        .into(),
                ),
            });
        } else if !members.is_empty() && !members.iter().any(|m| m.id == s.member_id) {
            findings.push(Finding {
                severity: Severity::Warning,
                code: "ENDPOINT_NOT_MEMBER",
                message: format!(
                    "{} is member {}, which is not in the member list (removed, but still running)",
                    e.endpoint,
                    hex_id(s.member_id)
                ),
                fix: Some("stop etcd on that node and move its data dir aside".into()),
            });
        }
        let quota = opts.quota_bytes.max(1);
        let pct = s.db_size as f64 * 100.0 / quota as f64;
        if pct >= 80.0 {
            findings.push(Finding {
                severity: if pct >= 95.0 {
                    Severity::Critical
                } else {
                    Severity::Warning
                },
                code: "DB_NEAR_QUOTA",
                message: format!(
                    "{} database is {} bytes, {pct:.0}% of the {} byte quota; at 100% etcd \
                     raises NOSPACE and refuses writes",
                    e.endpoint, s.db_size, opts.quota_bytes
                ),
                fix: Some(
                    "compact old revisions and defragment one member at a time (`etcdctl compact \
                     <revision>`, `etcdctl defrag --endpoints <url>`), or raise \
                     --quota-backend-bytes"
                        .into(),
                ),
            });
        }
    }

    let alarms = collect_alarms(obs);
    for a in &alarms {
        let (code, fix) = match a.alarm.as_str() {
            "NOSPACE" => (
                "ALARM_NOSPACE",
                "free space, then disarm: `etcdctl compact <revision>`, `etcdctl defrag` on each \
                 member, `etcdctl alarm disarm`; raise --quota-backend-bytes if the data really grew",
            ),
            "CORRUPT" => (
                "ALARM_CORRUPT",
                "stop writes; find the member whose `etcdctl endpoint hashkv` differs and replace \
                 it from a healthy member (`lifeboat member remove`, then add it back empty)",
            ),
            _ => continue,
        };
        findings.push(Finding {
            severity: Severity::Critical,
            code,
            message: format!("alarm {} raised by member {}", a.alarm, a.member_id),
            fix: Some(fix.into()),
        });
    }

    if findings.is_empty() {
        findings.push(Finding {
            severity: Severity::Ok,
            code: "HEALTHY",
            message: format!(
                "{reachable_voters} of {} voting members answer, leader {}",
                voters.len(),
                leader_id.map(hex_id).unwrap_or_default()
            ),
            fix: None,
        });
    }
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));

    let member_rows = members
        .iter()
        .map(|m| MemberRow {
            id: hex_id(m.id),
            name: m.name.clone(),
            peer_urls: m.peer_urls.clone(),
            client_urls: m.client_urls.clone(),
            is_learner: m.is_learner,
            started: !m.name.is_empty(),
            reachable: answering.contains(&m.id),
            is_leader: Some(m.id) == leader_id,
        })
        .collect();

    ClusterStatus {
        members: member_rows,
        endpoints: obs.endpoints.iter().map(endpoint_row).collect(),
        alarms,
        quorum: Quorum {
            voting_members: voters.len(),
            reachable_voters,
            quorum_size: if voters.is_empty() { 0 } else { quorum_size },
            failures_tolerated: reachable_voters.saturating_sub(quorum_size),
            has_quorum,
            leader_id: leader_id.map(hex_id),
            leader_agreed,
        },
        findings,
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

/// Alarms are replicated to every member, and each member's Status lists them in its errors
/// (`memberID:<decimal> alarm:NOSPACE`). Reading them there needs no leader, unlike the Alarm RPC,
/// which goes through raft and hangs when quorum is gone.
fn collect_alarms(obs: &Observation) -> Vec<AlarmRow> {
    let mut set: BTreeSet<(String, String)> = BTreeSet::new();
    for e in &obs.endpoints {
        let Ok(s) = &e.status else { continue };
        for err in &s.errors {
            if let Some((member, alarm)) = parse_alarm(err) {
                set.insert((hex_id(member), alarm));
            }
        }
    }
    set.into_iter()
        .map(|(member_id, alarm)| AlarmRow { member_id, alarm })
        .collect()
}

fn parse_alarm(text: &str) -> Option<(u64, String)> {
    let member = text.split("memberID:").nth(1)?.split_whitespace().next()?;
    let alarm = text.split("alarm:").nth(1)?.split_whitespace().next()?;
    Some((member.parse().ok()?, alarm.to_string()))
}

fn most_common<T: Ord + Clone>(items: impl Iterator<Item = T>) -> Option<T> {
    let mut counts: BTreeMap<T, usize> = BTreeMap::new();
    for i in items {
        *counts.entry(i).or_default() += 1;
    }
    counts.into_iter().max_by_key(|(_, n)| *n).map(|(v, _)| v)
}

#[cfg(test)]
#[path = "diagnose_tests.rs"]
mod tests;
