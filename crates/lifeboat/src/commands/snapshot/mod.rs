//! `lifeboat snapshot ...`: etcd snapshot files, read offline (no etcd needed).

use clap::Subcommand;

use crate::cli::Context;
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

/// Refuse a missing path up front with one clear line, before any library error wording.
pub fn require_file(path: &std::path::Path) -> anyhow::Result<()> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(()),
        Ok(_) => anyhow::bail!("{}: not a regular file", path.display()),
        Err(e) => anyhow::bail!("{}: {e}", path.display()),
    }
}

/// `--identity FILE` loaded, when given.
pub fn identities(
    path: Option<&std::path::Path>,
) -> anyhow::Result<Option<store::encrypted::Identities>> {
    Ok(path.map(store::encrypted::Identities::load).transpose()?)
}
