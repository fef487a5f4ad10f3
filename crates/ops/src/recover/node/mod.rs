//! Recovery on real nodes: the etcd of *this* machine, run by systemd (an env file such as
//! `/etc/etcd.env`) or by the kubelet (the static pod manifest). [`seed`] turns this node into
//! the one-member cluster everything is rebuilt from; [`rejoin`] brings this node back into it.
//!
//! Both are journaled in a state dir and idempotent per step, and every file they edit is saved
//! beside itself (`FILE.lifeboat-<UTC time>`) before the first edit.

mod env_file;
mod rejoin;
mod seed;
mod service;
mod static_pod;
mod systemd;

pub use rejoin::{RejoinRequest, rejoin};
pub use seed::{SeedRequest, seed};
pub use service::{NodeService, Setting};
pub use static_pod::StaticPodService;
pub use systemd::SystemdService;

/// Runs `steps` in order under the journal at `journal`: a step an earlier run finished is
/// reported as not run and skipped, so a rerun after a crash resumes where it stopped. Each
/// step is marked done only after `run` returned for it.
async fn run_journaled(
    journal: &std::path::Path,
    steps: &[&str],
    on_step: &mut dyn FnMut(&NodeStep),
    mut run: impl AsyncFnMut(usize) -> Result<(), crate::OpsError>,
) -> Result<Vec<NodeStep>, crate::OpsError> {
    let mut journal = crate::recover::Journal::open(journal)?;
    let mut done = Vec::new();
    for (i, name) in steps.iter().enumerate() {
        let started = std::time::Instant::now();
        let ran = !journal.is_done(i);
        if ran {
            run(i).await?;
            journal.mark_done(i, name)?;
        }
        let step = NodeStep {
            name: name.to_string(),
            seconds: if ran {
                started.elapsed().as_secs_f64()
            } else {
                0.0
            },
            ran,
        };
        on_step(&step);
        done.push(step);
    }
    journal.finish()?;
    Ok(done)
}

/// What one node-local step did, for the report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NodeStep {
    pub name: String,
    pub seconds: f64,
    /// False when the journal said it was already done.
    pub ran: bool,
}
