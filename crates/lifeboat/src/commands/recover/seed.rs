//! `lifeboat recover seed`: make this node the one-member cluster the recovery starts from.

use clap::Args;
use ops::recover::node::{SeedRequest, seed};

use super::node::NodeArgs;
use crate::context::Context;
use crate::exit::Exit;
use crate::output::{self, Format};

#[derive(Debug, Clone, Args)]
pub struct SeedArgs {
    #[command(flatten)]
    pub node: NodeArgs,

    /// Skip the check that no other member still answers (only if what answers is not etcd)
    #[arg(long)]
    pub i_have_fenced: bool,
}

pub fn run(ctx: &Context, args: &SeedArgs) -> anyhow::Result<Exit> {
    let mut service = args.node.service();
    let local = args.node.local_settings(ctx)?;
    let steps = [
        "check that no other member answers (split-brain guard)",
        "stop etcd",
        "back up the data dir",
        "start once with --force-new-cluster",
        "remove --force-new-cluster and restart",
    ];
    if args.node.dry_run.on {
        let mut s = format!(
            "Would seed a new cluster from {} (data dir {}):\n",
            service.describe(),
            service.data_dir()?.display()
        );
        for (i, st) in steps.iter().enumerate() {
            s.push_str(&format!("  {}. {st}\n", i + 1));
        }
        s.push_str("Dry run: nothing was changed.\n");
        output::print(&s);
        return Ok(Exit::Ok);
    }
    args.node.confirm(&format!(
        "Force a new one-member cluster from {}",
        service.describe()
    ))?;
    let mut on_step = super::node::step_printer(ctx, "seed");
    let req = SeedRequest {
        service: service.as_mut(),
        state_dir: args.node.state_dir.clone(),
        local,
        i_have_fenced: args.i_have_fenced,
    };
    let done = crate::runtime::runtime()?.block_on(seed(req, &mut on_step))?;
    match ctx.format {
        Format::Json => output::print_json(&done),
        Format::Table => output::print(
            "Seeded: this node leads a one-member cluster. On every other node run \
             `lifeboat recover rejoin --cluster <this node's client URL> --executor ...`\n",
        ),
    }
    Ok(Exit::Ok)
}
