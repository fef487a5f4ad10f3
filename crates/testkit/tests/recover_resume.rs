//! Fault injection for lost-quorum recovery: the recovery is interrupted after several different
//! steps, every etcd is then stopped (as when lifeboat and its local members die together), and
//! the same recovery is run again from the journal. It must converge with no acknowledged key
//! lost and every member back.

use std::time::Duration;

use ops::recover::{LocalExecutor, StepTiming, recover_local};
use testkit::{TestCluster, data};

#[tokio::test]
async fn interrupted_recovery_resumes_and_converges() {
    let mut tc = TestCluster::plain(3).await;
    let mut c = tc.client(0).await.unwrap();
    let acked = data::put_keys(&mut c, "/registry/configmaps/x/k", 300)
        .await
        .unwrap();
    // Let the followers apply everything before the disaster.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for i in [1, 2] {
        tc.cluster.kill(i);
        let dir = tc.cluster.members()[i].data_dir.clone();
        std::fs::rename(&dir, dir.with_extension("lost")).unwrap();
    }
    let state = tc.cluster.dir().join("state");

    // Interrupt after the 4th, 7th, 9th and 12th finished step of the run in progress.
    for stop_after in [4usize, 3, 2, 3] {
        let mut seen = 0usize;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        {
            let mut exec = LocalExecutor {
                cluster: &mut tc.cluster,
            };
            let mut on_step = |s: &StepTiming| {
                if s.ran {
                    let _ = tx.send(());
                }
            };
            let recovery = recover_local(&mut exec, &state, &mut on_step);
            tokio::pin!(recovery);
            loop {
                tokio::select! {
                    done = &mut recovery => {
                        done.expect("an uninterrupted stretch of recovery succeeds");
                        break;
                    }
                    Some(()) = rx.recv() => {
                        seen += 1;
                        if seen == stop_after {
                            break;
                        }
                    }
                }
            }
        }
        // The crash: every local member goes down with lifeboat.
        for i in 0..tc.cluster.members().len() {
            tc.cluster.kill(i);
        }
    }

    let mut exec = LocalExecutor {
        cluster: &mut tc.cluster,
    };
    let (plan, report) = recover_local(&mut exec, &state, &mut |_| {})
        .await
        .expect("the rerun converges");
    assert_eq!(plan.seed, "m1");
    assert!(
        report.steps.iter().any(|s| !s.ran),
        "the rerun skipped journaled steps"
    );
    assert_eq!(report.final_status.members.len(), 3);
    assert!(
        report
            .final_status
            .members
            .iter()
            .all(|m| m.reachable && !m.is_learner)
    );

    let mut c = tc.client(2).await.unwrap();
    let found = data::read_prefix(&mut c, "/registry/").await.unwrap();
    for (k, v) in &acked {
        assert_eq!(found.get(k), Some(v), "acknowledged key {k} lost");
    }
    // The finished run's journal is closed: the next disaster starts a new plan.
    assert!(
        !state.exists(),
        "the state dir of a finished recovery is moved aside"
    );
    let closed = std::fs::read_dir(tc.cluster.dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|e| e.file_name().to_string_lossy().starts_with("state.done-"));
    assert!(closed, "the journal is kept as state.done-<time>");
    // The seed's original data dir was kept as a backup.
    let kept = std::fs::read_dir(tc.cluster.dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|e| e.file_name().to_string_lossy().starts_with("m1.lifeboat-"));
    assert!(
        kept,
        "the seed's data dir was backed up before force-new-cluster"
    );
}

#[tokio::test]
async fn a_saved_plan_of_another_cluster_is_refused_and_nothing_is_touched() {
    use ops::recover::{Journal, MemberSpec, SurvivorEvidence, plan};
    let mut tc = TestCluster::plain(1).await;
    let state = tc.cluster.dir().join("state");
    let other = plan(
        &[MemberSpec {
            name: "elsewhere".into(),
            peer_urls: vec!["http://198.18.0.9:2380".into()],
        }],
        &[SurvivorEvidence {
            name: "elsewhere".into(),
            committed: 1,
            last_term: 1,
            last_index: 1,
            revision: None,
            source: "test".into(),
            db_has_all_committed: false,
        }],
    )
    .unwrap();
    Journal::open(&state).unwrap().save_plan(&other).unwrap();
    let mut exec = LocalExecutor {
        cluster: &mut tc.cluster,
    };
    let err = recover_local(&mut exec, &state, &mut |_| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("elsewhere") && err.contains("state dir"),
        "{err}"
    );
    assert_eq!(
        tc.cluster.members()[0].state,
        testkit::MemberState::Running,
        "m1 was not fenced"
    );
}
