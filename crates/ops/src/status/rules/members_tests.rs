use super::*;
use crate::status::test_support::*;

fn unstarted(id: u64, learner: bool) -> ObservedMember {
    ObservedMember {
        id,
        name: String::new(),
        peer_urls: vec![format!("https://127.0.0.1:{id}001")],
        client_urls: vec![],
        is_learner: learner,
    }
}

#[test]
fn membership_disagrees_shows_each_view() {
    let m = three();
    let fewer = vec![member(1, 1000), member(2, 2000)];
    let found = apply(
        membership_disagrees,
        vec![up(1, 1000, 1, &m), up(2, 2000, 1, &fewer)],
    );
    assert_eq!(codes_of(&found), vec!["MEMBERSHIP_DISAGREES"]);
    assert!(
        found[0]
            .message
            .contains("https://127.0.0.1:2000 sees [0000000000000001, 0000000000000002]")
    );
    assert!(
        apply(
            membership_disagrees,
            vec![up(1, 1000, 1, &m), up(2, 2000, 1, &m)]
        )
        .is_empty()
    );
}

#[test]
fn member_unreachable_only_for_members_asked() {
    let m = three();
    let found = apply(member_unreachable, vec![up(1, 1000, 1, &m), down(2000)]);
    assert_eq!(codes_of(&found), vec!["MEMBER_UNREACHABLE"]);
    assert!(found[0].message.contains("m2"));
    assert!(
        !destructive(&found[0]),
        "quorum unknown: {:?}",
        found[0].fix
    );
}

#[test]
fn member_unreachable_advises_removal_only_with_quorum_held() {
    let m = three();
    let held = apply(
        member_unreachable,
        vec![up(1, 1000, 1, &m), up(2, 2000, 1, &m), down(3000)],
    );
    assert!(destructive(&held[0]), "{:?}", held[0].fix);
    let lost = apply(
        member_unreachable,
        vec![up(1, 1000, 1, &m), down(2000), down(3000)],
    );
    assert_eq!(lost.len(), 2);
    assert!(lost.iter().all(|f| !destructive(f)), "{lost:?}");
    assert!(
        lost[0]
            .fix
            .as_deref()
            .unwrap_or("")
            .contains("removing a member needs quorum")
    );
}

#[test]
fn member_unstarted_fix_follows_the_quorum_state() {
    let mut m = three();
    m.push(unstarted(4, false));
    let held = apply(
        member_unstarted,
        vec![up(1, 1000, 1, &m), up(2, 2000, 1, &m), up(3, 3000, 1, &m)],
    );
    assert_eq!(held[0].severity, Severity::Critical);
    assert!(
        held[0]
            .fix
            .as_deref()
            .unwrap_or("")
            .starts_with("start that member")
    );
    let lost = apply(
        member_unstarted,
        vec![up(1, 1000, 1, &m), down(2000), down(3000)],
    );
    assert!(
        lost[0]
            .fix
            .as_deref()
            .unwrap_or("")
            .contains("once quorum is back")
    );
    let unknown = apply(member_unstarted, vec![up(1, 1000, 1, &m)]);
    assert!(
        unknown[0]
            .fix
            .as_deref()
            .unwrap_or("")
            .starts_with("ask every member")
    );
    let learner = apply(
        member_unstarted,
        vec![up(1, 1000, 1, &[member(1, 1000), unstarted(4, true)])],
    );
    assert_eq!(learner[0].severity, Severity::Warning);
}

#[test]
fn learner_not_promoted_says_how_far_it_is() {
    let mut m = three();
    m.push(ObservedMember {
        is_learner: true,
        ..member(4, 4000)
    });
    let behind = with(up(4, 4000, 1, &m), |s| s.raft_applied_index = 1);
    let ahead = with(up(1, 1000, 1, &m), |s| s.raft_index = 5000);
    let found = apply(learner_not_promoted, vec![ahead.clone(), behind]);
    assert!(
        found[0].message.ends_with("still catching up"),
        "{}",
        found[0].message
    );
    let found = apply(learner_not_promoted, vec![ahead.clone(), down(4000)]);
    assert!(found[0].message.ends_with("does not answer"));
    let found = apply(learner_not_promoted, vec![ahead]);
    assert!(found[0].message.ends_with("was not asked"));
}

#[test]
fn even_voters_counts_voters_only() {
    let mut m = three();
    m.push(member(4, 4000));
    assert_eq!(
        codes_of(&apply(even_voters, vec![up(1, 1000, 1, &m)])),
        vec!["EVEN_VOTERS"]
    );
    m[3].is_learner = true;
    assert!(apply(even_voters, vec![up(1, 1000, 1, &m)]).is_empty());
}
