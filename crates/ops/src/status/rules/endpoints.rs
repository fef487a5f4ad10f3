//! Rules about what single endpoints report: raft lag within their own cluster, an endpoint
//! outside the membership, a database close to its quota.

use super::super::facts::Facts;
use super::super::{Finding, Severity};
use crate::ids::hex_id;

/// Lag is measured against the most advanced member of the same cluster: raft indexes of two
/// clusters have nothing to do with each other.
pub(super) fn raft_lag(f: &Facts<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for c in &f.clusters {
        let max_index = c
            .reachable
            .iter()
            .map(|(_, s)| s.raft_index)
            .max()
            .unwrap_or(0);
        for (e, s) in &c.reachable {
            let lag = max_index.saturating_sub(s.raft_applied_index);
            if lag <= f.opts.max_raft_lag {
                continue;
            }
            out.push(Finding {
                severity: Severity::Warning,
                code: "RAFT_LAG",
                message: format!(
                    "{} has applied raft index {}, {lag} entries behind the most advanced member",
                    e.endpoint, s.raft_applied_index
                ),
                fix: Some(
                    "check that member's disk latency and CPU; if it never catches up, replace it"
                        .into(),
                ),
            });
        }
    }
    out
}

/// A member of this cluster's ID that the membership does not list: removed but still running.
/// Stopping it is only advised when the membership comes from a leader with quorum that every
/// member agrees with; otherwise the list it is missing from may be the wrong one.
pub(super) fn endpoint_not_member(f: &Facts<'_>) -> Vec<Finding> {
    let Some(c) = f.judged() else { return vec![] };
    if c.members.is_empty() {
        return vec![];
    }
    let fix = if c.membership_confirmed() {
        "stop etcd on that node and move its data dir aside".to_string()
    } else {
        "change nothing yet: the membership it is missing from is not confirmed by a leader with \
         quorum that every member agrees with; run `lifeboat status` again once it is"
            .to_string()
    };
    c.reachable
        .iter()
        .filter(|(_, s)| !c.members.iter().any(|m| m.id == s.member_id))
        .map(|(e, s)| Finding {
            severity: Severity::Warning,
            code: "ENDPOINT_NOT_MEMBER",
            message: format!(
                "{} is member {}, which is not in the member list (removed, but still running)",
                e.endpoint,
                hex_id(s.member_id)
            ),
            fix: Some(fix.clone()),
        })
        .collect()
}

pub(super) fn db_near_quota(f: &Facts<'_>) -> Vec<Finding> {
    let quota = f.opts.quota_bytes.max(1);
    f.answered
        .iter()
        .filter_map(|(e, s)| {
            let pct = s.db_size as f64 * 100.0 / quota as f64;
            (pct >= 80.0).then(|| Finding {
                severity: if pct >= 95.0 {
                    Severity::Critical
                } else {
                    Severity::Warning
                },
                code: "DB_NEAR_QUOTA",
                message: format!(
                    "{} database is {} bytes, {pct:.0}% of the {} byte quota; at 100% etcd \
                     raises NOSPACE and refuses writes",
                    e.endpoint, s.db_size, f.opts.quota_bytes
                ),
                fix: Some(
                    "compact old revisions and defragment one member at a time (`etcdctl compact \
                     <revision>`, `etcdctl defrag --endpoints <url>`), or raise \
                     --quota-backend-bytes"
                        .into(),
                ),
            })
        })
        .collect()
}

#[cfg(test)]
#[path = "endpoints_tests.rs"]
mod tests;
