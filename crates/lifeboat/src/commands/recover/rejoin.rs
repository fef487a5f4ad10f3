//! `lifeboat recover rejoin`: bring this node back into the recovered cluster.

use std::time::Duration;

use clap::Args;
use ops::ConnectionSettings;
use ops::recover::node::{RejoinRequest, rejoin};

use super::node::NodeArgs;
use crate::context::Context;
use crate::exit::Exit;
use crate::output::{self, Format};

#[derive(Debug, Clone, Args)]
pub struct RejoinArgs {
    #[command(flatten)]
    pub node: NodeArgs,

    /// Client URL(s) of the recovered cluster (the seed)
    #[arg(long, value_delimiter = ',', required = true)]
    pub cluster: Vec<String>,

    /// This member's name (default: from the etcd configuration)
    #[arg(long)]
    pub name: Option<String>,

    /// This member's peer URL(s) (default: its --initial-advertise-peer-urls)
    #[arg(long, value_delimiter = ',')]
    pub peer_urls: Vec<String>,

    /// How long to wait for this member to catch up before promoting it
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    pub promote_timeout: Duration,
}

pub fn run(ctx: &Context, args: &RejoinArgs) -> anyhow::Result<Exit> {
    let mut service = args.node.service();
    let local = args.node.local_settings(ctx)?;
    let cluster = ConnectionSettings {
        endpoints: ConnectionSettings::parse_endpoints(&args.cluster)?,
        ..local.clone()
    };
    let name = match &args.name {
        Some(n) => n.clone(),
        None => configured(service.as_ref(), "name", "ETCD_NAME")?,
    };
    let peer_urls = if args.peer_urls.is_empty() {
        configured(
            service.as_ref(),
            "initial-advertise-peer-urls",
            "ETCD_INITIAL_ADVERTISE_PEER_URLS",
        )?
        .split(',')
        .map(String::from)
        .collect()
    } else {
        args.peer_urls.clone()
    };
    if args.node.dry_run.on {
        output::print(&format!(
            "Would rejoin {name} ({}) to {}: stop etcd, move {} aside, add as learner, set \
             initial-cluster and initial-cluster-state=existing, start, promote.\nDry run: nothing was changed.\n",
            peer_urls.join(","),
            args.cluster.join(","),
            service.data_dir()?.display()
        ));
        return Ok(Exit::Ok);
    }
    args.node.confirm(&format!(
        "Rejoin {name}: its data dir is moved aside and it starts empty"
    ))?;
    let mut on_step = super::node::step_printer(ctx, "rejoin");
    let req = RejoinRequest {
        service: service.as_mut(),
        state_dir: args.node.state_dir.clone(),
        cluster,
        local,
        name: name.clone(),
        peer_urls,
        promote_timeout: args.promote_timeout,
    };
    let done = crate::runtime::runtime()?.block_on(rejoin(req, &mut on_step))?;
    match ctx.format {
        Format::Json => output::print_json(&done),
        Format::Table => output::print(&format!("Rejoined: {name} is a voting member again.\n")),
    }
    Ok(Exit::Ok)
}

/// A value from the etcd configuration on this node: the env file, or the manifest's flags.
fn configured(
    service: &dyn ops::recover::node::NodeService,
    flag: &str,
    env: &str,
) -> anyhow::Result<String> {
    service.get_named(flag, env)?.ok_or_else(|| {
        anyhow::anyhow!(
            "cannot tell this member's {flag} from {}; pass it explicitly",
            service.describe()
        )
    })
}
