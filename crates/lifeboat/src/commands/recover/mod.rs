//! `lifeboat recover ...`: lost-quorum recovery on real nodes. `plan` says what to do and where;
//! `seed` runs on the chosen node, `rejoin` on each other node (systemd or kubeadm static pod).
//! `run` carries a whole plan out on a local cluster (etcd processes on this machine), as
//! `lifeboat drill` does.

use clap::Subcommand;

use crate::context::Context;
use crate::exit::Exit;

mod node;
pub mod plan;
pub mod rejoin;
pub mod run;
pub mod seed;

#[derive(Debug, Subcommand)]
pub enum RecoverCommand {
    /// Pick the freshest survivor and lay out the recovery as steps and per-node commands
    Plan(plan::PlanArgs),
    /// On the chosen node: fence check, stop, back up, force a new cluster, restart without the flag
    Seed(seed::SeedArgs),
    /// On every other node: stop, move the data aside, join the seed as a learner, catch up, promote
    Rejoin(rejoin::RejoinArgs),
    /// Run a whole recovery on a local cluster (members are etcd processes on this machine)
    Run(run::RunArgs),
}

pub fn run(ctx: &Context, cmd: &RecoverCommand) -> anyhow::Result<Exit> {
    match cmd {
        RecoverCommand::Plan(a) => plan::run(ctx, a),
        RecoverCommand::Seed(a) => seed::run(ctx, a),
        RecoverCommand::Rejoin(a) => rejoin::run(ctx, a),
        RecoverCommand::Run(a) => run::run(ctx, a),
    }
}
