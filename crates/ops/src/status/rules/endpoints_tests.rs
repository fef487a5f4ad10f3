use super::*;
use crate::status::test_support::*;

#[test]
fn raft_lag_is_measured_within_one_cluster() {
    let m = three();
    let ahead = with(up(2, 2000, 1, &m), |s| {
        s.raft_index = 5000;
        s.raft_applied_index = 5000;
    });
    let slow = with(up(3, 3000, 1, &m), |s| s.raft_applied_index = 10);
    let found = apply(raft_lag, vec![ahead.clone(), slow]);
    assert_eq!(codes_of(&found), vec!["RAFT_LAG"]);
    assert!(found[0].message.contains("4990 entries behind"));
    let other = with(up_in(0xa, 9, 9000, 9, &[member(9, 9000)]), |s| {
        s.raft_index = 10;
        s.raft_applied_index = 10;
    });
    assert!(apply(raft_lag, vec![ahead, other]).is_empty());
}

#[test]
fn endpoint_not_member_advises_stopping_only_on_a_confirmed_membership() {
    let m = three();
    let removed = up(7, 7000, 1, &m);
    let confirmed = apply(
        endpoint_not_member,
        vec![up(1, 1000, 1, &m), up(2, 2000, 1, &m), removed.clone()],
    );
    assert_eq!(codes_of(&confirmed), vec!["ENDPOINT_NOT_MEMBER"]);
    assert!(destructive(&confirmed[0]));
    // Only one member of the list asked: quorum unknown, the list is not confirmed.
    let partial = apply(endpoint_not_member, vec![up(1, 1000, 1, &m), removed]);
    assert_eq!(codes_of(&partial), vec!["ENDPOINT_NOT_MEMBER"]);
    assert!(!destructive(&partial[0]), "{:?}", partial[0].fix);
}

#[test]
fn db_near_quota_warns_at_80_and_is_critical_at_95_percent() {
    let m = three();
    let at = |mib: u64| with(up(1, 1000, 1, &m), |s| s.db_size = mib * 1024 * 1024);
    assert!(apply(db_near_quota, vec![at(1000)]).is_empty());
    assert_eq!(
        apply(db_near_quota, vec![at(1700)])[0].severity,
        Severity::Warning
    );
    assert_eq!(
        apply(db_near_quota, vec![at(1990)])[0].severity,
        Severity::Critical
    );
}
