//! `lifeboat policy lint`.

use clap::Args;
use serde::Serialize;

use super::print_findings;
use crate::context::Context;
use crate::exit::Exit;
use crate::output::{self, Format};
use crate::policy_input::InputArgs;

#[derive(Debug, Args)]
pub struct LintArgs {
    #[command(flatten)]
    pub input: InputArgs,
}

#[derive(Serialize)]
struct LintReport {
    assumed_inventory: bool,
    findings: Vec<policy::findings::Finding>,
}

pub fn run(ctx: &Context, args: &LintArgs) -> anyhow::Result<Exit> {
    let loaded = args.input.load(ctx)?;
    let mut findings = loaded.findings;
    findings.extend(policy::lint::lint(&loaded.policies, &loaded.inventory));
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let outcome = policy::lint::outcome(&findings);
    let report = LintReport {
        assumed_inventory: loaded.inventory.assumed,
        findings,
    };
    match ctx.format {
        Format::Json => output::print_json(&report),
        Format::Table => {
            if report.findings.is_empty() {
                output::print("No findings.\n");
            }
            print_findings(&report.findings);
        }
    }
    Ok(Exit::from(outcome))
}
