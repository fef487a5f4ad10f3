//! `lifeboat-cluster.json`: what a local cluster is made of, written into its root dir, so that
//! another process (`lifeboat recover run --local-root DIR`, a later drill, an operator) can stop
//! and start its members with the right flags without having created them.
//!
//! Which process runs a member is not in here: that is the member's pid file (see `pidfile`),
//! because it changes on every start while this file changes only when the membership does.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::pki::Pki;
use crate::OpsError;
use crate::files::write_atomic;

pub const FILE_NAME: &str = "lifeboat-cluster.json";

/// Bumped when a field changes meaning, so an old lifeboat refuses a newer file.
const VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterDescription {
    pub version: u32,
    pub etcd_bin: PathBuf,
    pub token: String,
    pub quota_bytes: Option<u64>,
    pub extra_args: Vec<String>,
    /// The generated PKI; `None` for a plain-http cluster.
    pub pki: Option<Pki>,
    pub members: Vec<MemberDescription>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemberDescription {
    pub name: String,
    pub client_port: u16,
    pub peer_port: u16,
    pub data_dir: PathBuf,
    pub log: PathBuf,
    pub initial_cluster: String,
    /// `new` or `existing`.
    pub initial_state: String,
    /// Added to the membership (or reserved) but never started.
    pub never_started: bool,
    /// The address it listens on (127.0.0.1 unless placed in a network namespace).
    #[serde(default = "loopback")]
    pub host: String,
    /// The network namespace it runs in, if any.
    #[serde(default)]
    pub netns: Option<String>,
    /// Its own etcd binary when it differs from the cluster's (a rolling upgrade in progress).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etcd_bin: Option<PathBuf>,
}

fn loopback() -> String {
    "127.0.0.1".into()
}

impl ClusterDescription {
    pub fn new_version() -> u32 {
        VERSION
    }

    pub fn path(root: &Path) -> PathBuf {
        root.join(FILE_NAME)
    }

    /// Written atomically (temp, fsync, rename): a reader never sees half a description.
    pub fn write(&self, root: &Path) -> Result<(), OpsError> {
        let bytes = serde_json::to_vec_pretty(self)
            .map_err(|e| OpsError::Local(format!("encoding the cluster description: {e}")))?;
        write_atomic(&Self::path(root), &bytes, 0o644)
    }

    pub fn read(root: &Path) -> Result<ClusterDescription, OpsError> {
        let path = Self::path(root);
        let bytes = std::fs::read(&path).map_err(|source| OpsError::LocalIo {
            path: path.clone(),
            source,
        })?;
        let d: ClusterDescription = serde_json::from_slice(&bytes).map_err(|e| {
            OpsError::Config(format!(
                "{} is not a lifeboat cluster description ({e}); it is written by `lifeboat \
                 drill --keep` and by the test kit into the cluster's root dir",
                path.display()
            ))
        })?;
        if d.version != VERSION {
            return Err(OpsError::Config(format!(
                "{} has format version {}, this lifeboat reads version {VERSION}",
                path.display(),
                d.version
            )));
        }
        if d.members.is_empty() {
            return Err(OpsError::Config(format!(
                "{} lists no members",
                path.display()
            )));
        }
        Ok(d)
    }
}
