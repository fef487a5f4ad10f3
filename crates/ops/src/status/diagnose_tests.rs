//! The diagnosis rules on hand-built observations: the races a live cluster only shows sometimes
//! (a dead leader still named, an isolated leader still claiming) are pinned down here.

use super::*;
use crate::status::gather::{ObservedEndpoint, ObservedMember};
use crate::status::rules::parse_alarm;
use crate::status::test_support::*;
use crate::status::{AlarmRow, Verdict};

fn codes(s: &ClusterStatus) -> Vec<&'static str> {
    s.findings.iter().map(|f| f.code).collect()
}

fn run(endpoints: Vec<ObservedEndpoint>) -> ClusterStatus {
    diagnose(&Observation { endpoints }, &DiagnoseOptions::default())
}

#[test]
fn healthy_cluster_has_one_ok_finding() {
    let m = three();
    let s = run(vec![
        up(1, 1000, 1, &m),
        up(2, 2000, 1, &m),
        up(3, 3000, 1, &m),
    ]);
    assert_eq!(codes(&s), vec!["HEALTHY"]);
    assert_eq!(s.quorum.failures_tolerated, 1);
    assert_eq!(s.quorum.leader_id.as_deref(), Some("0000000000000001"));
    assert!(s.quorum.leader_agreed);
    assert_eq!(s.verdict(), super::super::Verdict::Healthy);
}

#[test]
fn dead_leader_still_named_by_followers_is_no_leader() {
    let m = three();
    let s = run(vec![down(1000), up(2, 2000, 1, &m), up(3, 3000, 1, &m)]);
    let c = codes(&s);
    assert!(c.contains(&"NO_LEADER"), "{c:?}");
    assert!(!c.contains(&"QUORUM_LOST"), "{c:?}");
    assert_eq!(s.quorum.leader_id, None);
    assert!(
        s.findings
            .iter()
            .any(|f| f.message.contains("still name 0000000000000001"))
    );
}

#[test]
fn isolated_leader_without_quorum_is_no_leader() {
    let m = three();
    let s = run(vec![up(1, 1000, 1, &m), down(2000), down(3000)]);
    let c = codes(&s);
    assert!(
        c.contains(&"QUORUM_LOST") && c.contains(&"NO_LEADER"),
        "{c:?}"
    );
    assert_eq!(s.quorum.leader_id, None);
    assert_eq!(s.verdict(), super::super::Verdict::Critical);
}

#[test]
fn nothing_reachable_is_unknown() {
    let s = run(vec![down(1000), down(2000)]);
    assert_eq!(codes(&s), vec!["NOTHING_REACHABLE"]);
    assert_eq!(s.verdict(), super::super::Verdict::Unknown);
}

#[test]
fn unstarted_voter_makes_four_voters_and_is_critical() {
    let mut m = three();
    m.push(ObservedMember {
        id: 4,
        name: String::new(),
        peer_urls: vec!["https://127.0.0.1:4001".into()],
        client_urls: vec![],
        is_learner: false,
    });
    m.sort();
    let s = run(vec![
        up(1, 1000, 1, &m),
        up(2, 2000, 1, &m),
        up(3, 3000, 1, &m),
    ]);
    let c = codes(&s);
    assert!(
        c.contains(&"MEMBER_UNSTARTED") && c.contains(&"EVEN_VOTERS"),
        "{c:?}"
    );
    assert_eq!(s.quorum.quorum_size, 3);
    assert_eq!(s.quorum.failures_tolerated, 0);
    let fix = s
        .findings
        .iter()
        .find(|f| f.code == "MEMBER_UNSTARTED")
        .and_then(|f| f.fix.clone());
    assert!(
        fix.unwrap_or_default()
            .contains("lifeboat member remove 0000000000000004")
    );
}

#[test]
fn learner_is_not_a_voter_and_is_reported() {
    let mut m = three();
    m.push(ObservedMember {
        is_learner: true,
        ..member(4, 4000)
    });
    m.sort();
    let mut learner = up(4, 4000, 1, &m);
    if let Ok(s) = &mut learner.status {
        s.is_learner = true;
    }
    let s = run(vec![
        up(1, 1000, 1, &m),
        up(2, 2000, 1, &m),
        up(3, 3000, 1, &m),
        learner,
    ]);
    assert_eq!(s.quorum.voting_members, 3);
    let c = codes(&s);
    assert!(
        c.contains(&"LEARNER_NOT_PROMOTED") && !c.contains(&"EVEN_VOTERS"),
        "{c:?}"
    );
}

#[test]
fn alarms_are_read_from_status_errors() {
    let m = three();
    let mut e = up(1, 1000, 1, &m);
    if let Ok(s) = &mut e.status {
        s.errors = vec!["memberID:2 alarm:NOSPACE ".into()];
    }
    let s = run(vec![e, up(2, 2000, 1, &m), up(3, 3000, 1, &m)]);
    assert_eq!(
        s.alarms,
        vec![AlarmRow {
            member_id: hex_id(2),
            alarm: "NOSPACE".into()
        }]
    );
    assert!(codes(&s).contains(&"ALARM_NOSPACE"));
}

#[test]
fn db_near_quota_and_raft_lag() {
    let m = three();
    let mut big = up(1, 1000, 1, &m);
    if let Ok(s) = &mut big.status {
        s.db_size = 1_900 * 1024 * 1024;
    }
    let mut slow = up(3, 3000, 1, &m);
    if let Ok(s) = &mut slow.status {
        s.raft_applied_index = 10;
        s.raft_index = 10;
    }
    let mut ahead = up(2, 2000, 1, &m);
    if let Ok(s) = &mut ahead.status {
        s.raft_index = 5000;
        s.raft_applied_index = 5000;
    }
    let s = run(vec![big, ahead, slow]);
    let c = codes(&s);
    assert!(
        c.contains(&"DB_NEAR_QUOTA") && c.contains(&"RAFT_LAG"),
        "{c:?}"
    );
}

#[test]
fn second_cluster_and_removed_member_are_not_members() {
    // Before: the second cluster's endpoint was an ENDPOINT_NOT_MEMBER of the first, judged in
    // one quorum with it. Now a second cluster ID is CLUSTERS_MIXED, each group listed, and
    // nothing is judged across them; a removed member of one cluster is ENDPOINT_NOT_MEMBER.
    let m = three();
    let other = up_in(0xdead, 9, 9000, 9, &[member(9, 9000)]);
    let mut removed = up(7, 7000, 1, &m);
    removed.members = Some(m.clone());
    let mixed = run(vec![
        up(1, 1000, 1, &m),
        up(2, 2000, 1, &m),
        up(3, 3000, 1, &m),
        other,
        removed.clone(),
    ]);
    let f = mixed
        .findings
        .iter()
        .find(|f| f.code == "CLUSTERS_MIXED")
        .expect("the mix is reported");
    assert_eq!(f.severity, Severity::Critical);
    assert!(
        f.message.contains("https://127.0.0.1:9000"),
        "{}",
        f.message
    );
    assert_eq!(mixed.clusters.len(), 2);
    assert!(
        !mixed.findings.iter().any(destructive),
        "{:?}",
        codes(&mixed)
    );

    let single = run(vec![
        up(1, 1000, 1, &m),
        up(2, 2000, 1, &m),
        up(3, 3000, 1, &m),
        removed,
    ]);
    let hits: Vec<&Finding> = single
        .findings
        .iter()
        .filter(|f| f.code == "ENDPOINT_NOT_MEMBER")
        .collect();
    assert_eq!(hits.len(), 1, "{:?}", codes(&single));
}

#[test]
fn membership_disagreement_is_critical() {
    let m = three();
    let fewer = vec![member(1, 1000), member(2, 2000)];
    let s = run(vec![
        up(1, 1000, 1, &m),
        up(2, 2000, 1, &fewer),
        up(3, 3000, 1, &m),
    ]);
    assert!(codes(&s).contains(&"MEMBERSHIP_DISAGREES"));
}

#[test]
fn alarm_text_parsing_is_forgiving() {
    assert_eq!(
        parse_alarm("memberID:17 alarm:CORRUPT "),
        Some((17, "CORRUPT".into()))
    );
    assert_eq!(parse_alarm("etcdserver: no leader"), None);
    assert_eq!(parse_alarm("memberID:x alarm:NOSPACE"), None);
}

#[test]
fn a_removed_member_still_named_as_leader_is_no_leader() {
    // Member 3 led and was removed: the others still name it for an election timeout.
    let two = vec![member(1, 1000), member(2, 2000)];
    let s = run(vec![up(1, 1000, 3, &two), up(2, 2000, 3, &two)]);
    assert_eq!(s.quorum.leader_id, None);
    assert!(codes(&s).contains(&"NO_LEADER"), "{:?}", codes(&s));
}

#[test]
fn one_member_asked_of_three_is_partial_evidence_not_quorum_lost() {
    // `status --endpoints <one healthy member> --only-given` used to say QUORUM_LOST, exit 2,
    // and advise forcing a new cluster.
    let s = run(vec![up(1, 1000, 1, &three())]);
    let c = codes(&s);
    assert!(c.contains(&"PARTIAL_EVIDENCE"), "{c:?}");
    assert!(
        !c.contains(&"QUORUM_LOST") && !c.contains(&"NO_LEADER"),
        "{c:?}"
    );
    assert!(!c.contains(&"MEMBER_UNREACHABLE"), "{c:?}");
    assert_eq!(s.quorum.state, QuorumState::Unknown);
    assert_eq!(s.quorum.unexamined_voters, 2);
    assert_eq!(s.unexamined_members, vec![hex_id(2), hex_id(3)]);
    assert_eq!(s.verdict(), Verdict::Unknown);
    assert!(!s.findings.iter().any(destructive), "{:#?}", s.findings);
}

#[test]
fn two_of_three_asked_hold_quorum_and_the_third_stays_unknown() {
    let m = three();
    let s = run(vec![up(1, 1000, 1, &m), up(2, 2000, 1, &m)]);
    assert_eq!(s.quorum.state, QuorumState::Held);
    assert!(s.quorum.has_quorum);
    assert_eq!(codes(&s), vec!["PARTIAL_EVIDENCE"]);
    assert_eq!(s.verdict(), Verdict::Warning);
    let m3 = s
        .members
        .iter()
        .find(|r| r.id == hex_id(3))
        .expect("listed");
    assert!(!m3.reachable);
}

#[test]
fn a_down_member_and_an_unasked_one_leave_quorum_unknown() {
    let m = three();
    let s = run(vec![up(1, 1000, 1, &m), down(2000)]);
    let c = codes(&s);
    assert_eq!(s.quorum.state, QuorumState::Unknown);
    assert!(c.contains(&"MEMBER_UNREACHABLE"), "{c:?}");
    assert!(!c.contains(&"QUORUM_LOST"), "{c:?}");
    assert_eq!(s.verdict(), Verdict::Unknown);
}

#[test]
fn quorum_lost_points_at_recover_plan_not_at_forcing() {
    let m = three();
    let s = run(vec![up(1, 1000, 1, &m), down(2000), down(3000)]);
    let fix = s
        .findings
        .iter()
        .find(|f| f.code == "QUORUM_LOST")
        .and_then(|f| f.fix.clone())
        .unwrap_or_default();
    assert!(fix.contains("lifeboat recover plan"), "{fix}");
    assert!(!fix.contains("force"), "{fix}");
}

#[test]
fn two_clusters_are_grouped_never_one_quorum_and_lag_stays_inside_each() {
    // The minority cluster's leader is seen first: its member list used to become "the"
    // membership, so the other cluster lost quorum and each of its members was "not a member,
    // stop etcd on that node"; the lag was measured across the two clusters' raft logs.
    let m = three();
    let lone = with(up_in(0xa, 9, 9000, 9, &[member(9, 9000)]), |s| {
        s.raft_index = 10;
        s.raft_applied_index = 10;
    });
    let busy = |id, port| {
        with(up(id, port, 1, &m), |s| {
            s.raft_index = 5000;
            s.raft_applied_index = 5000;
        })
    };
    let s = run(vec![lone, busy(1, 1000), busy(2, 2000), busy(3, 3000)]);
    let c = codes(&s);
    assert!(c.contains(&"CLUSTERS_MIXED"), "{c:?}");
    for wrong in [
        "QUORUM_LOST",
        "ENDPOINT_NOT_MEMBER",
        "RAFT_LAG",
        "NO_LEADER",
    ] {
        assert!(!c.contains(&wrong), "{wrong} in {c:?}");
    }
    assert!(!s.findings.iter().any(destructive), "{:#?}", s.findings);
    let groups: Vec<(&str, usize)> = s
        .clusters
        .iter()
        .map(|g| (g.cluster_id.as_str(), g.endpoints.len()))
        .collect();
    assert_eq!(
        groups,
        vec![(hex_id(CLUSTER).as_str(), 3), (hex_id(0xa).as_str(), 1)]
    );
    assert_eq!(s.clusters[0].quorum.state, QuorumState::Held);
    assert_eq!(s.quorum.state, QuorumState::Unknown);
    assert_eq!(s.verdict(), Verdict::Critical);
}

#[test]
fn a_forced_member_beside_the_old_ones_is_no_reason_to_stop_the_majority() {
    // m1 was forced into a one-member cluster (same cluster ID) while m2 and m3 still run.
    let m = three();
    let s = run(vec![
        up(1, 1000, 1, &[member(1, 1000)]),
        up(2, 2000, 2, &m),
        up(3, 3000, 2, &m),
    ]);
    let c = codes(&s);
    assert!(c.contains(&"MEMBERSHIP_DISAGREES"), "{c:?}");
    assert!(!s.findings.iter().any(destructive), "{:#?}", s.findings);
}

#[test]
fn no_member_list_is_partial_and_never_healthy() {
    let mut e = up(1, 1000, 1, &[]);
    e.members = None;
    let s = run(vec![e]);
    assert_eq!(codes(&s), vec!["PARTIAL_EVIDENCE"]);
    assert_eq!(s.verdict(), Verdict::Unknown);
}

#[test]
fn settled_needs_every_endpoint_and_an_answering_leader() {
    let m = three();
    let all = run(vec![
        up(1, 1000, 1, &m),
        up(2, 2000, 1, &m),
        up(3, 3000, 1, &m),
    ]);
    assert_eq!(all.settled(), Ok(()));
    let dead_leader = run(vec![down(1000), up(2, 2000, 1, &m), up(3, 3000, 1, &m)]);
    let why = dead_leader
        .settled()
        .expect_err("a dead leader is not settled");
    assert!(why.contains("NO_LEADER"), "{why}");
}
