//! Live etcd: connection settings, one client per endpoint, cluster status and its diagnosis,
//! and local etcd processes for drills and tests.
//!
//! Everything here that talks to a server is async and bounded by a timeout; the diagnosis is a
//! pure function of what was observed, so it can be tested and explained on its own.
//!
//! # Layout
//! - [`error`]: `OpsError`, the typed failures a caller can act on.
//! - [`settings`]: where the endpoints and certificates come from: flags, `ETCDCTL_*`, the kubeadm
//!   manifest, an etcd env file, or the loopback default; validated before any dial.
//! - [`client`]: opens one etcd client for one endpoint (never a balanced client: per-member
//!   questions must reach that member).
//! - [`status`]: gathers members, per-endpoint status and alarms in parallel, then
//!   [`status::diagnose`] turns them into quorum math and findings.
//! - [`local`]: starts real etcd processes on loopback (free ports, temp dirs, generated PKI) for
//!   `lifeboat drill` and for the test kit.
//! - [`member`]: membership changes behind a quorum guard (add as learner, remove before add).
//! - [`recover`]: lost-quorum recovery: a pure plan, executors, a journal, a resumable runner.
//! - [`snapshot`]: `snapshot save`: stream, prove sound, name, manifest, retention.
//! - [`files`]: crash-safe writes (temp, fsync, rename) and move-aside instead of delete.
//! - [`utc`]: UTC timestamps for file names and manifests.
//! - [`kv`]: reading key ranges in pages (responses are capped at 4 MiB).
//! - [`kube`]: Kubernetes objects through etcd: list, get, delete with a backup, put it back.
//! - [`ids`]: member and cluster IDs as etcd prints them (16 hex digits).

pub mod client;
pub mod error;
pub mod files;
pub mod ids;
pub mod kube;
pub mod kv;
pub mod local;
pub mod member;
pub mod recover;
pub mod settings;
pub mod snapshot;
pub mod status;
pub mod utc;

pub use error::OpsError;
pub use settings::{ConnectionSettings, SettingsSource, TlsFiles};
