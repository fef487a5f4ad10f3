//! `lifeboat member remove ID|NAME`: refused when it would break quorum; snapshot first.

use clap::Args;
use ops::member::{Change, MemberRef, find_member, leader_endpoint, remove};
use serde::Serialize;

use crate::context::Context;
use crate::exit::Exit;
use crate::output::{self, Format};

#[derive(Debug, Clone, Args)]
pub struct RemoveArgs {
    /// The member, by hex ID or name
    pub member: String,

    #[command(flatten)]
    pub safety: super::Safety,
}

#[derive(Serialize)]
struct Removed {
    change: Change,
    member_id: String,
    backup: Option<std::path::PathBuf>,
    dry_run: bool,
}

pub fn run(ctx: &Context, args: &RemoveArgs) -> anyhow::Result<Exit> {
    let (settings, tls) = super::connect_settings(ctx)?;
    let rt = crate::runtime::runtime()?;
    let (status, mut client) = rt.block_on(leader_endpoint(&settings, tls.as_ref()))?;
    let target = find_member(&status, &MemberRef(args.member.clone()))?.clone();
    let change = Change::remove(&status, &target.id);
    let mut result = Removed {
        change,
        member_id: target.id.clone(),
        backup: None,
        dry_run: args.safety.dry_run.on,
    };
    if !args.safety.dry_run.on {
        super::guard(&result.change, args.safety.force)?;
        let label = target.label();
        args.safety.yes.confirm(&format!("Remove member {label}"))?;
        result.backup = rt.block_on(super::backup(&settings, tls.as_ref(), &args.safety))?;
        let id = ops::ids::parse_hex_id(&target.id).unwrap_or(0);
        rt.block_on(remove(&mut client, id))?;
    }
    match ctx.format {
        Format::Json => output::print_json(&result),
        Format::Table => {
            let mut s = super::describe(&result.change);
            s.push_str(if result.dry_run {
                "Dry run: nothing was changed.\n"
            } else {
                "Removed.\n"
            });
            if !result.dry_run {
                s.push_str(
                    "Stop etcd on that node and move its data dir aside before it is reused.\n",
                );
            }
            output::print(&s);
        }
    }
    Ok(Exit::Ok)
}
