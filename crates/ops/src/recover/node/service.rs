//! The etcd service on this node, however it is run.

use std::path::PathBuf;

use crate::OpsError;

/// The etcd settings a recovery changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    ForceNewCluster,
    InitialCluster,
    InitialClusterState,
}

impl Setting {
    /// The env-file name (`ETCD_...`).
    pub fn env(self) -> &'static str {
        match self {
            Setting::ForceNewCluster => "ETCD_FORCE_NEW_CLUSTER",
            Setting::InitialCluster => "ETCD_INITIAL_CLUSTER",
            Setting::InitialClusterState => "ETCD_INITIAL_CLUSTER_STATE",
        }
    }

    /// The command-line flag (`--...`).
    pub fn flag(self) -> &'static str {
        match self {
            Setting::ForceNewCluster => "force-new-cluster",
            Setting::InitialCluster => "initial-cluster",
            Setting::InitialClusterState => "initial-cluster-state",
        }
    }
}

pub trait NodeService {
    /// Stops etcd and returns once it is down.
    fn stop(&mut self) -> Result<(), OpsError>;
    fn start(&mut self) -> Result<(), OpsError>;
    /// Sets (`Some`) or removes (`None`) a setting in the service's configuration. The file is
    /// saved aside before the first change.
    fn set(&mut self, setting: Setting, value: Option<&str>) -> Result<(), OpsError>;
    /// The data dir the service runs etcd on.
    fn data_dir(&self) -> Result<PathBuf, OpsError>;
    /// A setting's current value in the configuration (for checks and reports).
    fn get(&self, setting: Setting) -> Result<Option<String>, OpsError>;
    /// Any setting by its flag name (manifest) or env name (env file), e.g. `name`/`ETCD_NAME`.
    fn get_named(&self, flag: &str, env: &str) -> Result<Option<String>, OpsError>;
    fn describe(&self) -> String;
}
