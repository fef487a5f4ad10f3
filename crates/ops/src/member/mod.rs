//! Membership changes that refuse to break quorum.
//!
//! Every change is first computed as a [`quorum::Change`] (the quorum math before and after,
//! and whether the guard allows it), then carried out against the leader. The dangerous orders
//! of the field reports are refused by default: adding a voter while members are down (the
//! stale-member outage), removing a healthy voter when that leaves fewer healthy voters than the
//! new quorum, removing the last voter.

mod join;
mod ops;
pub mod quorum;

pub use join::{JoinInstructions, initial_cluster, join_instructions};
pub use ops::{MemberRef, add, find_member, leader_endpoint, promote, promote_when_ready, remove};
pub use quorum::{Change, QuorumMath};
