//! What a drill is asked to do ([`DrillSpec`]), what it tells while it runs ([`Timeline`]) and
//! what it reports ([`DrillReport`]). Rendering the report is the caller's.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use ops::recover::{Plan, Strategy};
use ops::status::ClusterStatus;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    LostQuorum,
    StaleMember,
    Restore,
    PolicyLockout,
    TotalLoss,
}

/// Where the steps of a running drill are told as they finish (`None`: quietly).
pub type Progress = Arc<dyn Fn(&str) + Send + Sync>;

/// One drill, as asked for. Flags are the caller's to check (`lose` within the cluster,
/// `keep` for lost-quorum only); [`crate::rehearse`] takes them as given.
#[derive(Clone)]
pub struct DrillSpec {
    pub scenario: Scenario,
    /// Cluster size.
    pub members: usize,
    /// lost-quorum: how many members are lost.
    pub lose: usize,
    /// Mutual TLS between members and clients.
    pub tls: bool,
    /// Kubernetes-shaped objects written before the disaster, and the padding bytes of each.
    pub objects: usize,
    pub padding: usize,
    /// lost-quorum: stop after the disaster and leave the cluster for `lifeboat recover run`.
    pub keep: bool,
    /// lost-quorum and policy-lockout: how the recovery brings the members back.
    pub strategy: Strategy,
    /// total-loss: acknowledged puts per second the writers aim at.
    pub write_rate: u32,
    /// total-loss: seconds of steady load once the agent ships.
    pub load_seconds: u64,
    /// total-loss: the `lifeboat` binary run as the backup agent (`lifeboat agent ...`).
    pub lifeboat: PathBuf,
    /// Each step as it finishes, for people watching (a table run, not `-o json`).
    pub progress: Option<Progress>,
    /// What the drill cannot do here and does instead, in every output format.
    pub warnings: Option<Progress>,
}

impl DrillSpec {
    /// (objects, padding bytes per object) for the data the drill writes.
    pub(crate) fn workload(&self) -> (usize, usize) {
        (self.objects, self.padding)
    }
}

#[derive(Debug, Serialize)]
pub struct Step {
    pub name: String,
    pub seconds: f64,
}

/// The recovery's wall time against the least any recovery needs, measured in the same run:
/// etcd starting on the seed's data, plus one fresh member receiving the database from the
/// leader (joining, catching up, promoted).
#[derive(Debug, Serialize)]
pub struct RecoveryTiming {
    pub recovery_seconds: f64,
    pub seed_start_seconds: f64,
    pub member_receive_seconds: f64,
    pub floor_seconds: f64,
    /// recovery / floor
    pub ratio: f64,
}

#[derive(Debug, Serialize)]
pub struct DrillReport {
    pub scenario: Scenario,
    pub members: usize,
    pub lost_members: Vec<String>,
    pub tls: bool,
    pub keys_before: usize,
    pub keys_after: usize,
    /// Acknowledged keys missing or changed after the recovery.
    pub lost: usize,
    pub steps: Vec<Step>,
    pub status_before: ClusterStatus,
    pub status_after: ClusterStatus,
    pub detected: Vec<&'static str>,
    pub plan: Option<Plan>,
    pub status_final: Option<ClusterStatus>,
    /// Recovery time against its floor (lost-quorum only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery: Option<RecoveryTiming>,
    pub verdict: &'static str,
    pub verdict_reason: String,
    /// What the policy-lockout scenario predicted, enforced and removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lockout: Option<crate::policy_lockout::LockoutReport>,
    /// `--keep`: the root dir of the broken cluster left for `lifeboat recover run`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept: Option<String>,
    /// What the total-loss scenario wrote, lost and took to recover (RPO, RTO).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_loss: Option<crate::total_loss::TotalLossReport>,
}

impl DrillReport {
    /// A scenario's report from what every scenario has: the spec, its timeline, the status
    /// before and after the disaster with the findings detected, and the verdict. Keys,
    /// members lost and the scenario's own figures start empty; each scenario sets its own.
    pub(crate) fn new(
        spec: &DrillSpec,
        tl: Timeline,
        (status_before, status_after): (ClusterStatus, ClusterStatus),
        detected: Vec<&'static str>,
        (verdict, verdict_reason): (&'static str, String),
    ) -> DrillReport {
        DrillReport {
            scenario: spec.scenario,
            members: spec.members,
            lost_members: Vec::new(),
            tls: spec.tls,
            keys_before: 0,
            keys_after: 0,
            lost: 0,
            steps: tl.steps,
            status_before,
            status_after,
            detected,
            plan: None,
            status_final: None,
            recovery: None,
            verdict,
            verdict_reason,
            lockout: None,
            kept: None,
            total_loss: None,
        }
    }

    /// Whether the drill ended as it should: recovered (`pass`) or left as asked (`kept`).
    pub fn passed(&self) -> bool {
        self.verdict == "pass" || self.verdict == "kept"
    }
}

/// The drill's steps with their durations, told to [`DrillSpec::progress`] as they finish.
pub(crate) struct Timeline {
    pub(crate) started: Instant,
    pub(crate) steps: Vec<Step>,
    pub(crate) progress: Option<Progress>,
    warnings: Option<Progress>,
}

impl Timeline {
    pub(crate) fn new(spec: &DrillSpec) -> Timeline {
        Timeline {
            started: Instant::now(),
            steps: Vec::new(),
            progress: spec.progress.clone(),
            warnings: spec.warnings.clone(),
        }
    }

    /// Tells `line` whatever the output format.
    pub(crate) fn warn(&self, line: &str) {
        if let Some(w) = &self.warnings {
            w(line);
        }
    }

    /// Tells `line` when the drill is told about (a table for people, not `-o json`).
    pub(crate) fn note(&self, line: &str) {
        if let Some(p) = &self.progress {
            p(line);
        }
    }

    pub(crate) fn record(&mut self, name: &str, seconds: f64) {
        self.note(&format!(
            "[{:>6.1}s] {name} ({seconds:.2}s)",
            self.started.elapsed().as_secs_f64()
        ));
        self.steps.push(Step {
            name: name.to_string(),
            seconds: (seconds * 1000.0).round() / 1000.0,
        });
    }

    pub(crate) fn since(&mut self, name: &str, t: Instant) {
        self.record(name, t.elapsed().as_secs_f64());
    }
}
