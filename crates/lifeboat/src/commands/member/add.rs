//! `lifeboat member add NAME --peer-urls URL`: a learner by default, so the quorum does not grow
//! until the new member has caught up.

use clap::Args;
use ops::member::{Change, add, join_instructions, leader_endpoint};
use serde::Serialize;

use crate::confirm::DryRunArg;
use crate::context::Context;
use crate::exit::Exit;
use crate::output::{self, Format};

#[derive(Debug, Clone, Args)]
pub struct AddArgs {
    /// Name the new member will start with (its --name)
    pub name: String,

    /// Peer URL(s) of the new member, comma-separated
    #[arg(long, value_delimiter = ',', required = true)]
    pub peer_urls: Vec<String>,

    /// Add as a voter at once instead of a learner (grows the quorum before the member runs)
    #[arg(long)]
    pub voter: bool,

    #[command(flatten)]
    pub dry_run: DryRunArg,

    /// Override the quorum guard
    #[arg(long)]
    pub force: bool,
}

#[derive(Serialize)]
struct Added {
    change: Change,
    member_id: Option<String>,
    join: Option<ops::member::JoinInstructions>,
    dry_run: bool,
}

pub fn run(ctx: &Context, args: &AddArgs) -> anyhow::Result<Exit> {
    super::check_peer_urls(&args.peer_urls)?;
    let (settings, tls) = super::connect_settings(ctx)?;
    let rt = crate::runtime::runtime()?;
    let (status, mut client) = rt.block_on(leader_endpoint(&settings, tls.as_ref()))?;
    if let Some(m) = status
        .members
        .iter()
        .find(|m| m.peer_urls.iter().any(|u| args.peer_urls.contains(u)))
    {
        anyhow::bail!("member {} already uses that peer URL; nothing to add", m.id);
    }
    let change = Change::add(&status, !args.voter);
    if args.dry_run.on {
        return report(
            ctx,
            Added {
                change,
                member_id: None,
                join: None,
                dry_run: true,
            },
        );
    }
    super::guard(&change, args.force)?;
    super::require_all_voters_up(&status, None)?;
    let (id, members) = rt.block_on(add(&mut client, &args.peer_urls, !args.voter))?;
    let id_hex = ops::ids::hex_id(id);
    let join = join_instructions(&members, &args.name, &args.peer_urls);
    report(
        ctx,
        Added {
            change,
            member_id: Some(id_hex),
            join: Some(join),
            dry_run: false,
        },
    )
}

fn report(ctx: &Context, added: Added) -> anyhow::Result<Exit> {
    match ctx.format {
        Format::Json => output::print_json(&added),
        Format::Table => {
            let mut s = super::describe(&added.change);
            if added.dry_run {
                s.push_str("Dry run: nothing was changed.\n");
            }
            if let (Some(id), Some(j)) = (&added.member_id, &added.join) {
                s.push_str(&format!(
                    "\nAdded member {id}. Start it on an EMPTY data dir with:\n  {}\n\nor, in an env file \
                     (/etc/etcd.env):\n  {}\n",
                    j.flags.join(" \\\n    "),
                    j.env.join("\n  ")
                ));
                if added.change.after.voters == added.change.before.voters {
                    s.push_str(&format!(
                        "\nIt joins as a learner; once it has caught up: lifeboat member promote {id}\n"
                    ));
                }
            }
            output::print(&s);
        }
    }
    Ok(Exit::Ok)
}
