//! `lifeboat policy check`.

use std::path::PathBuf;

use clap::Args;
use policy::ipnet::IpNet;

use super::print_findings;
use crate::context::Context;
use crate::exit::Exit;
use crate::output::{self, Format};
use crate::policy_input::InputArgs;

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Where administrators come from: adds API server 6443 and SSH 22 flows; repeatable
    #[arg(long, value_name = "CIDR")]
    pub admin_cidr: Vec<IpNet>,
    /// More flows to check: YAML list of {name, src, dst, protocol, port, critical, fqdn}; src and
    /// dst are `node/NAME`, `NS/POD`, `health/NODE` or an IP address (a node's IP means that
    /// node); `fqdn` is the DNS name an outside dst answers for (judges toFQDNs rules)
    #[arg(long, value_name = "FILE")]
    pub flows: Option<PathBuf>,
    /// Hubble flow export (`hubble observe -o json`, one flow a line): which forwarded flows
    /// the policies would drop and which policy drops they would allow, per workload pair
    /// and port. Streamed: files of several GB are fine
    #[arg(long, value_name = "FILE")]
    pub observed: Option<PathBuf>,
}

/// `-o json` with `--observed`: the check report's fields plus `observed`.
#[derive(serde::Serialize)]
struct WithObserved<'r> {
    #[serde(flatten)]
    check: &'r policy::check::CheckReport,
    observed: &'r policy::observed::ObservedReport,
}

pub fn run(ctx: &Context, args: &CheckArgs) -> anyhow::Result<Exit> {
    let loaded = args.input.load(ctx)?;
    let user_flows = match &args.flows {
        Some(path) => policy::check::flows_file::load_flows(path)?,
        None => Vec::new(),
    };
    let opts = policy::check::CheckOptions {
        admin_cidrs: args.admin_cidr.clone(),
        user_flows,
    };
    let observed = match &args.observed {
        Some(path) => Some(policy::observed::analyse_file(
            path,
            &loaded.inventory,
            &loaded.policies,
        )?),
        None => None,
    };
    let report = policy::check::check(&loaded.inventory, &loaded.policies, &opts, loaded.findings);
    match (ctx.format, &observed) {
        (Format::Json, Some(o)) => output::print_json(&WithObserved {
            check: &report,
            observed: o,
        }),
        (Format::Json, None) => output::print_json(&report),
        (Format::Table, _) => {
            print_table(&report);
            if let Some(o) = &observed {
                print_observed(o);
            }
        }
    }
    // Observed traffic the policies would cut is real traffic lost: at least a warning.
    let cuts = observed.as_ref().is_some_and(|o| !o.would_drop.is_empty());
    Ok(match report.outcome() {
        policy::findings::Outcome::Clean if cuts => Exit::Warning,
        outcome => Exit::from(outcome),
    })
}

fn print_table(report: &policy::check::CheckReport) {
    if report.assumed_inventory {
        output::print(
            "Inventory: none given, assuming the built-in reference cluster (3 control-plane nodes with etcd and the API server, 2 workers, CoreDNS, host firewall on).\n\n",
        );
    }
    let mut t = output::table(&["VERDICT", "CRITICAL", "FLOW", "FROM", "TO", "PORT"]);
    // Denied flows one per row; allowed flows summarised per kind (large clusters check
    // thousands); `-o json` has every flow.
    let mut allowed: Vec<(&str, usize, &str, &str, String)> = Vec::new();
    for f in &report.flows {
        if f.allowed() && !f.unresolved {
            match allowed.iter_mut().find(|a| a.0 == f.name) {
                Some(a) => a.1 += 1,
                None => allowed.push((
                    &f.name,
                    1,
                    &f.src,
                    &f.dst,
                    format!("{}/{}", f.protocol, f.port),
                )),
            }
            continue;
        }
        // A verdict that depends on peers known only at runtime is marked, not asserted.
        let mark = if f.unresolved { "?" } else { "" };
        t.add_row(vec![
            format!("{}{mark}", f.verdict.to_uppercase()),
            if f.critical {
                "yes".into()
            } else {
                "no".into()
            },
            f.name.clone(),
            f.src.clone(),
            f.dst.clone(),
            format!("{}/{}", f.protocol, f.port),
        ]);
    }
    for (name, n, src, dst, port) in allowed {
        let (src, dst) = if n == 1 {
            (src.to_owned(), dst.to_owned())
        } else {
            (format!("{n} flows"), String::new())
        };
        t.add_row(vec![
            "ALLOW".into(),
            "-".into(),
            name.to_owned(),
            src,
            dst,
            port,
        ]);
    }
    output::print(&format!("{t}\n"));
    let denied: Vec<_> = report.flows.iter().filter(|f| !f.allowed()).collect();
    let shown = report.flows.iter().filter(|f| !f.allowed() || f.unresolved);
    for f in shown {
        let mut s = format!(
            "\n{} {} -> {} {}/{}{}\n  why: {}\n",
            f.name,
            f.src,
            f.dst,
            f.protocol,
            f.port,
            if f.critical { " (CRITICAL)" } else { "" },
            f.explanation
        );
        if let Some(fix) = &f.fix {
            s.push_str("  fix:\n");
            for line in fix.lines() {
                s.push_str(&format!("    {line}\n"));
            }
        }
        output::print(&s);
    }
    let crit = denied.iter().filter(|f| f.critical).count();
    let unsure = report.flows.iter().filter(|f| f.unresolved).count();
    output::print(&format!(
        "\n{} flows checked: {} denied ({} critical){}.\n",
        report.flows.len(),
        denied.len(),
        crit,
        if unsure > 0 {
            format!("; {unsure} not certain (marked ?: they depend on peers known only at runtime)")
        } else {
            String::new()
        }
    ));
    print_findings(&report.findings);
}

/// `--observed` for people: the groups that change, then what was not evaluated and why.
fn print_observed(o: &policy::observed::ObservedReport) {
    output::print(&format!("\nObserved traffic ({}):\n", o.file));
    for (title, groups) in [
        ("Forwarded flows the policies would DROP", &o.would_drop),
        ("Policy drops the policies would ALLOW", &o.would_allow),
    ] {
        if groups.is_empty() {
            output::print(&format!("\n{title}: none.\n"));
            continue;
        }
        let mut t = output::table(&["FROM", "TO", "PORT", "FLOWS", "FIRST SEEN", "LAST SEEN"]);
        for g in groups {
            t.add_row(vec![
                workload(&g.src_namespace, &g.src_workload),
                workload(&g.dst_namespace, &g.dst_workload),
                format!("{}/{}", g.protocol, g.port),
                g.count.to_string(),
                g.first_seen.clone().unwrap_or_default(),
                g.last_seen.clone().unwrap_or_default(),
            ]);
        }
        output::print(&format!("\n{title}:\n{t}\n"));
        for g in groups {
            output::print(&format!(
                "  {} -> {} {}/{} (first at line {}): {}\n",
                workload(&g.src_namespace, &g.src_workload),
                workload(&g.dst_namespace, &g.dst_workload),
                g.protocol,
                g.port,
                g.first_line,
                g.explanation
            ));
        }
    }
    let mut s = format!(
        "\n{} lines: {} flows, {} evaluated; {} replies skipped (not new connections)",
        o.lines, o.flows, o.evaluated, o.replies_skipped
    );
    if o.other_events > 0 {
        s.push_str(&format!("; {} other events", o.other_events));
    }
    s.push_str(".\n");
    for (verdict, n) in &o.skipped_verdicts {
        s.push_str(&format!("  skipped, verdict {verdict}: {n}\n"));
    }
    for n in &o.not_evaluated {
        s.push_str(&format!(
            "  NOT EVALUATED {}: {} (first at line {}, e.g. {})\n",
            n.reason, n.count, n.first_line, n.example
        ));
    }
    if o.groups_capped > 0 {
        s.push_str(&format!(
            "  {} flows not grouped: too many distinct workload pairs (use -o json on a shorter export)\n",
            o.groups_capped
        ));
    }
    if o.malformed > 0 {
        s.push_str(&format!(
            "  {} malformed lines (not Hubble JSON), skipped; first: {}\n",
            o.malformed,
            o.malformed_lines
                .iter()
                .map(|m| format!("line {}: {}", m.line, m.error))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    output::print(&s);
}

fn workload(namespace: &str, name: &str) -> String {
    if namespace.is_empty() {
        name.to_owned()
    } else {
        format!("{namespace}/{name}")
    }
}
