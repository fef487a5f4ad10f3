//! `lifeboat policy diff`.

use std::path::PathBuf;

use clap::Args;

use crate::context::Context;
use crate::exit::Exit;
use crate::output::{self, Format};

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// Policies before the change (file or folder); repeatable
    #[arg(long, value_name = "POLICIES")]
    pub before: Vec<PathBuf>,
    /// Policies after the change (file or folder); repeatable
    #[arg(long, value_name = "POLICIES")]
    pub after: Vec<PathBuf>,
    /// Policies on both sides, when only the cluster changes; repeatable
    #[arg(short = 'f', long = "file", value_name = "POLICIES")]
    pub files: Vec<PathBuf>,
    /// Inventory for both sides (default: the built-in reference cluster)
    #[arg(long, value_name = "FILE|DIR")]
    pub cluster: Option<PathBuf>,
    /// Inventory before the change (e.g. before a relabel)
    #[arg(long, value_name = "FILE|DIR")]
    pub before_cluster: Option<PathBuf>,
    /// Inventory after the change
    #[arg(long, value_name = "FILE|DIR")]
    pub after_cluster: Option<PathBuf>,
    /// The cilium-config ConfigMap (or a key: value file)
    #[arg(long, value_name = "FILE")]
    pub cilium_config: Option<PathBuf>,
    /// Cilium version of the cluster (e.g. 1.16.3)
    #[arg(long, value_name = "VERSION")]
    pub cilium_version: Option<String>,
    /// Where administrators come from (adds 6443 and 22 flows); repeatable
    #[arg(long, value_name = "CIDR")]
    pub admin_cidr: Vec<policy::ipnet::IpNet>,
}

pub fn run(ctx: &Context, args: &DiffArgs) -> anyhow::Result<Exit> {
    let before_files = if args.before.is_empty() {
        &args.files
    } else {
        &args.before
    };
    let after_files = if args.after.is_empty() {
        &args.files
    } else {
        &args.after
    };
    if before_files.is_empty() && after_files.is_empty() {
        anyhow::bail!(
            "nothing to compare: give --before and --after, or -f with --before-cluster/--after-cluster"
        );
    }
    // Each side: its policies applied to its cluster, whose own policies are in force (A1).
    let side = |files: &[PathBuf], cluster: &Option<PathBuf>| {
        policy::input::on_cluster(
            policy::input::load_policies(files)?,
            cluster.as_deref().or(args.cluster.as_deref()),
            args.cilium_config.as_deref(),
            args.cilium_version.as_deref(),
        )
    };
    let before = side(before_files, &args.before_cluster)?;
    let after = side(after_files, &args.after_cluster)?;
    let mut findings = before.findings;
    findings.extend(after.findings);
    let (before_inv, before_set) = (before.inventory, before.policies);
    let (after_inv, after_set) = (after.inventory, after.policies);
    let opts = policy::check::CheckOptions {
        admin_cidrs: args.admin_cidr.clone(),
        user_flows: Vec::new(),
    };
    let mut report =
        policy::diff::diff((&before_inv, &before_set), (&after_inv, &after_set), &opts);
    report.findings.extend(findings);
    match ctx.format {
        Format::Json => output::print_json(&report),
        Format::Table => print_table(&report),
    }
    Ok(Exit::from(report.outcome()))
}

fn print_table(report: &policy::diff::DiffReport) {
    if report.assumed_inventory {
        output::print("Inventory: none given, assuming the built-in reference cluster.\n\n");
    }
    if report.changes.is_empty() {
        output::print(&format!(
            "No verdict changes across {} flows.\n",
            report.flows_compared
        ));
    } else {
        let mut t = output::table(&["BEFORE", "AFTER", "CRITICAL", "FLOW", "FROM", "TO", "PORT"]);
        for c in &report.changes {
            t.add_row(vec![
                c.before.to_uppercase(),
                c.after.to_uppercase(),
                if c.critical {
                    "yes".into()
                } else {
                    "no".into()
                },
                c.name.clone(),
                c.src.clone(),
                c.dst.clone(),
                format!("{}/{}", c.protocol, c.port),
            ]);
        }
        output::print(&format!("{t}\n"));
        for c in report.changes.iter().filter(|c| c.after == "deny") {
            let mut s = format!(
                "\n{} {} -> {} {}/{}\n  now: {}\n",
                c.name, c.src, c.dst, c.protocol, c.port, c.explanation_after
            );
            if let Some(fix) = &c.fix {
                s.push_str("  fix:\n");
                for line in fix.lines() {
                    s.push_str(&format!("    {line}\n"));
                }
            }
            output::print(&s);
        }
        output::print(&format!(
            "\n{} of {} flows change verdict.\n",
            report.changes.len(),
            report.flows_compared
        ));
    }
    super::print_findings(&report.findings);
}
