//! Lost-quorum recovery: fence, back up, force a new cluster on the freshest survivor, re-add
//! the others as learners, verify.
//!
//! [`plan`] is pure (evidence in, steps out), so the choice of seed and the order of steps are
//! tested without a cluster. [`run`] carries a plan out through an [`Executor`] (how members are
//! started and stopped: local processes today), recording each finished step in a [`Journal`],
//! so running the same recovery again after a crash skips what is done and converges.
//! [`plan_rebuild`] is the other way back for local clusters: every member restored from the
//! seed's db at once, when that db provably holds every committed entry.

mod evidence;
mod executor;
mod fence;
mod journal;
pub mod node;
mod plan;
mod rebuild;
mod run;
mod runbook;
mod wait;

pub use evidence::{Coverage, coverage, from_data_dirs, from_live_status, from_rank_input};
pub use executor::{Executor, LocalExecutor, StartMode};
pub use journal::Journal;
pub use plan::{MemberSpec, Plan, Step, SurvivorEvidence, plan, refuse_unless_lost};
pub use rebuild::plan_rebuild;
pub use run::{
    LocalRecoverOptions, RunReport, StepTiming, Strategy, check_seed_has_data, plan_local,
    recover_local, recover_local_with, run,
};
pub use runbook::{RunbookStep, gathering, runbook};
pub use wait::{until_answering, until_leading};
