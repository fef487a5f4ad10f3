//! `lifeboat member list`

use clap::Args;
use ops::member::QuorumMath;
use ops::status::{DiagnoseOptions, diagnose, gather};
use serde::Serialize;

use crate::context::Context;
use crate::exit::Exit;
use crate::output::{self, Format};

#[derive(Debug, Clone, Args)]
pub struct ListArgs {}

#[derive(Serialize)]
struct Listing<'a> {
    members: &'a [ops::status::MemberRow],
    quorum: QuorumMath,
}

pub fn run(ctx: &Context, _args: &ListArgs) -> anyhow::Result<Exit> {
    let (settings, tls) = super::connect_settings(ctx)?;
    let obs = crate::runtime::runtime()?.block_on(gather(&settings, tls.as_ref(), false));
    let status = diagnose(&obs, &DiagnoseOptions::default());
    if status.members.is_empty() {
        anyhow::bail!("no member answered; run `lifeboat status` for the errors per endpoint");
    }
    let quorum = QuorumMath::of(&status);
    match ctx.format {
        Format::Json => output::print_json(&Listing {
            members: &status.members,
            quorum,
        }),
        Format::Table => {
            let t = crate::render::status::members_table(&status.members);
            output::print(&format!("{t}\nQUORUM  {}\n", quorum.describe()));
        }
    }
    Ok(Exit::Ok)
}
