//! Data dirs from real etcd 3.4.23: every WAL/snap/db value the fixtures README lists.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod common;

use store::datadir::{RankInput, inspect};
use store::raftpb::{HardState, SnapPoint};
use store::rank::rank;
use store::wal::{Position, SegmentEnd};

#[test]
fn d1_wal_snap_and_db() {
    let t = common::extract("datadir-m1-3.4.23.tar.gz");
    let r = inspect(&t.path().join("d1")).expect("inspect");
    assert_eq!(r.member_id.as_deref(), Some("e17fdf966dadd245"));
    assert_eq!(r.cluster_id.as_deref(), Some("a30a42b1dc45e821"));
    assert_eq!(
        r.hard_state,
        Some(HardState {
            term: 2,
            vote: 0xe17fdf966dadd245,
            commit: 45
        })
    );
    assert_eq!(r.last_entry, Some(Position { term: 2, index: 45 }));
    assert_eq!(
        r.wal_snapshots,
        [
            SnapPoint { index: 0, term: 0 },
            SnapPoint { index: 21, term: 2 },
            SnapPoint { index: 42, term: 2 }
        ]
    );
    let snaps: Vec<_> = r
        .snap_files
        .iter()
        .map(|s| (s.term, s.index, s.valid))
        .collect();
    assert_eq!(snaps, [(2, 42, true), (2, 21, true)]);
    assert!(r.snap_files.iter().all(|s| s.problem.is_none()));
    assert_eq!(r.snapshot, Some(SnapPoint { index: 42, term: 2 }));
    let db = r.db.as_ref().expect("db");
    assert_eq!(
        (db.consistent_index, db.revision, db.compact_revision),
        (Some(45), Some(37), Some(10))
    );
    assert_eq!(r.committed, 45);
    assert!(r.wal.crc_ok && !r.wal.torn_tail);
    assert!(matches!(r.wal.segments[0].end, SegmentEnd::Zeros { .. }));
    assert!(!r.live.locked);
    assert!(r.problems.is_empty(), "{:?}", r.problems);
}

#[test]
fn restored_member_wal_records() {
    let t = common::extract("restored-a-b-3.4.23.tar.gz");
    let r = inspect(&t.path().join("restored-a")).expect("inspect");
    assert_eq!(r.member_id.as_deref(), Some("a952749a57bc8bf8"));
    assert_eq!(r.cluster_id.as_deref(), Some("cb91783416cdb48b"));
    assert_eq!(
        r.hard_state,
        Some(HardState {
            term: 1,
            vote: 0x6f05ef644d46119b,
            commit: 2
        })
    );
    assert_eq!(r.last_entry, Some(Position { term: 1, index: 2 }));
    assert_eq!(
        r.wal_snapshots,
        [
            SnapPoint { index: 0, term: 0 },
            SnapPoint { index: 2, term: 1 }
        ]
    );
    let cc: Vec<_> = r
        .conf_changes
        .iter()
        .map(|c| (c.term, c.index, c.change.as_str(), c.node_id.as_str()))
        .collect();
    assert_eq!(
        cc,
        [
            (1, 1, "add_node", "6f05ef644d46119b"),
            (1, 2, "add_node", "a952749a57bc8bf8")
        ]
    );
    assert_eq!(r.wal.segments[0].records, 7);
    assert_eq!(r.snap_files.len(), 1);
    assert_eq!(
        r.snap_files[0].name,
        "0000000000000001-0000000000000002.snap"
    );
    let cs = r.snap_files[0].conf_state.as_ref().expect("conf state");
    assert_eq!(cs.voters, [0x6f05ef644d46119b, 0xa952749a57bc8bf8]);
    assert_eq!(r.db.as_ref().and_then(|d| d.consistent_index), Some(2));
    let b = inspect(&t.path().join("restored-b")).expect("inspect b");
    assert_eq!(b.member_id.as_deref(), Some("6f05ef644d46119b"));
}

#[test]
fn cluster3_values_and_rank_puts_c3_last() {
    let t = common::extract("cluster3-stopped-3.4.23.tar.gz");
    let mut inputs: Vec<RankInput> = Vec::new();
    // c3 first so the ranking, not the input order, decides.
    for (name, hs, last, ci) in [
        ("c3", (2, 13), (2, 13), 13),
        ("c1", (5, 16), (2, 16), 16),
        ("c2", (2, 16), (2, 16), 16),
    ] {
        let r = inspect(&t.path().join(name)).expect("inspect");
        let h = r.hard_state.expect("hard state");
        assert_eq!((h.term, h.commit), hs, "{name}");
        assert_eq!(
            r.last_entry,
            Some(Position {
                term: last.0,
                index: last.1
            }),
            "{name}"
        );
        assert_eq!(
            r.db.as_ref().and_then(|d| d.consistent_index),
            Some(ci),
            "{name}"
        );
        inputs.push(r.rank_input());
    }
    let ranking = rank(&inputs);
    let order: Vec<_> = ranking
        .ranking
        .iter()
        .map(|r| r.dir.rsplit('/').next().unwrap_or_default().to_string())
        .collect();
    assert_eq!(order[2], "c3");
    assert!(order[..2].contains(&"c1".to_string()) && order[..2].contains(&"c2".to_string()));
    assert!(
        ranking.warnings.iter().any(|w| w.contains("tie")),
        "{:?}",
        ranking.warnings
    );
    assert_eq!(ranking.ranking[0].committed, 16);
    assert_eq!(ranking.ranking[2].committed, 13);
    // Ranking from JSON made elsewhere gives the same order.
    let json: Vec<RankInput> = inputs
        .iter()
        .map(|i| serde_json::from_value(serde_json::to_value(i).expect("ser")).expect("de"))
        .collect();
    let again = rank(&json);
    assert_eq!(again.ranking[2].dir, ranking.ranking[2].dir);
}

#[test]
fn c2_after_force_new_cluster() {
    let t = common::extract("c2-after-force-new-cluster-3.4.23.tar.gz");
    let r = inspect(&t.path().join("c2f")).expect("inspect");
    let removes: Vec<_> = r
        .conf_changes
        .iter()
        .filter(|c| c.change == "remove_node")
        .map(|c| (c.term, c.index))
        .collect();
    assert_eq!(removes, [(2, 17), (2, 18)]);
    let ids: Vec<_> = r
        .conf_changes
        .iter()
        .filter(|c| c.change == "remove_node")
        .map(|c| &c.node_id[..4])
        .collect();
    assert_eq!(ids, ["0605", "0e43"]);
    assert_eq!(r.last_entry.map(|p| p.term), Some(3));
    let db = r.db.as_ref().expect("db");
    assert_eq!(db.removed_members.len(), 2);
    assert_eq!(db.consistent_index, Some(16));
}
