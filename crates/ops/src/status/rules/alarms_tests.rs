use super::*;
use crate::status::test_support::*;

#[test]
fn alarms_become_findings_and_unknown_alarms_are_listed_only() {
    let m = three();
    let e = with(up(1, 1000, 1, &m), |s| {
        s.errors = vec![
            "memberID:2 alarm:NOSPACE ".into(),
            "memberID:3 alarm:CORRUPT".into(),
            "memberID:3 alarm:SOMETHING".into(),
        ]
    });
    let found = apply(alarms, vec![e.clone()]);
    assert_eq!(codes_of(&found), vec!["ALARM_NOSPACE", "ALARM_CORRUPT"]);
    assert_eq!(collect_alarms(&obs(vec![e])).len(), 3);
}

#[test]
fn alarm_text_parsing_is_forgiving() {
    assert_eq!(
        parse_alarm("memberID:17 alarm:CORRUPT "),
        Some((17, "CORRUPT".into()))
    );
    assert_eq!(parse_alarm("etcdserver: no leader"), None);
}
