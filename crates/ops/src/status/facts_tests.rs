//! Quorum counting and who counts as asked.

use super::*;
use crate::status::test_support::*;

#[test]
fn quorum_is_held_lost_or_unknown_from_what_was_asked() {
    let state = |v, r, u| QuorumCount::new(v, r, u).state;
    assert_eq!(state(3, 2, 0), QuorumState::Held);
    assert_eq!(state(3, 1, 0), QuorumState::Lost);
    assert_eq!(state(3, 1, 1), QuorumState::Unknown);
    assert_eq!(state(5, 1, 1), QuorumState::Lost);
    assert_eq!(state(0, 0, 0), QuorumState::Unknown);
}

#[test]
fn a_member_is_asked_when_it_answers_or_its_url_was_probed() {
    let m = three();
    let o = obs(vec![up(1, 1000, 1, &m), down(2000)]);
    let opts = DiagnoseOptions::default();
    let f = Facts::new(&o, &opts);
    let c = f.judged().expect("one cluster");
    assert_eq!(c.asked, [1, 2].into_iter().collect());
    assert_eq!(c.probed_dead, [2].into_iter().collect());
    assert_eq!(c.unexamined().map(|m| m.id).collect::<Vec<_>>(), vec![3]);
}

#[test]
fn clusters_are_grouped_by_id_and_none_is_judged_when_several_answer() {
    let o = obs(vec![
        up_in(0xa, 9, 9000, 9, &[member(9, 9000)]),
        up(1, 1000, 1, &three()),
    ]);
    let opts = DiagnoseOptions::default();
    let f = Facts::new(&o, &opts);
    assert_eq!(f.clusters.len(), 2);
    assert!(f.judged().is_none());
    assert!(f.clusters.iter().all(|c| c.reachable.len() == 1));
}

#[test]
fn two_leaders_with_different_lists_fall_back_to_the_majority_view() {
    let m = three();
    let o = obs(vec![
        up(1, 1000, 1, &[member(1, 1000)]),
        up(2, 2000, 2, &m),
        up(3, 3000, 2, &m),
    ]);
    let opts = DiagnoseOptions::default();
    let f = Facts::new(&o, &opts);
    let c = f.judged().expect("one cluster");
    assert_eq!(c.members, m);
    assert!(!c.members_from_leader);
    assert!(!c.membership_confirmed());
}
