use super::*;
use crate::status::test_support::*;

#[test]
fn nothing_reachable_only_when_nothing_answers() {
    assert_eq!(
        codes_of(&apply(nothing_reachable, vec![down(1000)])),
        vec!["NOTHING_REACHABLE"]
    );
    assert!(apply(nothing_reachable, vec![up(1, 1000, 1, &three())]).is_empty());
}

#[test]
fn clusters_mixed_lists_each_group_and_advises_nothing_destructive() {
    let found = apply(
        clusters_mixed,
        vec![
            up(1, 1000, 1, &three()),
            up_in(0xa, 9, 9000, 9, &[member(9, 9000)]),
        ],
    );
    assert_eq!(codes_of(&found), vec!["CLUSTERS_MIXED"]);
    let msg = &found[0].message;
    assert!(
        msg.contains("00000000000000c1 answers at https://127.0.0.1:1000"),
        "{msg}"
    );
    assert!(
        msg.contains("000000000000000a answers at https://127.0.0.1:9000"),
        "{msg}"
    );
    assert!(!destructive(&found[0]));
    assert!(apply(clusters_mixed, vec![up(1, 1000, 1, &three())]).is_empty());
}

#[test]
fn partial_evidence_names_the_members_not_asked() {
    let found = apply(partial_evidence, vec![up(1, 1000, 1, &three())]);
    assert_eq!(codes_of(&found), vec!["PARTIAL_EVIDENCE"]);
    assert!(
        found[0]
            .message
            .contains("m2 (0000000000000002), m3 (0000000000000003)")
    );
    assert!(found[0].message.contains("quorum cannot be judged"));
    assert!(
        found[0]
            .message
            .contains("name leader 0000000000000001 (not confirmed)")
    );
    assert!(!destructive(&found[0]));
    let all = three();
    let full = vec![up(1, 1000, 1, &all), down(2000), down(3000)];
    assert!(apply(partial_evidence, full).is_empty());
}

#[test]
fn quorum_lost_only_when_even_the_unasked_could_not_make_one() {
    let m = three();
    let lost = apply(
        quorum_lost,
        vec![up(1, 1000, 1, &m), down(2000), down(3000)],
    );
    assert_eq!(codes_of(&lost), vec!["QUORUM_LOST"]);
    let fix = lost[0].fix.clone().unwrap_or_default();
    assert!(fix.contains("bring back 1 of the 2") && fix.contains("lifeboat recover plan"));
    assert!(apply(quorum_lost, vec![up(1, 1000, 1, &m), down(2000)]).is_empty());
    assert!(apply(quorum_lost, vec![up(1, 1000, 1, &m)]).is_empty());
}

#[test]
fn no_leader_when_the_named_leader_is_dead_isolated_or_absent() {
    let m = three();
    let dead = apply(
        no_leader,
        vec![down(1000), up(2, 2000, 1, &m), up(3, 3000, 1, &m)],
    );
    assert!(dead[0].message.contains("still name 0000000000000001"));
    let isolated = apply(no_leader, vec![up(1, 1000, 1, &m), down(2000), down(3000)]);
    assert!(isolated[0].message.contains("cannot reach a quorum"));
    let all = apply(no_leader, vec![up(1, 1000, 0, &m), up(2, 2000, 0, &m)]);
    assert!(
        all[0]
            .message
            .contains("no reachable member knows a leader")
    );
    let none = apply(no_leader, vec![up(1, 1000, 0, &m)]);
    assert!(none[0].message.contains("no member asked knows a leader"));
    assert!(none[0].fix.as_deref().unwrap_or("").contains("not known"));
    // One member asked, naming a leader: not confirmed, but not disproved either.
    assert!(apply(no_leader, vec![up(1, 1000, 2, &m)]).is_empty());
}

#[test]
fn leader_disagrees_when_two_live_leaders_are_named() {
    let m = three();
    let found = apply(
        leader_disagrees,
        vec![up(1, 1000, 1, &m), up(2, 2000, 2, &m), up(3, 3000, 2, &m)],
    );
    assert_eq!(codes_of(&found), vec!["LEADER_DISAGREES"]);
    assert!(
        apply(
            leader_disagrees,
            vec![up(1, 1000, 1, &m), up(2, 2000, 1, &m)]
        )
        .is_empty()
    );
}
