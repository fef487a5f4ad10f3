//! The diagnosis rules on hand-built observations: the races a live cluster only shows sometimes
//! (a dead leader still named, an isolated leader still claiming) are pinned down here.

use super::*;
use crate::settings::Endpoint;
use crate::status::gather::{ObservedEndpoint, ObservedStatus};

const CLUSTER: u64 = 0xc1;

fn member(id: u64, port: u16) -> ObservedMember {
    ObservedMember {
        id,
        name: format!("m{id}"),
        peer_urls: vec![format!("https://127.0.0.1:{}", port + 1)],
        client_urls: vec![format!("https://127.0.0.1:{port}")],
        is_learner: false,
    }
}

fn up(id: u64, port: u16, leader: u64, members: &[ObservedMember]) -> ObservedEndpoint {
    ObservedEndpoint {
        endpoint: Endpoint::parse(&format!("https://127.0.0.1:{port}")).unwrap(),
        status: Ok(ObservedStatus {
            member_id: id,
            cluster_id: CLUSTER,
            version: "3.4.23".into(),
            db_size: 1 << 20,
            db_size_in_use: 1 << 19,
            leader,
            raft_term: 2,
            raft_index: 100,
            raft_applied_index: 100,
            is_learner: false,
            errors: vec![],
            latency_ms: 1.0,
        }),
        members: Some(members.to_vec()),
        errors: vec![],
    }
}

fn down(port: u16) -> ObservedEndpoint {
    ObservedEndpoint {
        endpoint: Endpoint::parse(&format!("https://127.0.0.1:{port}")).unwrap(),
        status: Err("cannot connect: Connection refused".into()),
        members: None,
        errors: vec![],
    }
}

fn three() -> Vec<ObservedMember> {
    vec![member(1, 1000), member(2, 2000), member(3, 3000)]
}

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
    let m = three();
    let mut other = up(9, 9000, 9, &[member(9, 9000)]);
    if let Ok(s) = &mut other.status {
        s.cluster_id = 0xdead;
    }
    let mut removed = up(7, 7000, 1, &m);
    removed.members = Some(m.clone());
    let s = run(vec![
        up(1, 1000, 1, &m),
        up(2, 2000, 1, &m),
        up(3, 3000, 1, &m),
        other,
        removed,
    ]);
    let hits: Vec<&Finding> = s
        .findings
        .iter()
        .filter(|f| f.code == "ENDPOINT_NOT_MEMBER")
        .collect();
    assert_eq!(hits.len(), 2, "{:?}", codes(&s));
    assert!(hits.iter().any(|f| f.severity == Severity::Critical));
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
