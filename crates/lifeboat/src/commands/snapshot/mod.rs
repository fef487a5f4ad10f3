//! `lifeboat snapshot ...`: etcd snapshot files, read offline (no etcd needed).

use clap::Subcommand;

use crate::context::Context;
use crate::exit::Exit;

pub mod diff;
pub mod inspect;
pub mod restore;
pub mod save;
pub mod verify;

#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Is this backup sound? SHA-256 trailer, bbolt structure, etcd schema. Exit 0 sound, 1 not
    Verify(verify::VerifyArgs),
    /// What is in it: etcdctl's status numbers, members, compaction, Kubernetes objects.
    /// Exit 0, or 1 when a check it shows failed (length, manifest, problems; SHA-256 with
    /// --check-sha256)
    Inspect(inspect::InspectArgs),
    /// Save a snapshot from a live member: streamed, verified, fsynced, then named (mode 0600)
    Save(save::SaveArgs),
    /// Restore member data dirs natively from one verified snapshot (one member, or --all)
    Restore(restore::RestoreArgs),
    /// What restoring A would bring back, lose and revert, against B or the live cluster (--live)
    Diff(diff::DiffArgs),
}

pub fn run(ctx: &Context, cmd: &SnapshotCommand) -> anyhow::Result<Exit> {
    match cmd {
        SnapshotCommand::Verify(args) => verify::run(ctx, args),
        SnapshotCommand::Inspect(args) => inspect::run(ctx, args),
        SnapshotCommand::Save(args) => save::run(ctx, args),
        SnapshotCommand::Restore(args) => restore::run(ctx, args),
        SnapshotCommand::Diff(args) => diff::run(ctx, args),
    }
}

pub use crate::output::human_bytes;

// Shared with `kube`, `backup` and `policy`; kept reachable here as `super::...` for this
// command's files.
pub use crate::source::{identities, require_file};
