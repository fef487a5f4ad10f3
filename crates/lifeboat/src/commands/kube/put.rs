//! `lifeboat kube put -f BACKUP`: puts an object back from the file `kube delete` wrote.
//! Refuses to overwrite a newer revision unless `--force`; the write compares what it checked.
//! Offline with `--snapshot IN --out OUT`: a new, verified snapshot with the object in it.

use std::path::PathBuf;

use clap::Args;
use ops::kube::{Backup, PutOutcome, write_backup};
use serde::Serialize;

use crate::confirm::{DryRunArg, YesArg};
use crate::context::Context;
use crate::exit::Exit;
use crate::output::{self, Format};
use crate::source::{Source, SourceArgs};

#[derive(Debug, Clone, Args)]
#[command(mut_arg("dry_run", |a| a.help("Show what would be written, change nothing")))]
pub struct PutArgs {
    /// Backup file written by `lifeboat kube delete`
    #[arg(short = 'f', long = "file", value_name = "BACKUP")]
    pub file: PathBuf,
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub output: super::OutArgs,
    /// Overwrite even when the key now holds a newer revision than the backup
    #[arg(long)]
    pub force: bool,
    /// Where the value being replaced is backed up first (live cluster only; a snapshot input
    /// is never changed)
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
    backup: PathBuf,
    backup_mod_revision: i64,
    /// What the key holds now (None: absent).
    current_mod_revision: Option<i64>,
    dry_run: bool,
    /// The backup of the value this put replaced (live, when the key existed).
    #[serde(skip_serializing_if = "Option::is_none")]
    replaced_backup: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    written_at_revision: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    out: Option<PathBuf>,
    /// age recipients the new snapshot is encrypted to (empty: plaintext).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    out_encrypted_to: Vec<String>,
    /// Temporary files of killed earlier edits to the same --out, removed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    removed_stale_parts: Vec<PathBuf>,
}

pub fn run(ctx: &Context, args: &PutArgs) -> anyhow::Result<Exit> {
    let ids = crate::source::identities(args.source.identity.as_deref())?;
    let backup = Backup::read_with(&args.file, ids.as_ref())?;
    if args.source.snapshot.is_some() && args.output.out.is_none() && !args.dry_run.on {
        anyhow::bail!(
            "offline put writes a new snapshot: give --out FILE (the input is never changed)"
        );
    }
    let source = Source::open(ctx, &args.source)?;
    let encryption = super::out_encryption(&source, &args.output)?;
    if !args.dry_run.on {
        super::require_sound_input(&source)?;
    }
    let current = source.get(&backup.key)?;
    let current_rev = current.as_ref().map(|kv| kv.mod_revision);
    if let Some(rev) = current_rev.filter(|&r| r > backup.mod_revision && !args.force) {
        anyhow::bail!(
            "{} holds revision {rev}, newer than the backup's {}: refusing to overwrite it. \
             `lifeboat kube get` shows it; --force overwrites",
            backup.key,
            backup.mod_revision
        );
    }
    let mut report = Report {
        key: backup.key.clone(),
        source: source.describe(),
        backup: args.file.clone(),
        backup_mod_revision: backup.mod_revision,
        current_mod_revision: current_rev,
        dry_run: args.dry_run.on,
        replaced_backup: None,
        written_at_revision: None,
        out: args.output.out.clone(),
        out_encrypted_to: Vec::new(),
        removed_stale_parts: Vec::new(),
    };
    if !args.dry_run.on {
        args.yes.confirm(&format!(
            "Put {} back into {}",
            backup.key,
            source.describe()
        ))?;
        // Overwriting is destructive: what the key holds now is backed up first.
        if let (Source::Live { .. }, Some(kv)) = (&source, &current) {
            let path = write_backup(&args.backup_dir, &Backup::of(kv, source.describe())).map_err(
                |e| {
                    anyhow::anyhow!(
                        "the backup of the current value failed, so nothing was written: {e} \
                         (choose another --backup-dir)"
                    )
                },
            )?;
            report.replaced_backup = Some(path);
        }
        report.written_at_revision = Some(match &source {
            Source::Live { client, rt } => {
                match rt.block_on(ops::kube::put_backup(client, &backup, args.force))? {
                    PutOutcome::Put { revision, .. } => revision,
                    PutOutcome::Newer { mod_revision } => anyhow::bail!(
                        "{} now holds revision {mod_revision}, newer than the backup: nothing written (--force overwrites)",
                        backup.key
                    ),
                    PutOutcome::Raced => anyhow::bail!(
                        "{} changed while being written: nothing written; run it again",
                        backup.key
                    ),
                }
            }
            Source::Snapshot { db, .. } => {
                let change = store::edit::Change::Put {
                    key: backup.key.as_bytes().to_vec(),
                    value: backup.value()?,
                };
                let written =
                    super::write_offline(db, &args.output, encryption.as_ref(), &[change])?;
                report.out_encrypted_to = written.encrypted_to;
                report.removed_stale_parts = written.outcome.removed_stale_parts;
                written.outcome.revision
            }
        });
    }
    match ctx.format {
        Format::Json => output::print_json(&report),
        Format::Table => {
            let verb = if args.dry_run.on { "Would put" } else { "Put" };
            let mut s = format!(
                "{verb} {} back (backup of mod revision {}; the key now: {})\n",
                report.key,
                report.backup_mod_revision,
                report
                    .current_mod_revision
                    .map_or("absent".into(), |r| format!("revision {r}"))
            );
            if let Some(rev) = report.written_at_revision {
                s.push_str(&format!("  written at revision {rev}\n"));
            }
            if let Some(b) = &report.replaced_backup {
                s.push_str(&format!(
                    "  the value it replaced: {} (`lifeboat kube put -f` that file undoes this)\n",
                    b.display()
                ));
            }
            if let (Some(out), false) = (&report.out, args.dry_run.on) {
                s.push_str(&format!("  new snapshot: {}\n", out.display()));
                s.push_str(&super::encryption_line(&report.out_encrypted_to));
                for p in &report.removed_stale_parts {
                    s.push_str(&format!(
                        "  removed {}, left by an edit that was killed (its process is gone)\n",
                        p.display()
                    ));
                }
            }
            output::print(&s);
        }
    }
    Ok(Exit::Ok)
}
