//! `lifeboat policy ...`: analyse NetworkPolicy, CiliumNetworkPolicy and
//! CiliumClusterwideNetworkPolicy before they are applied. The work is in the `policy` crate;
//! these files parse flags, call it and format.

pub mod check;
pub mod connectivity;
pub mod diff;
pub mod lint;
pub mod watch;

use clap::Subcommand;

use crate::context::Context;
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
