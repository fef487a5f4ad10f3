//! The restore-based rebuild: instead of forcing a new cluster on the seed and re-adding the
//! others one learner at a time (etcd 3.4 allows one learner, and waits 5 s after each
//! promotion), every member's data dir is restored from the seed's db in one pass and all
//! members start together as a new cluster.
//!
//! Safe only when the seed's db already holds every committed entry: the restore reads the db,
//! not the WAL, so entries committed but not yet applied would be lost. When the evidence does
//! not show that, the plan is the classic one (force-new-cluster and rejoin), with a warning.
//! The seed's data dir is read, never written: the restore builds new dirs under temporary names
//! and moves the old ones aside (`DIR.lifeboat-<UTC time>`) only once every new dir is complete.

use std::time::Duration;

use super::executor::{Executor, StartMode};
use super::plan::{MemberSpec, Plan, Step, SurvivorEvidence, plan};
use crate::OpsError;

/// Lays out a rebuild from the same seed [`plan`] picks; the classic plan when the seed's db
/// may lack committed entries. `token` makes the new cluster's IDs (a new cluster ID, so a
/// member of the old cluster that comes back cannot talk to the new one).
pub fn plan_rebuild(
    members: &[MemberSpec],
    evidence: &[SurvivorEvidence],
    token: &str,
) -> Result<Plan, OpsError> {
    let mut classic = plan(members, evidence)?;
    let seed_ok = evidence
        .iter()
        .find(|e| e.name == classic.seed)
        .is_some_and(|e| e.db_has_all_committed);
    if !seed_ok {
        classic.warnings.push(format!(
            "{}'s db may lack entries its WAL holds as committed: rebuilding from the db could \
             lose them, so the seed is forced and the others rejoin (slower, loses nothing)",
            classic.seed
        ));
        return Ok(classic);
    }
    let min_revision = classic
        .steps
        .iter()
        .find_map(|s| match s {
            Step::CheckSeed { min_revision, .. } => Some(*min_revision),
            _ => None,
        })
        .unwrap_or(0);
    let mut steps: Vec<Step> = classic
        .steps
        .iter()
        .filter(|s| matches!(s, Step::Fence { .. }))
        .cloned()
        .collect();
    steps.push(Step::RestoreAll {
        seed: classic.seed.clone(),
        token: token.to_string(),
    });
    steps.push(Step::StartAll);
    steps.push(Step::CheckSeed {
        member: classic.seed.clone(),
        min_revision,
    });
    steps.push(Step::Verify);
    classic.steps = steps;
    Ok(classic)
}

/// Every member stopped (a rerun may find some started), then restored from the seed's db.
pub(super) fn restore_all(
    exec: &mut dyn Executor,
    seed: &str,
    token: &str,
) -> Result<(), OpsError> {
    for m in exec.members() {
        exec.stop(&m)?;
    }
    exec.restore_all(seed, token)
}

/// Starts every member not running and waits until they lead as one cluster of all of them.
pub(super) async fn start_all(exec: &mut dyn Executor, timeout: Duration) -> Result<(), OpsError> {
    let members = exec.members();
    for m in &members {
        if !exec.is_running(m) {
            exec.start(m, StartMode::Normal)?;
        }
    }
    super::wait::until_leading(
        &exec.settings_all(),
        Some(members.len()),
        timeout,
        "the rebuilt cluster",
    )
    .await
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

    fn e(name: &str, committed: u64, all_in_db: bool) -> SurvivorEvidence {
        SurvivorEvidence {
            name: name.into(),
            committed,
            last_term: 2,
            last_index: committed,
            revision: Some(committed as i64),
            source: "test".into(),
            db_has_all_committed: all_in_db,
        }
    }

    #[test]
    fn a_seed_whose_db_holds_everything_is_rebuilt_from_and_the_others_are_not_added_one_by_one() {
        let members = [m("a"), m("b"), m("c")];
        let p = plan_rebuild(&members, &[e("a", 9, true), e("b", 12, true)], "t").unwrap();
        assert_eq!(p.seed, "b");
        let kinds: Vec<&Step> = p.steps.iter().skip(3).collect();
        assert_eq!(
            kinds,
            [
                &Step::RestoreAll {
                    seed: "b".into(),
                    token: "t".into()
                },
                &Step::StartAll,
                &Step::CheckSeed {
                    member: "b".into(),
                    min_revision: 12
                },
                &Step::Verify
            ]
        );
        assert!(p.steps[..3].iter().all(|s| matches!(s, Step::Fence { .. })));
    }

    #[test]
    fn a_seed_whose_db_may_lag_its_wal_gets_the_classic_plan() {
        let members = [m("a"), m("b")];
        let p = plan_rebuild(&members, &[e("a", 9, true), e("b", 12, false)], "t").unwrap();
        assert_eq!(p.seed, "b");
        assert!(
            p.steps
                .contains(&Step::ForceNewCluster { member: "b".into() })
        );
        assert!(!p.steps.iter().any(|s| matches!(s, Step::RestoreAll { .. })));
        assert!(p.warnings.iter().any(|w| w.contains("WAL")));
    }
}
