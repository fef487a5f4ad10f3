//! `lifeboat snapshot verify FILE`: exit 0 when the backup is sound, 1 when it is not, and
//! name what failed.

use std::path::PathBuf;

use clap::Args;

use crate::context::Context;
use crate::exit::Exit;
use crate::output::{self, Format};

#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// Snapshot file (`etcdctl snapshot save` output) or a raw member/snap/db copy
    pub file: PathBuf,

    /// age identity file for an encrypted snapshot (FILE.age from `save --encrypt-to`)
    #[arg(long, value_name = "FILE")]
    pub identity: Option<PathBuf>,
}

pub fn run(ctx: &Context, args: &VerifyArgs) -> anyhow::Result<Exit> {
    super::require_file(&args.file)?;
    let ids = super::identities(args.identity.as_deref())?;
    let report = store::report::verify_with(&args.file, ids.as_ref())?;
    match ctx.format {
        Format::Json => output::print_json(&report),
        Format::Table => {
            let mut t = output::table(&["CHECK", "RESULT", "DETAIL"]);
            for c in &report.checks {
                t.add_row([
                    c.name.as_str(),
                    if c.ok { "ok" } else { "FAILED" },
                    c.detail.as_str(),
                ]);
            }
            for w in &report.warnings {
                t.add_row([w.kind.as_str(), "warning", w.detail.as_str()]);
            }
            let verdict = match (report.sound, report.warnings.len()) {
                (false, _) => "UNSOUND".to_string(),
                (true, 0) => "SOUND".to_string(),
                (true, n) => format!("SOUND, with {n} warning(s): the data is whole and readable"),
            };
            output::print(&format!("{t}\n{}: {verdict}\n", report.file));
        }
    }
    Ok(if report.sound {
        Exit::Ok
    } else {
        Exit::Warning
    })
}
