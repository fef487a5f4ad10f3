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

/// What one node-local step did, for the report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NodeStep {
    pub name: String,
    pub seconds: f64,
    /// False when the journal said it was already done.
    pub ran: bool,
}
