//! What `seed` and `rejoin` share: which service runs etcd on this node, and how to reach it.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use ops::ConnectionSettings;
use ops::recover::node::{NodeService, StaticPodService, SystemdService};
use ops::settings::{DiscoveryRoot, from_env_file, from_kubeadm};

use crate::confirm::{DryRunArg, YesArg};
use crate::context::Context;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExecutorKind {
    /// etcd as a systemd unit configured by an env file
    Systemd,
    /// etcd as a kubeadm static pod
    StaticPod,
}

#[derive(Debug, Clone, Args)]
#[command(mut_arg("dry_run", |a| a.help("Show the steps, change nothing")))]
pub struct NodeArgs {
    /// How etcd runs on this node
    #[arg(long, value_enum)]
    pub executor: ExecutorKind,

    /// systemd: the env file of the etcd unit
    #[arg(long, default_value = "/etc/etcd.env")]
    pub env_file: PathBuf,

    /// systemd: the unit name
    #[arg(long, default_value = "etcd")]
    pub unit: String,

    /// static-pod: the etcd manifest
    #[arg(long, default_value = "/etc/kubernetes/manifests/etcd.yaml")]
    pub manifest: PathBuf,

    /// Journal of this node's recovery steps; rerun with the same dir to resume
    #[arg(long, default_value = "/var/lib/lifeboat/recover")]
    pub state_dir: PathBuf,

    #[command(flatten)]
    pub dry_run: DryRunArg,

    #[command(flatten)]
    pub yes: YesArg,
}

impl NodeArgs {
    pub fn service(&self) -> Box<dyn NodeService> {
        match self.executor {
            ExecutorKind::Systemd => Box::new(SystemdService::new(
                self.env_file.clone(),
                self.unit.clone(),
            )),
            ExecutorKind::StaticPod => Box::new(StaticPodService::new(self.manifest.clone())),
        }
    }

    /// This node's etcd, as its own configuration describes it (explicit flags win).
    pub fn local_settings(&self, ctx: &Context) -> anyhow::Result<ConnectionSettings> {
        if !ctx.connection.endpoints.is_empty() {
            return ctx.connection.resolve();
        }
        let root = DiscoveryRoot(ctx.connection.discover_root.clone());
        let found = match self.executor {
            ExecutorKind::Systemd => from_env_file(&root, &self.env_file)?,
            ExecutorKind::StaticPod => {
                let parked = StaticPodService::new(self.manifest.clone()).parked;
                let path = if self.manifest.is_file() {
                    self.manifest.clone()
                } else {
                    parked
                };
                from_kubeadm(&root, &path)?
            }
        };
        let c = &ctx.connection;
        Ok(ConnectionSettings {
            endpoints: found.endpoints,
            tls: ops::TlsFiles {
                cacert: c.cacert.clone().or(found.tls.cacert),
                cert: c.cert.clone().or(found.tls.cert),
                key: c.key.clone().or(found.tls.key),
            },
            dial_timeout: c.dial_timeout,
            command_timeout: c.command_timeout,
            insecure_transport: c.insecure_transport,
            source: found.source,
        })
    }
}

impl NodeArgs {
    /// Asks on a terminal; elsewhere requires --yes.
    pub fn confirm(&self, what: &str) -> anyhow::Result<()> {
        self.yes.confirm(what)
    }
}

/// Prints each finished step to stderr for people (silent with `-o json`).
pub fn step_printer(
    ctx: &Context,
    verb: &'static str,
) -> impl FnMut(&ops::recover::node::NodeStep) {
    let loud = ctx.format == crate::output::Format::Table;
    move |s| {
        if loud {
            let how = if s.ran {
                format!("{:.1}s", s.seconds)
            } else {
                "done before".into()
            };
            crate::output::note(&format!("{verb}: {} ({how})", s.name));
        }
    }
}
