//! `lifeboat backup list --store URL`.

use clap::Args;

use super::StoreArg;
use crate::context::Context;
use crate::exit::Exit;
use crate::output::{self, Format, human_bytes};

#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub store: StoreArg,
}

pub fn run(ctx: &Context, args: &ListArgs) -> anyhow::Result<Exit> {
    let store = args.store.open()?;
    let report = crate::runtime::runtime()?.block_on(::backup::check::list(&store))?;
    match ctx.format {
        Format::Json => output::print_json(&report),
        Format::Table => {
            let mut t = output::table(&["KIND", "REVISIONS", "TIME (UTC)", "SIZE", "OBJECT"]);
            for f in &report.fulls {
                let kind = if f.encrypted { "full (age)" } else { "full" };
                t.add_row([
                    kind.to_string(),
                    f.revision.to_string(),
                    format!("taken {}", f.taken_at),
                    human_bytes(f.size),
                    f.object.clone(),
                ]);
            }
            for r in &report.runs {
                t.add_row([
                    format!("delta ({} segments)", r.segments),
                    format!("{}..={}", r.first_revision, r.last_revision),
                    format!("uploaded {} .. {}", r.first_uploaded_at, r.last_uploaded_at),
                    String::new(),
                    String::new(),
                ]);
            }
            let mut text = format!("{t}\n");
            for o in &report.unfinished_fulls {
                text.push_str(&format!(
                    "unfinished upload (no manifest, never used): {o}\n"
                ));
            }
            for p in &report.problems {
                text.push_str(&format!("PROBLEM: {p}\n"));
            }
            for r in &report.unrestorable {
                text.push_str(&format!(
                    "revisions {}..={} cannot be restored (gap bridged by a later full)\n",
                    r.from, r.to
                ));
            }
            match (&report.latest_restorable, &report.latest_problem) {
                (Some(r), _) => text.push_str(&format!("newest restorable revision: {r}\n")),
                (None, Some(p)) => text.push_str(&format!("--latest cannot be restored: {p}\n")),
                (None, None) => {}
            }
            output::print(&text);
        }
    }
    Ok(
        if report.problems.is_empty() && report.latest_problem.is_none() {
            Exit::Ok
        } else {
            Exit::Warning
        },
    )
}
