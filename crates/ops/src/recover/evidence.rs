//! Evidence about survivors, read offline from their data dirs once they are fenced.

use serde::Serialize;

use super::executor::Executor;
use super::plan::{MemberSpec, SurvivorEvidence};

/// What the evidence covers: a plan may only claim a seed when every member was examined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Coverage {
    /// Every member of a known membership gave evidence.
    pub complete: bool,
    /// A member list was read (live, or from a data dir's db); without one, the members that
    /// gave no evidence cannot even be named.
    pub membership_known: bool,
    /// Where each piece of evidence came from, as `member: source`.
    pub read: Vec<String>,
    /// Members nothing was read about: no data dir, no report, no answer.
    pub unexamined: Vec<String>,
}

pub fn coverage(members: &[MemberSpec], evidence: &[SurvivorEvidence]) -> Coverage {
    let mut unexamined: Vec<String> = members
        .iter()
        .filter(|m| !evidence.iter().any(|e| e.name == m.name))
        .map(|m| m.name.clone())
        .collect();
    // By name, as people list nodes; members arrive ordered by ID.
    unexamined.sort();
    let membership_known = !members.is_empty();
    Coverage {
        complete: membership_known && !evidence.is_empty() && unexamined.is_empty(),
        membership_known,
        read: evidence
            .iter()
            .map(|e| format!("{}: {}", e.name, e.source))
            .collect(),
        unexamined,
    }
}

/// Reads every member's data dir (members must be stopped, so the files are final). A data dir
/// that cannot be read cannot seed; it is reported and left out.
pub fn from_data_dirs(exec: &dyn Executor) -> (Vec<SurvivorEvidence>, Vec<String>) {
    let mut evidence = Vec::new();
    let mut problems = Vec::new();
    for member in exec.members() {
        let Some(dir) = exec.data_dir(&member) else {
            continue;
        };
        match store::datadir::inspect(&dir) {
            Ok(report) => {
                let mut e = from_rank_input(&member, &report.rank_input());
                e.source = format!("data dir {}", dir.display());
                evidence.push(e);
            }
            Err(e) => problems.push(format!("{member}: {} cannot be read: {e}", dir.display())),
        }
    }
    (evidence, problems)
}

/// Evidence from a member that still answers, when none of its files were read. Status gives
/// the committed index, but not the last log entry: its term is the current term, which failed
/// elections inflate, so it is left unknown (0) and never decides between survivors.
pub fn from_live_status(name: &str, ep: &crate::status::EndpointRow) -> SurvivorEvidence {
    let committed = ep.raft_index.unwrap_or(0);
    SurvivorEvidence {
        name: name.to_string(),
        committed,
        last_term: 0,
        last_index: committed,
        revision: None,
        source: format!("live status of {}", ep.endpoint),
        db_has_all_committed: false,
    }
}

/// Evidence from a `datadir inspect` report (JSON made on another node, or read here).
pub fn from_rank_input(name: &str, r: &store::datadir::RankInput) -> SurvivorEvidence {
    let commit = r.hard_state.map_or(0, |h| h.commit);
    let ci = r.db.as_ref().and_then(|d| d.consistent_index).unwrap_or(0);
    SurvivorEvidence {
        name: name.to_string(),
        committed: commit.max(ci),
        last_term: r.last_entry.map_or(0, |p| p.term),
        last_index: r.last_entry.map_or(0, |p| p.index),
        revision: r.db.as_ref().and_then(|d| d.revision),
        source: format!("data dir report {}", r.dir),
        db_has_all_committed: r.hard_state.is_some_and(|h| h.commit > 0 && ci >= h.commit),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str) -> MemberSpec {
        MemberSpec {
            name: name.into(),
            peer_urls: vec![],
        }
    }

    fn read(name: &str) -> SurvivorEvidence {
        SurvivorEvidence {
            name: name.into(),
            committed: 1,
            last_term: 1,
            last_index: 1,
            revision: None,
            source: "live status of x".into(),
            db_has_all_committed: false,
        }
    }

    #[test]
    fn a_live_member_gives_its_committed_index_never_its_current_term() {
        let ep = crate::status::EndpointRow {
            endpoint: "https://10.0.0.1:2379".into(),
            reachable: true,
            member_id: Some("0000000000000001".into()),
            cluster_id: None,
            version: None,
            db_size: None,
            db_size_in_use: None,
            leader_id: None,
            is_leader: false,
            is_learner: false,
            // Campaigning alone after quorum was lost: the term runs far ahead.
            raft_term: Some(40),
            raft_index: Some(100),
            raft_applied_index: Some(100),
            errors: vec![],
            latency_ms: None,
        };
        let live = from_live_status("a", &ep);
        assert_eq!(
            (live.committed, live.last_term, live.last_index),
            (100, 0, 100)
        );
        assert_eq!(live.source, "live status of https://10.0.0.1:2379");
        // Same committed progress: the data dir with a real last entry is preferred.
        let dir = SurvivorEvidence {
            last_term: 3,
            last_index: 104,
            source: "data dir /d".into(),
            ..read("b")
        };
        let dir = SurvivorEvidence {
            committed: 100,
            ..dir
        };
        let members = [spec("a"), spec("b")];
        let p = super::super::plan::plan(&members, &[live.clone(), dir]).unwrap();
        assert_eq!(p.seed, "b");
        let p = super::super::plan::plan(&members, &[live]).unwrap();
        assert!(!p.seed_reason.contains("term 0"), "{}", p.seed_reason);
    }

    #[test]
    fn coverage_is_complete_only_when_every_known_member_gave_evidence() {
        let members = [spec("a"), spec("b")];
        let all = coverage(&members, &[read("a"), read("b")]);
        assert!(all.complete);
        let some = coverage(&members, &[read("a")]);
        assert!(!some.complete);
        assert_eq!(some.unexamined, vec!["b"]);
        assert_eq!(some.read, vec!["a: live status of x"]);
        let blind = coverage(&[], &[read("a")]);
        assert!(!blind.complete && !blind.membership_known);
        assert!(!coverage(&members, &[]).complete);
    }
}
