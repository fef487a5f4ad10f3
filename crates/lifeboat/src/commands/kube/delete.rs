//! `lifeboat kube delete RESOURCE NAME [-n NS]`: the way out of the policy-lockout deadlock.
//! Online: back the object up, then delete it in a transaction that compares its mod_revision,
//! so a concurrent change aborts the delete. Offline (`--snapshot IN --out OUT`): a new,
//! verified snapshot without the object, ready for `snapshot restore`.

use std::path::{Path, PathBuf};

use clap::Args;
use ops::kube::{Backup, DeleteOutcome, write_backup, write_backup_sealed};
use serde::Serialize;
use store::objects::LatestKv;

use super::{ObjectArgs, not_found, write_offline};
use crate::confirm::{DryRunArg, YesArg};
use crate::context::Context;
use crate::exit::Exit;
use crate::output::{self, Format};
use crate::source::{Source, SourceArgs};

#[derive(Debug, Clone, Args)]
#[command(mut_arg("dry_run", |a| a.help("Show what would be deleted, change nothing")))]
pub struct DeleteArgs {
    #[command(flatten)]
    pub object: ObjectArgs,
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub output: super::OutArgs,
    /// Where the backup of the deleted object goes
    #[arg(long, value_name = "DIR", default_value = "/var/backups/lifeboat")]
    pub backup_dir: PathBuf,
    #[command(flatten)]
    pub dry_run: DryRunArg,
    #[command(flatten)]
    pub yes: YesArg,
}

#[derive(Serialize)]
struct Report {
    key: String,
    source: String,
    dry_run: bool,
    mod_revision: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    backup: Option<PathBuf>,
    /// The revision of the delete (online) or of the tombstone in the new snapshot.
    #[serde(skip_serializing_if = "Option::is_none")]
    deleted_at_revision: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    out: Option<PathBuf>,
    /// age recipients the new snapshot is encrypted to (empty: plaintext).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    out_encrypted_to: Vec<String>,
    /// Temporary files of killed earlier edits to the same --out, removed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    removed_stale_parts: Vec<PathBuf>,
    next_steps: Vec<String>,
}

pub fn run(ctx: &Context, args: &DeleteArgs) -> anyhow::Result<Exit> {
    let (rt, key) = args.object.key()?;
    if args.source.snapshot.is_some() && args.output.out.is_none() && !args.dry_run.on {
        anyhow::bail!(
            "offline delete writes a new snapshot: give --out FILE (the input is never changed)"
        );
    }
    let source = Source::open(ctx, &args.source)?;
    let encryption = super::out_encryption(&source, &args.output)?;
    if !args.dry_run.on {
        super::require_sound_input(&source)?;
    }
    let kv = source
        .get(&key)?
        .ok_or_else(|| not_found(&rt, &key, &source))?;
    let mut report = Report {
        key: key.clone(),
        source: source.describe(),
        dry_run: args.dry_run.on,
        mod_revision: kv.mod_revision,
        backup: None,
        deleted_at_revision: None,
        out: args.output.out.clone(),
        out_encrypted_to: Vec::new(),
        removed_stale_parts: Vec::new(),
        next_steps: Vec::new(),
    };
    if args.dry_run.on {
        report
            .next_steps
            .push("run again without --dry-run to delete it (a backup is written first)".into());
        return finish(ctx, &report);
    }
    args.yes.confirm(&format!(
        "Delete {key} (mod revision {}) from {}",
        kv.mod_revision,
        source.describe()
    ))?;
    // What the new snapshot keeps encrypted, its backup keeps encrypted too.
    let backup = Backup::of(&kv, source.describe());
    let written = match &encryption {
        Some(enc) => write_backup_sealed(&args.backup_dir, &backup, &enc.recipients),
        None => write_backup(&args.backup_dir, &backup),
    };
    let backup_path = written.map_err(|e| {
        anyhow::anyhow!(
            "the backup failed, so nothing was deleted: {e} (choose another --backup-dir)"
        )
    })?;
    report.backup = Some(backup_path.clone());
    match &source {
        Source::Live { client, rt } => {
            match rt.block_on(ops::kube::delete_if_unchanged(
                client,
                key.as_bytes(),
                kv.mod_revision,
            ))? {
                DeleteOutcome::Deleted { revision } => {
                    report.deleted_at_revision = Some(revision);
                    report.next_steps = vec![
                        format!("to put it back: lifeboat kube put -f {}", backup_path.display()),
                        "a running kube-apiserver sees the delete through its watch; one that was down reads it at start".into(),
                    ];
                }
                DeleteOutcome::Changed { mod_revision } => anyhow::bail!(
                    "{key} changed after it was read (mod revision now {}): nothing was deleted. The backup {} \
                     holds the version that was read; run the command again to delete the current one",
                    mod_revision.map_or("none: deleted".into(), |r| r.to_string()),
                    backup_path.display()
                ),
            }
        }
        Source::Snapshot { db, .. } => {
            let change = store::edit::Change::Delete(key.as_bytes().to_vec());
            let written = write_offline(db, &args.output, encryption.as_ref(), &[change])?;
            let out = args.output.out.as_deref().unwrap_or(Path::new(""));
            report.deleted_at_revision = Some(written.outcome.revision);
            report.next_steps = offline_next_steps(out, &kv, &backup_path);
            report.out_encrypted_to = written.encrypted_to;
            report.removed_stale_parts = written.outcome.removed_stale_parts;
        }
    }
    finish(ctx, &report)
}

/// The new snapshot must pass the same checks as any backup before anyone restores from it.
pub fn verify_written(
    out: &Path,
    identities: Option<&store::encrypted::Identities>,
) -> anyhow::Result<()> {
    let v = store::report::verify_with(out, identities)?;
    if let Some(failed) = v.failures() {
        anyhow::bail!(
            "the new snapshot {} failed verification: {}",
            out.display(),
            failed
        );
    }
    Ok(())
}

fn offline_next_steps(out: &Path, _kv: &LatestKv, backup: &Path) -> Vec<String> {
    vec![
        format!(
            "lifeboat snapshot verify {}   (already done: sound)",
            out.display()
        ),
        format!(
            "restore EVERY member from this one file: lifeboat snapshot restore {} --all --initial-cluster ... --output-root DIR",
            out.display()
        ),
        "stop every kube-apiserver before the restore; start etcd, then the API servers".into(),
        format!(
            "the removed object is kept in {}{}",
            backup.display(),
            if backup.extension().is_some_and(|e| e == "age") {
                " (age-encrypted: `kube put -f` it with --identity)"
            } else {
                ""
            }
        ),
    ]
}

fn finish(ctx: &Context, r: &Report) -> anyhow::Result<Exit> {
    match ctx.format {
        Format::Json => output::print_json(r),
        Format::Table => {
            let mut s = if r.dry_run {
                format!(
                    "Would delete {} (mod revision {}) from {}\n",
                    r.key, r.mod_revision, r.source
                )
            } else {
                format!(
                    "Deleted {} (was mod revision {}) from {}\n",
                    r.key, r.mod_revision, r.source
                )
            };
            if let Some(rev) = r.deleted_at_revision {
                s.push_str(&format!("  at revision {rev}\n"));
            }
            if let Some(out) = r.out.as_ref().filter(|_| !r.dry_run) {
                s.push_str(&format!("  new snapshot: {}\n", out.display()));
                s.push_str(&super::encryption_line(&r.out_encrypted_to));
                for p in &r.removed_stale_parts {
                    s.push_str(&format!(
                        "  removed {}, left by an edit that was killed (its process is gone)\n",
                        p.display()
                    ));
                }
            }
            if let Some(b) = &r.backup {
                s.push_str(&format!("  backup: {}\n", b.display()));
            }
            for step in &r.next_steps {
                s.push_str(&format!("  next: {step}\n"));
            }
            output::print(&s);
        }
    }
    Ok(Exit::Ok)
}
