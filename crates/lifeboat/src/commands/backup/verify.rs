//! `lifeboat backup verify --store URL`: every full and segment downloaded and checked.

use std::path::PathBuf;

use clap::Args;

use super::StoreArg;
use crate::context::Context;
use crate::exit::Exit;
use crate::output::{self, Format};

#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub store: StoreArg,

    /// age identity file, to check the contents of encrypted fulls (else only their checksum)
    #[arg(long, value_name = "FILE")]
    pub identity: Option<PathBuf>,

    /// Where fulls are downloaded one at a time to be checked (removed after)
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub work_dir: PathBuf,
}

pub fn run(ctx: &Context, args: &VerifyArgs) -> anyhow::Result<Exit> {
    let store = args.store.open()?;
    let ids = crate::source::identities(args.identity.as_deref())?;
    let report = crate::runtime::runtime()?.block_on(::backup::check::verify(
        &store,
        &args.work_dir,
        ids.as_ref(),
    ))?;
    match ctx.format {
        Format::Json => output::print_json(&report),
        Format::Table => {
            let mut t = output::table(&["FULL", "REVISION", "RESULT", "DETAIL"]);
            for f in &report.fulls {
                let result = match (f.ok, f.contents_checked) {
                    (true, true) => "ok",
                    (true, false) => "checksum only",
                    (false, _) => "FAILED",
                };
                t.add_row([
                    f.object.clone(),
                    f.revision.to_string(),
                    result.to_string(),
                    f.detail.clone(),
                ]);
            }
            let mut text = format!(
                "{t}\n{} delta segments checked ({} events)\n",
                report.segments_checked, report.events_checked
            );
            for p in &report.problems {
                text.push_str(&format!("PROBLEM: {p}\n"));
            }
            for r in &report.unrestorable {
                text.push_str(&format!(
                    "revisions {}..={} cannot be restored (gap bridged by a later full)\n",
                    r.from, r.to
                ));
            }
            let verdict = if report.sound { "SOUND" } else { "UNSOUND" };
            text.push_str(&format!("{}: {verdict}\n", report.store));
            output::print(&text);
        }
    }
    Ok(if report.sound {
        Exit::Ok
    } else {
        Exit::Warning
    })
}
