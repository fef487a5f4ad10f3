//! Alarms, read from the members' Status errors.

use std::collections::BTreeSet;

use super::super::facts::Facts;
use super::super::gather::Observation;
use super::super::{AlarmRow, Finding, Severity};
use crate::ids::hex_id;

pub(super) fn alarms(f: &Facts<'_>) -> Vec<Finding> {
    collect_alarms(f.obs)
        .into_iter()
        .filter_map(|a| {
            let (code, fix) = match a.alarm.as_str() {
                "NOSPACE" => (
                    "ALARM_NOSPACE",
                    "free space, then disarm: `etcdctl compact <revision>`, `etcdctl defrag` on \
                     each member, `etcdctl alarm disarm`; raise --quota-backend-bytes if the data \
                     really grew",
                ),
                "CORRUPT" => (
                    "ALARM_CORRUPT",
                    "stop writes; find the member whose `etcdctl endpoint hashkv` differs and \
                     replace it from a healthy member (`lifeboat member remove`, then add it back \
                     empty)",
                ),
                _ => return None,
            };
            Some(Finding {
                severity: Severity::Critical,
                code,
                message: format!("alarm {} raised by member {}", a.alarm, a.member_id),
                fix: Some(fix.into()),
            })
        })
        .collect()
}

/// Alarms are replicated to every member, and each member's Status lists them in its errors
/// (`memberID:<decimal> alarm:NOSPACE`). Reading them there needs no leader, unlike the Alarm RPC,
/// which goes through raft and hangs when quorum is gone.
pub(in super::super) fn collect_alarms(obs: &Observation) -> Vec<AlarmRow> {
    let mut set: BTreeSet<(String, String)> = BTreeSet::new();
    for e in &obs.endpoints {
        let Ok(s) = &e.status else { continue };
        for err in &s.errors {
            if let Some((member, alarm)) = parse_alarm(err) {
                set.insert((hex_id(member), alarm));
            }
        }
    }
    set.into_iter()
        .map(|(member_id, alarm)| AlarmRow { member_id, alarm })
        .collect()
}

pub(in super::super) fn parse_alarm(text: &str) -> Option<(u64, String)> {
    let member = text.split("memberID:").nth(1)?.split_whitespace().next()?;
    let alarm = text.split("alarm:").nth(1)?.split_whitespace().next()?;
    Some((member.parse().ok()?, alarm.to_string()))
}

#[cfg(test)]
#[path = "alarms_tests.rs"]
mod tests;
