//! The diagnosis rules, one function each: facts in, findings out. [`RULES`] is the order they
//! run in; the report sorts findings by severity afterwards.
//!
//! Every rule claims only what the facts prove: membership rules judge a cluster only when one
//! cluster answered, a member is only reported down when it was asked, and a fix that stops or
//! replaces something is only given when the evidence behind it is complete.

mod alarms;
mod cluster;
mod endpoints;
mod members;

use super::Finding;
use super::facts::Facts;

pub(super) type Rule = fn(&Facts<'_>) -> Vec<Finding>;

pub(super) const RULES: &[Rule] = &[
    members::membership_disagrees,
    cluster::nothing_reachable,
    cluster::clusters_mixed,
    cluster::partial_evidence,
    cluster::quorum_lost,
    cluster::no_leader,
    cluster::leader_disagrees,
    members::member_unreachable,
    members::member_unstarted,
    members::learner_not_promoted,
    members::even_voters,
    endpoints::raft_lag,
    endpoints::endpoint_not_member,
    endpoints::db_near_quota,
    alarms::alarms,
];

/// The fix a rule gives when the quorum it depends on was not judged.
const ASK_EVERY_MEMBER: &str = "ask every member first: run `lifeboat status` without \
    --only-given, or list every member's client URL in --endpoints";

pub(super) use alarms::collect_alarms;
#[cfg(test)]
pub(super) use alarms::parse_alarm;
