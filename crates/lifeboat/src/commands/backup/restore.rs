//! `lifeboat backup restore --store URL (--to-revision N | --to-time T | --latest) --out FILE`.

use std::path::PathBuf;

use clap::Args;

use super::StoreArg;
use crate::context::Context;
use crate::exit::Exit;
use crate::output::{self, Format, human_bytes};
use ::backup::restore::Target;

#[derive(Debug, Clone, Args)]
#[command(group(clap::ArgGroup::new("point").required(true).args(["to_revision", "to_time", "latest"])))]
pub struct RestoreArgs {
    #[command(flatten)]
    pub store: StoreArg,

    /// The revision to rebuild
    #[arg(long, value_name = "N")]
    pub to_revision: Option<i64>,

    /// The state as of this time, RFC 3339 UTC (2026-11-22T03:15:00Z)
    #[arg(long, value_name = "TIME")]
    pub to_time: Option<String>,

    /// The newest revision the store can rebuild
    #[arg(long)]
    pub latest: bool,

    /// The snapshot file to write (must not exist); `lifeboat snapshot restore` takes it
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,

    /// age identity file, when the full snapshots are encrypted
    #[arg(long, value_name = "FILE")]
    pub identity: Option<PathBuf>,
}

fn target(args: &RestoreArgs) -> anyhow::Result<Target> {
    Ok(match (&args.to_revision, &args.to_time) {
        (Some(n), _) => Target::Revision(*n),
        (None, Some(t)) => Target::Time(::backup::time::parse_rfc3339(t)?),
        (None, None) => Target::Latest,
    })
}

pub fn run(ctx: &Context, args: &RestoreArgs) -> anyhow::Result<Exit> {
    let target = target(args)?;
    let store = args.store.open()?;
    let ids = crate::source::identities(args.identity.as_deref())?;
    let report = super::super::runtime()?.block_on(::backup::restore::restore(
        &store,
        target,
        &args.out,
        ids.as_ref(),
    ))?;
    match ctx.format {
        Format::Json => output::print_json(&report),
        Format::Table => output::print(&format!(
            "{out}: revision {rev}, {size}, verified sound\n  from the full at revision {full} \
             (taken {taken}) and {segs} delta segments ({events} events)\n  next: lifeboat \
             snapshot restore {out} (see its --help)\n",
            out = report.out,
            rev = report.revision,
            size = human_bytes(report.size),
            full = report.full_revision,
            taken = report.full_taken_at,
            segs = report.segments,
            events = report.events,
        )),
    }
    Ok(Exit::Ok)
}
