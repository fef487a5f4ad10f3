//! `lifeboat datadir ...`: member data dirs read offline, for lost-quorum recovery.

use clap::Subcommand;

use crate::context::Context;
use crate::exit::Exit;

pub mod inspect;
pub mod rank;

#[derive(Debug, Subcommand)]
pub enum DatadirCommand {
    /// One member's data dir: IDs, HardState, last entry, snapshots, db, WAL health, liveness
    Inspect(inspect::InspectArgs),
    /// Rank survivors by committed data, best first (dirs, or `datadir inspect -o json` files)
    Rank(rank::RankArgs),
}

pub fn run(ctx: &Context, cmd: &DatadirCommand) -> anyhow::Result<Exit> {
    match cmd {
        DatadirCommand::Inspect(args) => inspect::run(ctx, args),
        DatadirCommand::Rank(args) => rank::run(ctx, args),
    }
}
