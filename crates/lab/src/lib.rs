//! Disaster drills on throwaway local etcd clusters: start a real cluster, fill it with
//! Kubernetes-shaped data, cause the disaster, detect it with `ops::status`, recover with
//! `ops::recover`, `store::restore` or the continuous backup, and judge the outcome by the
//! acknowledged keys that survived. `lifeboat drill` is flags, one call to [`rehearse`] and a
//! rendering of the [`DrillReport`].
//!
//! # Layout
//! - [`report`]: [`DrillSpec`] (what to rehearse), [`DrillReport`] (what happened, one
//!   constructor), the timeline of steps told as they finish.
//! - [`error`]: [`LabError`], why a drill stopped before its verdict.
//! - `cluster.rs`: the throwaway cluster, its Kubernetes-shaped data, observation, the timed
//!   local recovery.
//! - `lost_quorum.rs`, `stale_member.rs`, `restore.rs`, `policy_lockout.rs`, `total_loss.rs`:
//!   one file per scenario: the disaster and the way out (`total_loss/` holds its write load
//!   and the `lifeboat agent` child it backs up with).
//! - `floor.rs`: the recovery's floor, measured after a rebuild (which has no step showing it).

mod cluster;
pub mod error;
mod floor;
mod lost_quorum;
pub mod policy_lockout;
pub mod report;
mod restore;
mod stale_member;
pub mod total_loss;

pub use error::{LabError, Result};
pub use report::{DrillReport, DrillSpec, Progress, RecoveryTiming, Scenario, Step};

/// Runs the drill `spec` asks for on a throwaway cluster of its own, removed afterwards
/// (unless `keep`). A drill whose recovery fails is a report with verdict `fail`; an error is
/// a drill that could not get that far.
pub async fn rehearse(spec: &DrillSpec) -> Result<DrillReport> {
    match spec.scenario {
        Scenario::LostQuorum => lost_quorum::rehearse(spec, spec.lose).await,
        Scenario::StaleMember => stale_member::rehearse(spec).await,
        Scenario::Restore => restore::rehearse(spec).await,
        Scenario::PolicyLockout => policy_lockout::rehearse(spec).await,
        Scenario::TotalLoss => total_loss::rehearse(spec).await,
    }
}
