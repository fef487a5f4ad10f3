//! `lifeboat recover ...`: lost-quorum recovery. Today: `plan`, which works on a real cluster
//! and prints the plan as a runbook; the drill (`lifeboat drill`) runs whole plans locally.

use clap::Subcommand;

use crate::cli::Context;
use crate::exit::Exit;

pub mod plan;

#[derive(Debug, Subcommand)]
pub enum RecoverCommand {
    /// Pick the freshest survivor and lay out the recovery as steps and per-node commands
    Plan(plan::PlanArgs),
}

pub fn run(ctx: &Context, cmd: &RecoverCommand) -> anyhow::Result<Exit> {
    match cmd {
        RecoverCommand::Plan(a) => plan::run(ctx, a),
    }
}
