//! Connection settings: which endpoints, which certificates, which timeouts, and where they came
//! from. Resolution order mirrors an operator's habits: explicit flags, then `ETCDCTL_*`
//! variables, then what the node itself says (kubeadm manifest, etcd env file), then loopback.

mod discover;
mod endpoint;
mod tls_files;

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::OpsError;

pub use discover::{Discovered, DiscoveryRoot, discover, from_env_file, from_kubeadm};
pub use endpoint::Endpoint;
pub use tls_files::{TlsFiles, ValidatedTls};

/// Where the endpoints and certificates were taken from; shown to the user so a surprising
/// choice is visible.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SettingsSource {
    Flags,
    Environment,
    KubeadmManifest { path: PathBuf },
    EnvFile { path: PathBuf },
    Default,
}

impl std::fmt::Display for SettingsSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SettingsSource::Flags => write!(f, "command-line flags"),
            SettingsSource::Environment => write!(f, "ETCDCTL_* environment variables"),
            SettingsSource::KubeadmManifest { path } => {
                write!(f, "kubeadm manifest {}", path.display())
            }
            SettingsSource::EnvFile { path } => write!(f, "etcd env file {}", path.display()),
            SettingsSource::Default => write!(f, "default (nothing configured or discovered)"),
        }
    }
}

/// Everything needed to dial etcd members.
#[derive(Debug, Clone)]
pub struct ConnectionSettings {
    pub endpoints: Vec<Endpoint>,
    pub tls: TlsFiles,
    pub dial_timeout: Duration,
    pub command_timeout: Duration,
    pub insecure_transport: bool,
    pub source: SettingsSource,
}

impl ConnectionSettings {
    pub const DEFAULT_DIAL_TIMEOUT: Duration = Duration::from_secs(2);
    pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(5);

    /// Parses comma-separated endpoint URLs as etcdctl's `--endpoints` takes them.
    pub fn parse_endpoints(list: &[String]) -> Result<Vec<Endpoint>, OpsError> {
        let mut out: Vec<Endpoint> = Vec::new();
        for raw in list.iter().flat_map(|s| s.split(',')) {
            let raw = raw.trim();
            if raw.is_empty() {
                continue;
            }
            let ep = Endpoint::parse(raw)?;
            if !out.contains(&ep) {
                out.push(ep);
            }
        }
        if out.is_empty() {
            return Err(OpsError::Config(
                "no endpoint given: pass --endpoints URL[,URL...]".into(),
            ));
        }
        Ok(out)
    }

    /// Checks what can be checked without dialling: plain-http policy, readable certificates,
    /// and a key that belongs to its certificate. Returns the loaded TLS material.
    pub fn validate(&self) -> Result<Option<ValidatedTls>, OpsError> {
        for ep in &self.endpoints {
            if !ep.is_tls() && !ep.is_loopback() && !self.insecure_transport {
                return Err(OpsError::Config(format!(
                    "refusing plain http to non-loopback endpoint {ep}: etcd traffic would cross the \
                     network unencrypted. Use https with --cacert, or pass --insecure-transport"
                )));
            }
        }
        let any_tls = self.endpoints.iter().any(Endpoint::is_tls);
        if !any_tls {
            return Ok(None);
        }
        self.tls.load().map(Some)
    }
}
