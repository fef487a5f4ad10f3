//! `lifeboat member replace OLD --name NEW --peer-urls URL`: the safe order of a node
//! replacement. Remove first (so a dead old member never counts against the new quorum), then
//! add the new one as a learner, wait until it catches up, promote.
//!
//! Each step is decided from what the cluster shows now, so running the same command again after
//! an interruption resumes where it stopped: an old member already gone is not removed twice, a
//! new member already added is not added twice.

use std::time::Duration;

use clap::Args;
use ops::member::{
    Change, MemberRef, add, find_member, join_instructions, leader_endpoint, promote_when_ready,
    remove,
};
use serde::Serialize;

use crate::context::Context;
use crate::exit::Exit;
use crate::output::{self, Format};

#[derive(Debug, Clone, Args)]
pub struct ReplaceArgs {
    /// The member being replaced, by hex ID or name
    pub old: String,

    /// Name of the new member
    #[arg(long)]
    pub name: String,

    /// Peer URL(s) of the new member
    #[arg(long, value_delimiter = ',', required = true)]
    pub peer_urls: Vec<String>,

    /// After adding, wait until the new member runs and has caught up, then promote it
    #[arg(long)]
    pub wait: bool,

    /// How long --wait waits
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    pub wait_timeout: Duration,

    #[command(flatten)]
    pub safety: super::Safety,
}

#[derive(Serialize, Default)]
struct Replaced {
    steps: Vec<String>,
    changes: Vec<Change>,
    removed: Option<String>,
    added: Option<String>,
    join: Option<ops::member::JoinInstructions>,
    promoted: bool,
    backup: Option<std::path::PathBuf>,
    dry_run: bool,
}

pub fn run(ctx: &Context, args: &ReplaceArgs) -> anyhow::Result<Exit> {
    super::check_peer_urls(&args.peer_urls)?;
    let (settings, tls) = super::connect_settings(ctx)?;
    let rt = crate::runtime::runtime()?;
    let mut out = Replaced {
        dry_run: args.safety.dry_run.on,
        ..Replaced::default()
    };

    let (status, mut client) = rt.block_on(leader_endpoint(&settings, tls.as_ref()))?;
    let existing_new = status
        .members
        .iter()
        .find(|m| m.peer_urls.iter().any(|u| args.peer_urls.contains(u)))
        .cloned();
    let old = find_member(&status, &MemberRef(args.old.clone()))
        .ok()
        .cloned();

    match &old {
        Some(o) if existing_new.as_ref().is_some_and(|n| n.id == o.id) => {
            anyhow::bail!(
                "the new peer URL belongs to the member being replaced ({}); use a new URL or remove it first",
                o.id
            )
        }
        Some(o) => {
            let change = Change::remove(&status, &o.id);
            out.steps
                .push(format!("remove old member {} ({})", o.name, o.id));
            if !args.safety.dry_run.on {
                super::guard(&change, args.safety.force)?;
                args.safety.yes.confirm(&format!(
                    "Replace member {} ({}) with {}",
                    o.name, o.id, args.name
                ))?;
                out.backup = rt.block_on(super::backup(&settings, tls.as_ref(), &args.safety))?;
                let id = ops::ids::parse_hex_id(&o.id).unwrap_or(0);
                rt.block_on(remove(&mut client, id))?;
                out.removed = Some(o.id.clone());
            }
            out.changes.push(change);
        }
        None => out
            .steps
            .push(format!("old member '{}' is already gone", args.old)),
    }

    let new_id = match &existing_new {
        Some(n) => {
            out.steps
                .push(format!("new member {} is already added", n.id));
            ops::ids::parse_hex_id(&n.id)
        }
        None => {
            out.steps.push(format!("add {} as a learner", args.name));
            if args.safety.dry_run.on {
                None
            } else {
                // Re-observe: the removal changed the membership and maybe the leader.
                let (status, mut client) = rt.block_on(leader_endpoint(&settings, tls.as_ref()))?;
                out.changes.push(Change::add(&status, true));
                let (id, members) = rt.block_on(add(&mut client, &args.peer_urls, true))?;
                let hex = ops::ids::hex_id(id);
                out.join = Some(join_instructions(&members, &args.name, &args.peer_urls));
                out.added = Some(hex);
                Some(id)
            }
        }
    };

    if let Some(j) = &out.join
        && ctx.format == Format::Table
    {
        output::note(&format!(
            "Start {} on an EMPTY data dir with:\n  {}\nor, in an env file:\n  {}",
            args.name,
            j.flags.join(" \\\n    "),
            j.env.join("\n  ")
        ));
    }

    match (args.wait, new_id, args.safety.dry_run.on) {
        (true, Some(id), false) => {
            out.steps
                .push("wait for the learner to catch up, then promote".into());
            if ctx.format == Format::Table {
                output::note("Waiting for the new member to start and catch up...");
            }
            rt.block_on(promote_when_ready(
                &settings,
                tls.as_ref(),
                id,
                args.wait_timeout,
            ))?;
            out.promoted = true;
        }
        (_, Some(id), false) => out.steps.push(format!(
            "start the new member, then: lifeboat member promote {}",
            ops::ids::hex_id(id)
        )),
        _ => out
            .steps
            .push("then wait for the learner and promote it".into()),
    }

    match ctx.format {
        Format::Json => output::print_json(&out),
        Format::Table => {
            let mut s = String::new();
            for c in &out.changes {
                s.push_str(&super::describe(c));
            }
            for (i, step) in out.steps.iter().enumerate() {
                s.push_str(&format!("{}. {step}\n", i + 1));
            }
            if out.dry_run {
                s.push_str("Dry run: nothing was changed.\n");
            } else if out.promoted {
                s.push_str("Replaced: the new member is a voter.\n");
            }
            output::print(&s);
        }
    }
    Ok(Exit::Ok)
}
