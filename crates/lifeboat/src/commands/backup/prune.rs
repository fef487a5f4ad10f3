//! `lifeboat backup prune --store URL [--dry-run] [--yes] --keep-last N | --hourly N --daily N
//! --weekly N`: retention applied once (docs/backup.md §9).

use std::path::PathBuf;

use ::backup::retention::prune::{self, Options, Outcome, Row};
use clap::Args;

use crate::confirm::{DryRunArg, YesArg};
use crate::context::Context;
use crate::exit::Exit;
use crate::flags::{RetentionArgs, StoreArg};
use crate::output::{self, Format};

#[derive(Debug, Clone, Args)]
#[command(mut_arg("dry_run", |a| a.help("Show what would be deleted and why each object is kept; delete nothing")))]
pub struct PruneArgs {
    #[command(flatten)]
    pub store: StoreArg,

    #[command(flatten)]
    pub retention: RetentionArgs,

    #[command(flatten)]
    pub dry_run: DryRunArg,

    #[command(flatten)]
    pub yes: YesArg,

    /// age identity file, to check the contents of an encrypted newest full (else its checksum)
    #[arg(long, value_name = "FILE")]
    pub identity: Option<PathBuf>,

    /// Where the newest full is downloaded to be verified (removed after)
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub work_dir: PathBuf,
}

fn revisions(r: &Row) -> String {
    if r.first_revision == r.last_revision {
        r.first_revision.to_string()
    } else {
        format!("{}..={}", r.first_revision, r.last_revision)
    }
}

fn kind(r: &Row) -> &'static str {
    match r.kind {
        prune::Kind::Full => "full",
        prune::Kind::Manifest => "manifest",
        prune::Kind::Delta => "delta",
        prune::Kind::Unfinished => "unfinished full",
    }
}

fn table(out: &Outcome) -> String {
    let p = &out.plan;
    let mut t = output::table(&["ACTION", "KIND", "REVISIONS", "OBJECT", "WHY"]);
    let action = if out.dry_run {
        "would delete"
    } else {
        "delete"
    };
    for (verb, rows) in [("keep", &p.keep), (action, &p.delete)] {
        for r in rows {
            t.add_row([
                verb.to_string(),
                kind(r).to_string(),
                revisions(r),
                r.object.clone(),
                r.why.clone(),
            ]);
        }
    }
    let mut text = format!("{t}\n");
    for u in &p.foreign {
        text.push_str(&format!("NOT OURS, kept: {}: {}\n", u.object, u.problem));
    }
    for u in &p.corrupt {
        text.push_str(&format!("CORRUPT, kept: {}: {}\n", u.object, u.problem));
    }
    if let Some(b) = &p.blocked {
        text.push_str(&format!("NOTHING DELETED: {b}\n"));
    }
    if let Some(w) = &p.window {
        text.push_str(&format!(
            "restorable afterwards: every revision {}..={}\n",
            w.from_revision, w.to_revision
        ));
    }
    if !out.dry_run && p.blocked.is_none() {
        text.push_str(&format!(
            "{} of {} objects deleted\n",
            out.deleted.len(),
            p.delete.len()
        ));
    }
    if let Some(f) = &out.failed {
        text.push_str(&format!("FAILED: {}: {}\n", f.object, f.problem));
    }
    text
}

pub fn run(ctx: &Context, args: &PruneArgs) -> anyhow::Result<Exit> {
    let policy = args.retention.policy();
    if policy.is_off() {
        return Err(crate::exit::usage(
            "no retention policy: give --keep-last N and/or --hourly N, --daily N, --weekly N",
        ));
    }
    let store = args.store.open()?;
    let ids = crate::source::identities(args.identity.as_deref())?;
    let opts = Options {
        policy,
        verified: None,
        work_dir: &args.work_dir,
        identities: ids.as_ref(),
    };
    let rt = crate::runtime::runtime()?;
    let plan = rt.block_on(prune::plan(&store, &opts))?;
    let go = !args.dry_run.on && plan.blocked.is_none() && !plan.delete.is_empty();
    if go {
        args.yes.confirm(&format!(
            "Delete {} objects from {} (keeping {})",
            plan.delete.len(),
            store.url,
            plan.keep.len()
        ))?;
    }
    let out = rt.block_on(prune::execute(&store, plan, args.dry_run.on));
    match ctx.format {
        Format::Json => output::print_json(&out),
        Format::Table => output::print(&table(&out)),
    }
    let p = &out.plan;
    Ok(if p.blocked.is_some() || out.failed.is_some() {
        Exit::Unknown
    } else if !p.corrupt.is_empty() || !p.foreign.is_empty() {
        Exit::Warning
    } else {
        Exit::Ok
    })
}
