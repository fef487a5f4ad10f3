//! `lifeboat backup ...`: what a continuous-backup store holds (docs/backup.md), whether all
//! of it is sound, and one snapshot file rebuilt from it at any point.

use clap::Subcommand;

use crate::context::Context;
use crate::exit::Exit;

pub mod list;
pub mod prune;
pub mod restore;
pub mod verify;

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Full snapshots and delta segments in the store, with revision ranges and times
    List(list::ListArgs),
    /// Check everything: each full against its manifest and `snapshot verify`, each segment's
    /// checksum, order and chain. Exit 0 sound, 1 not
    Verify(verify::VerifyArgs),
    /// Rebuild one verified snapshot file at a revision, a time, or the newest point
    Restore(restore::RestoreArgs),
    /// Apply retention: delete the fulls and segments the policy no longer keeps (never the
    /// newest verified full, a segment a kept full needs, foreign or corrupt objects)
    Prune(prune::PruneArgs),
}

// Declared with the other shared flags; `super::StoreArg` for this command's files.
pub use crate::flags::StoreArg;

pub fn run(ctx: &Context, cmd: &BackupCommand) -> anyhow::Result<Exit> {
    match cmd {
        BackupCommand::List(args) => list::run(ctx, args),
        BackupCommand::Verify(args) => verify::run(ctx, args),
        BackupCommand::Restore(args) => restore::run(ctx, args),
        BackupCommand::Prune(args) => prune::run(ctx, args),
    }
}
