//! From evidence about the survivors to the ordered steps of a recovery. Pure.

use serde::{Deserialize, Serialize};

use crate::OpsError;
use crate::status::ClusterStatus;

/// A member of the cluster being recovered, as it must be started again.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemberSpec {
    pub name: String,
    pub peer_urls: Vec<String>,
}

/// What a survivor's data dir (or its live Status) says about its progress.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SurvivorEvidence {
    pub name: String,
    /// Highest index known committed (HardState.commit, or the db's consistent index).
    pub committed: u64,
    pub last_term: u64,
    pub last_index: u64,
    pub revision: Option<i64>,
    /// Where this came from: a data dir read here, a report from another node, or live Status.
    #[serde(default)]
    pub source: String,
    /// The backend db already holds every entry the WAL says is committed (its consistent index
    /// reaches HardState.commit), so a copy of the db alone loses nothing committed: what a
    /// restore-based rebuild needs. False when unknown.
    #[serde(default)]
    pub db_has_all_committed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Step {
    /// Stop etcd on the member so no old member can answer beside the new cluster.
    Fence { member: String },
    /// Keep a copy of the member's data dir (`DIR.lifeboat-<UTC time>`).
    Backup { member: String },
    /// Start the seed once with `--force-new-cluster`: it becomes a one-member cluster.
    ForceNewCluster { member: String },
    /// The seed leads and holds at least the newest revision any survivor had.
    CheckSeed { member: String, min_revision: i64 },
    /// Restart the seed without `--force-new-cluster` (left in, it re-forces on every restart).
    RestartNormally { member: String },
    /// Add the member back as a learner.
    AddLearner {
        member: String,
        peer_urls: Vec<String>,
    },
    /// Start it on an empty data dir (the old one moved aside) with `initial-cluster-state=existing`.
    StartJoining { member: String },
    /// Promote it once it has caught up.
    Promote { member: String },
    /// Build every member's data dir anew from the seed's db, the membership rewritten to all
    /// members and a new cluster ID from `token`; old dirs are moved aside (the seed's, renamed
    /// to `DIR.lifeboat-seed-<token>`, is read, never modified).
    RestoreAll { seed: String, token: String },
    /// Start every member on its restored data dir, together.
    StartAll,
    /// Every member lists the same membership and returns the same `hash_kv` at one revision.
    Verify,
}

impl Step {
    pub fn describe(&self) -> String {
        match self {
            Step::Fence { member } => format!("fence {member} (stop etcd)"),
            Step::Backup { member } => format!("back up the data dir of {member}"),
            Step::ForceNewCluster { member } => format!("force a new cluster on {member}"),
            Step::CheckSeed {
                member,
                min_revision,
            } => {
                format!("check {member} leads with revision >= {min_revision}")
            }
            Step::RestartNormally { member } => {
                format!("restart {member} without --force-new-cluster")
            }
            Step::AddLearner { member, .. } => format!("add {member} as a learner"),
            Step::StartJoining { member } => format!("start {member} on an empty data dir"),
            Step::Promote { member } => format!("promote {member}"),
            Step::RestoreAll { seed, .. } => {
                format!("restore every member's data dir from {seed}'s db")
            }
            Step::StartAll => "start every member together".into(),
            Step::Verify => "verify membership and hash_kv on every member".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    pub seed: String,
    pub seed_reason: String,
    pub evidence: Vec<SurvivorEvidence>,
    pub steps: Vec<Step>,
    pub warnings: Vec<String>,
    /// Made although some members were never examined (`--accept-partial-evidence`): one of
    /// them may hold committed data the seed lacks.
    #[serde(default)]
    pub partial: bool,
    /// The members nothing was read about.
    #[serde(default)]
    pub unexamined: Vec<String>,
}

impl Plan {
    /// Marks a plan made without evidence from `unexamined`, and says what that risks.
    pub fn on_partial_evidence(mut self, unexamined: &[String]) -> Plan {
        if unexamined.is_empty() {
            return self;
        }
        self.warnings.insert(
            0,
            format!(
                "PARTIAL EVIDENCE: {} {} never examined; if one of them holds committed entries \
                 {} lacks, forcing a new cluster from {} loses them for good. Read their data \
                 dirs first (`lifeboat datadir inspect -o json` on each node, then \
                 --datadir-report) unless those nodes are gone",
                unexamined.join(", "),
                if unexamined.len() == 1 { "was" } else { "were" },
                self.seed,
                self.seed
            ),
        );
        self.partial = true;
        self.unexamined = unexamined.to_vec();
        self
    }
}

/// A plan is for a cluster that lost quorum, judged on one cluster's endpoints. A majority
/// answering is enough to refuse: without a leader yet an election is due within seconds, and
/// forcing a new cluster beside a working majority would split it.
pub fn refuse_unless_lost(status: &ClusterStatus, force: bool) -> Result<(), OpsError> {
    if status.clusters.len() > 1 {
        let groups: Vec<String> = status
            .clusters
            .iter()
            .map(|g| format!("cluster {} at {}", g.cluster_id, g.endpoints.join(",")))
            .collect();
        return Err(OpsError::Config(format!(
            "the endpoints answer for {} different clusters ({}): one recovery plan cannot cover \
             them. Give only the endpoints of the cluster to recover with --endpoints, and run \
             `lifeboat status` on each cluster first",
            status.clusters.len(),
            groups.join("; ")
        )));
    }
    if status.quorum.has_quorum && !force {
        let leader = match &status.quorum.leader_id {
            Some(_) => "and a leader",
            None => "(a leader should be elected within seconds; see `lifeboat status`)",
        };
        return Err(OpsError::Config(format!(
            "the cluster has quorum {leader}: force-new-cluster is not the tool. Replace broken \
             members with `lifeboat member replace`, or pass --force to plan anyway"
        )));
    }
    Ok(())
}

/// Picks the seed (most committed progress; docs/etcd-formats.md §4: committed index, then last term and
/// index; never the HardState term, which failed elections inflate) and lays out the steps.
pub fn plan(members: &[MemberSpec], evidence: &[SurvivorEvidence]) -> Result<Plan, OpsError> {
    if evidence.is_empty() {
        return Err(OpsError::Config(
            "no evidence from any survivor was read (no data dir, report or answering member), so \
             nothing shows which member could seed a new cluster: run `lifeboat datadir inspect \
             -o json <data dir>` on each node and pass the files with --datadir-report; if no \
             member's data survived, restore from a snapshot instead (`lifeboat snapshot restore`)"
                .into(),
        ));
    }
    let mut ranked: Vec<&SurvivorEvidence> = evidence.iter().collect();
    ranked.sort_by_key(|e| std::cmp::Reverse((e.committed, e.last_term, e.last_index)));
    let seed = ranked[0];
    if !members.iter().any(|m| m.name == seed.name) {
        return Err(OpsError::Config(format!(
            "survivor {} is not a known member",
            seed.name
        )));
    }
    let mut warnings = Vec::new();
    if let Some(second) = ranked.get(1) {
        if (second.committed, second.last_term, second.last_index)
            == (seed.committed, seed.last_term, seed.last_index)
        {
            warnings.push(format!(
                "{} and {} hold the same progress; {} was picked by order",
                seed.name, second.name, seed.name
            ));
        } else if second.last_index > seed.last_index {
            warnings.push(format!(
                "{} has log entries beyond {}'s ({} > {}) that were never committed; they are \
                 dropped, as a leader election would have dropped them",
                second.name, seed.name, second.last_index, seed.last_index
            ));
        }
    }
    // Live evidence has no last entry (term 0): say so rather than print a made-up one.
    let last_entry = match seed.last_term {
        0 => "last log entry not read".to_string(),
        t => format!("last entry term {t} index {}", seed.last_index),
    };
    let seed_reason = format!(
        "{} holds the most committed progress: committed index {}, {last_entry} ({})",
        seed.name, seed.committed, seed.source
    );
    let min_revision = evidence
        .iter()
        .filter_map(|e| e.revision)
        .max()
        .unwrap_or(0);

    let mut steps = Vec::new();
    for m in members {
        steps.push(Step::Fence {
            member: m.name.clone(),
        });
    }
    for e in evidence {
        steps.push(Step::Backup {
            member: e.name.clone(),
        });
    }
    steps.push(Step::ForceNewCluster {
        member: seed.name.clone(),
    });
    steps.push(Step::CheckSeed {
        member: seed.name.clone(),
        min_revision,
    });
    steps.push(Step::RestartNormally {
        member: seed.name.clone(),
    });
    // One member at a time, promoted before the next is added: etcd 3.4 allows a single learner
    // ("too many learner members"), which is also why each add after a promotion waits out
    // etcd's 5 s "leader connected to every voter" rule.
    for m in members.iter().filter(|m| m.name != seed.name) {
        steps.push(Step::AddLearner {
            member: m.name.clone(),
            peer_urls: m.peer_urls.clone(),
        });
        steps.push(Step::StartJoining {
            member: m.name.clone(),
        });
        steps.push(Step::Promote {
            member: m.name.clone(),
        });
    }
    steps.push(Step::Verify);
    Ok(Plan {
        seed: seed.name.clone(),
        seed_reason,
        evidence: evidence.to_vec(),
        steps,
        warnings,
        partial: false,
        unexamined: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(name: &str) -> MemberSpec {
        MemberSpec {
            name: name.into(),
            peer_urls: vec![format!("https://{name}:2380")],
        }
    }

    fn e(name: &str, committed: u64, term: u64, index: u64, rev: i64) -> SurvivorEvidence {
        SurvivorEvidence {
            name: name.into(),
            committed,
            last_term: term,
            last_index: index,
            revision: Some(rev),
            source: "test".into(),
            db_has_all_committed: false,
        }
    }

    #[test]
    fn the_freshest_survivor_seeds_and_the_rest_rejoin_as_learners() {
        let members = [m("a"), m("b"), m("c")];
        let p = plan(&members, &[e("a", 13, 2, 13, 9), e("b", 16, 2, 16, 12)]).unwrap();
        assert_eq!(p.seed, "b");
        assert_eq!(
            p.steps
                .iter()
                .filter(|s| matches!(s, Step::Fence { .. }))
                .count(),
            3
        );
        let pos = |s: &Step| p.steps.iter().position(|x| x == s).unwrap();
        let force = pos(&Step::ForceNewCluster { member: "b".into() });
        assert!(
            p.steps[..force]
                .iter()
                .all(|s| matches!(s, Step::Fence { .. } | Step::Backup { .. }))
        );
        assert_eq!(
            p.steps[force + 1],
            Step::CheckSeed {
                member: "b".into(),
                min_revision: 12
            }
        );
        for other in ["a", "c"] {
            let add = pos(&Step::AddLearner {
                member: other.into(),
                peer_urls: vec![format!("https://{other}:2380")],
            });
            assert_eq!(
                p.steps[add + 1],
                Step::StartJoining {
                    member: other.into()
                }
            );
            assert_eq!(
                p.steps[add + 2],
                Step::Promote {
                    member: other.into()
                }
            );
        }
        assert_eq!(p.steps.last(), Some(&Step::Verify));
    }

    #[test]
    fn the_hard_state_term_never_decides_and_ties_warn() {
        // c3 campaigned alone: higher term numbers, less committed. Committed progress wins.
        let members = [m("c1"), m("c3")];
        let p = plan(&members, &[e("c3", 13, 2, 13, 5), e("c1", 16, 2, 16, 7)]).unwrap();
        assert_eq!(p.seed, "c1");
        let p = plan(&members, &[e("c1", 16, 2, 16, 7), e("c3", 16, 2, 16, 7)]).unwrap();
        assert!(p.warnings[0].contains("same progress"));
    }

    fn status(has_quorum: bool, leader: Option<&str>, clusters: usize) -> ClusterStatus {
        use crate::status::{ClusterGroup, Quorum, QuorumState};
        let quorum = Quorum {
            voting_members: 3,
            reachable_voters: if has_quorum { 2 } else { 1 },
            unexamined_voters: 0,
            quorum_size: 2,
            failures_tolerated: 0,
            has_quorum,
            state: if has_quorum {
                QuorumState::Held
            } else {
                QuorumState::Lost
            },
            leader_id: leader.map(String::from),
            leader_agreed: leader.is_some(),
        };
        let group = |i: usize| ClusterGroup {
            cluster_id: format!("{i:016x}"),
            endpoints: vec![format!("https://10.0.0.{i}:2379")],
            member_ids: vec![],
            quorum: quorum.clone(),
        };
        ClusterStatus {
            members: vec![],
            endpoints: vec![],
            alarms: vec![],
            quorum: quorum.clone(),
            unexamined_members: vec![],
            clusters: (1..=clusters).map(group).collect(),
            findings: vec![],
        }
    }

    #[test]
    fn a_majority_answering_refuses_a_plan_even_between_two_leaders() {
        let err = refuse_unless_lost(&status(true, None, 1), false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("elected within seconds") && err.contains("member replace"));
        assert!(refuse_unless_lost(&status(true, Some("a"), 1), false).is_err());
        assert!(refuse_unless_lost(&status(true, None, 1), true).is_ok());
        assert!(refuse_unless_lost(&status(false, None, 1), false).is_ok());
    }

    #[test]
    fn endpoints_of_two_clusters_get_no_plan() {
        let err = refuse_unless_lost(&status(false, None, 2), true)
            .unwrap_err()
            .to_string();
        assert!(err.contains("2 different clusters"), "{err}");
        assert!(err.contains("https://10.0.0.1:2379") && err.contains("https://10.0.0.2:2379"));
    }

    #[test]
    fn no_survivor_means_restore() {
        let err = plan(&[m("a")], &[]).unwrap_err().to_string();
        assert!(err.contains("snapshot restore"));
        assert!(
            err.contains("no evidence") && err.contains("--datadir-report"),
            "{err}"
        );
    }

    #[test]
    fn a_plan_on_partial_evidence_says_who_was_never_examined() {
        let members = [m("a"), m("b"), m("c")];
        let p = plan(&members, &[e("a", 13, 2, 13, 9)]).unwrap();
        assert!(!p.partial);
        let p = p.on_partial_evidence(&["b".into(), "c".into()]);
        assert!(p.partial);
        assert_eq!(p.unexamined, vec!["b", "c"]);
        assert!(p.warnings[0].starts_with("PARTIAL EVIDENCE: b, c were never examined"));
    }
}
