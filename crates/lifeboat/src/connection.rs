//! etcdctl-compatible connection flags. Explicit flags win, then `ETCDCTL_*` variables, then
//! discovery on this node (kubeadm manifest, `/etc/etcd.env`), then `http://127.0.0.1:2379`.
//! Endpoints and certificates always come from the same source, so what is shown is what is used.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use ops::settings::{DiscoveryRoot, discover};
use ops::{ConnectionSettings, SettingsSource, TlsFiles};

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Connection (etcdctl-compatible)")]
pub struct ConnectionArgs {
    /// Comma-separated etcd client URLs [env: ETCDCTL_ENDPOINTS]. Default: discovered on this
    /// node, else http://127.0.0.1:2379
    #[arg(long, global = true, value_delimiter = ',')]
    pub endpoints: Vec<String>,

    /// CA certificate that signed the etcd server certificates [env: ETCDCTL_CACERT]
    #[arg(long, global = true, value_name = "FILE")]
    pub cacert: Option<PathBuf>,

    /// Client certificate [env: ETCDCTL_CERT]
    #[arg(long, global = true, value_name = "FILE")]
    pub cert: Option<PathBuf>,

    /// Client key [env: ETCDCTL_KEY]
    #[arg(long, global = true, value_name = "FILE")]
    pub key: Option<PathBuf>,

    /// Time allowed to connect to one endpoint
    #[arg(long, global = true, default_value = "2s", value_parser = humantime::parse_duration)]
    pub dial_timeout: Duration,

    /// Time allowed for one request
    #[arg(long, global = true, default_value = "5s", value_parser = humantime::parse_duration)]
    pub command_timeout: Duration,

    /// Allow plain http to endpoints that are not on loopback
    #[arg(long, global = true)]
    pub insecure_transport: bool,

    /// Directory that stands for / when discovering the kubeadm manifest or etcd env file
    #[arg(long, global = true, value_name = "DIR", default_value = "/")]
    pub discover_root: PathBuf,
}

impl ConnectionArgs {
    pub fn resolve(&self) -> anyhow::Result<ConnectionSettings> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let (endpoints, tls, source) = if !self.endpoints.is_empty() {
            let tls = TlsFiles {
                cacert: self.cacert.clone(),
                cert: self.cert.clone(),
                key: self.key.clone(),
            };
            (
                ConnectionSettings::parse_endpoints(&self.endpoints)?,
                tls,
                SettingsSource::Flags,
            )
        } else if let Some(list) = env("ETCDCTL_ENDPOINTS") {
            // Certificates given as flags still win over the environment, as in etcdctl.
            let tls = TlsFiles {
                cacert: self
                    .cacert
                    .clone()
                    .or_else(|| env("ETCDCTL_CACERT").map(PathBuf::from)),
                cert: self
                    .cert
                    .clone()
                    .or_else(|| env("ETCDCTL_CERT").map(PathBuf::from)),
                key: self
                    .key
                    .clone()
                    .or_else(|| env("ETCDCTL_KEY").map(PathBuf::from)),
            };
            let eps =
                ConnectionSettings::parse_endpoints(&[list]).context("in ETCDCTL_ENDPOINTS")?;
            (eps, tls, SettingsSource::Environment)
        } else {
            let found = discover(&DiscoveryRoot(self.discover_root.clone()))?;
            let tls = TlsFiles {
                cacert: self.cacert.clone().or(found.tls.cacert),
                cert: self.cert.clone().or(found.tls.cert),
                key: self.key.clone().or(found.tls.key),
            };
            (found.endpoints, tls, found.source)
        };
        Ok(ConnectionSettings {
            endpoints,
            tls,
            dial_timeout: self.dial_timeout,
            command_timeout: self.command_timeout,
            insecure_transport: self.insecure_transport,
            source,
        })
    }
}
