//! `lifeboat policy ...`: analyse NetworkPolicy, CiliumNetworkPolicy and
//! CiliumClusterwideNetworkPolicy before they are applied. The work is in the `policy` crate;
//! these files parse flags, call it and format.

pub mod check;
pub mod connectivity;
pub mod diff;
pub mod from_etcd;
pub mod lint;
pub mod watch;

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::cli::Context;
use crate::exit::Exit;
use crate::output;

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Which control-plane flows (etcd, API server, kubelet, DNS, tunnel...) a policy set would
    /// cut, why, and the YAML that fixes it. Exit 2 when a critical flow is denied.
    Check(check::CheckArgs),
    /// Footguns: deny-only default deny, inert host policies, filtered labels, toFQDNs without
    /// DNS, empty peer lists, old kernels, kube-proxy beside its replacement... Exit 2/1/0
    Lint(lint::LintArgs),
    /// Flows whose verdict changes between two policy sets (or two inventories), critical first
    Diff(diff::DiffArgs),
    /// Every allowed connection for the policies (NetworkPolicy, CNP, CCNP) and workloads in a
    /// folder (np-guard format)
    Connectivity(connectivity::ConnectivityArgs),
    /// Follow the live cluster (etcd watch) and re-check the policies in force on every change
    /// to them or to the inventory: one line per verdict change, Prometheus gauges with
    /// --metrics-listen. Runs until SIGINT/SIGTERM
    Watch(watch::WatchArgs),
}

/// Where policies and the cluster they meet come from.
#[derive(Debug, Clone, Args)]
pub struct InputArgs {
    /// Policy file or folder (YAML/JSON, multi-document, `kind: List`); repeatable
    #[arg(
        short = 'f',
        long = "file",
        value_name = "POLICIES",
        required_unless_present_any = ["from_etcd", "from_snapshot"]
    )]
    pub files: Vec<PathBuf>,
    /// Read the cluster from etcd: inventory (nodes, namespaces, pods, workloads, services,
    /// webhooks, cilium-config) and the policies in force; -f files are checked on top of them,
    /// each replacing the policy in force with its kind, namespace and name
    #[arg(long, conflicts_with_all = ["cluster", "from_snapshot"])]
    pub from_etcd: bool,
    /// The same from an etcd snapshot file (works when the cluster is down)
    #[arg(long, value_name = "FILE", conflicts_with = "cluster")]
    pub from_snapshot: Option<PathBuf>,
    /// Cluster inventory: `kubectl get nodes,ns,pods,deploy,svc,... -o yaml` output (file or folder).
    /// Policies in it are the ones in force; a -f policy with the same kind, namespace and name
    /// replaces its version. Without it a built-in reference cluster is assumed and the output
    /// says so
    #[arg(long, value_name = "FILE|DIR")]
    pub cluster: Option<PathBuf>,
    /// The cilium-config ConfigMap (or a key: value file) when it is not in --cluster
    #[arg(long, value_name = "FILE")]
    pub cilium_config: Option<PathBuf>,
    /// Cilium version of the cluster (e.g. 1.16.3): gates version-dependent advice
    #[arg(long, value_name = "VERSION")]
    pub cilium_version: Option<String>,
}

impl InputArgs {
    /// Policies and inventory from files, or from etcd / a snapshot of it.
    pub fn load(&self, ctx: &Context) -> anyhow::Result<policy::input::Loaded> {
        if self.from_etcd || self.from_snapshot.is_some() {
            return from_etcd::load(ctx, self);
        }
        Ok(policy::input::load(&self.spec())?)
    }

    pub fn spec(&self) -> policy::input::InputSpec {
        policy::input::InputSpec {
            policies: self.files.clone(),
            cluster: self.cluster.clone(),
            cilium_config: self.cilium_config.clone(),
            cilium_version: self.cilium_version.clone(),
        }
    }
}

pub fn run(ctx: &Context, cmd: &PolicyCommand) -> anyhow::Result<Exit> {
    match cmd {
        PolicyCommand::Check(args) => check::run(ctx, args),
        PolicyCommand::Connectivity(args) => connectivity::run(ctx, args),
        PolicyCommand::Lint(args) => lint::run(ctx, args),
        PolicyCommand::Diff(args) => diff::run(ctx, args),
        PolicyCommand::Watch(args) => watch::run(ctx, args),
    }
}

/// Findings as a table for people.
pub fn print_findings(findings: &[policy::findings::Finding]) {
    if findings.is_empty() {
        return;
    }
    let mut t = output::table(&["SEVERITY", "FINDING", "WHERE", "MESSAGE"]);
    for f in findings {
        t.add_row(vec![
            format!("{:?}", f.severity).to_lowercase(),
            f.code.to_owned(),
            f.location.clone().unwrap_or_default(),
            if f.rules.is_empty() {
                f.message.clone()
            } else {
                format!("{} ({})", f.message, f.rules.join(", "))
            },
        ]);
    }
    output::print(&format!("{t}\n"));
}
