//! `lifeboat member promote ID|NAME`

use std::time::Duration;

use clap::Args;
use ops::member::{Change, MemberRef, find_member, leader_endpoint, promote_when_ready};

use crate::context::Context;
use crate::exit::Exit;
use crate::output::{self, Format};

#[derive(Debug, Clone, Args)]
pub struct PromoteArgs {
    /// The learner, by hex ID or name
    pub member: String,

    /// How long to keep retrying while the learner catches up
    #[arg(long, default_value = "2m", value_parser = humantime::parse_duration)]
    pub wait: Duration,

    /// Override the quorum guard
    #[arg(long)]
    pub force: bool,
}

pub fn run(ctx: &Context, args: &PromoteArgs) -> anyhow::Result<Exit> {
    let (settings, tls) = super::connect_settings(ctx)?;
    let rt = crate::runtime::runtime()?;
    let (status, _) = rt.block_on(leader_endpoint(&settings, tls.as_ref()))?;
    let target = find_member(&status, &MemberRef(args.member.clone()))?;
    if !target.is_learner {
        anyhow::bail!("member {} is already a voter", target.id);
    }
    let change = Change::promote(&status, &target.id);
    super::guard(&change, args.force)?;
    let id = ops::ids::parse_hex_id(&target.id).unwrap_or(0);
    rt.block_on(promote_when_ready(&settings, tls.as_ref(), id, args.wait))?;
    match ctx.format {
        Format::Json => output::print_json(&change),
        Format::Table => output::print(&format!("{}Promoted.\n", super::describe(&change))),
    }
    Ok(Exit::Ok)
}
