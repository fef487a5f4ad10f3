//! `lifeboat kube ...`: Kubernetes objects read and changed through etcd, for when the API
//! server is down. Online against a cluster with a leader, or offline on a snapshot file.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::context::Context;
use crate::exit::Exit;
use crate::source::Source;

pub mod delete;
pub mod get;
pub mod list;
pub mod put;

#[derive(Debug, Subcommand)]
pub enum KubeCommand {
    /// Objects per resource type, or the objects of one type (metadata, never values)
    List(list::ListArgs),
    /// One object as kubectl would show it (-o yaml, -o json); Secret data redacted
    Get(get::GetArgs),
    /// Delete one object: backup first, then a delete that aborts if the object changed
    Delete(delete::DeleteArgs),
    /// Put an object back from a `kube delete` backup (refuses to overwrite newer data)
    Put(put::PutArgs),
}

pub fn run(ctx: &Context, cmd: &KubeCommand) -> anyhow::Result<Exit> {
    match cmd {
        KubeCommand::List(a) => list::run(ctx, a),
        KubeCommand::Get(a) => get::run(ctx, a),
        KubeCommand::Delete(a) => delete::run(ctx, a),
        KubeCommand::Put(a) => put::run(ctx, a),
    }
}

/// Where an offline edit goes, and in what form.
#[derive(Debug, Clone, Args)]
pub struct OutArgs {
    /// With --snapshot: the new snapshot to write (never overwritten)
    #[arg(long, value_name = "FILE", requires = "snapshot")]
    pub out: Option<PathBuf>,
    /// Encrypt the new snapshot (age) to this recipient (age1...) or every recipient in this
    /// file. An encrypted --snapshot is re-encrypted by default to its --identity's public key
    #[arg(long, value_name = "RECIPIENT|FILE", requires = "out")]
    pub encrypt_to: Option<String>,
    /// Write the new snapshot unencrypted even though --snapshot was encrypted
    #[arg(long, requires = "out", conflicts_with = "encrypt_to")]
    pub plaintext_out: bool,
}

/// What an offline edit wrote.
pub struct Written {
    pub outcome: store::edit::EditOutcome,
    /// The age recipients it is encrypted to (empty: plaintext).
    pub encrypted_to: Vec<String>,
}

/// An offline edit starts from a sound snapshot: the new file is verified and would look
/// sound even when made from a damaged one (a SHA-256 mismatch, bytes appended), so the
/// input gets `snapshot verify`'s checks first.
pub fn require_sound_input(source: &Source) -> anyhow::Result<()> {
    let Source::Snapshot {
        path, identities, ..
    } = source
    else {
        return Ok(());
    };
    let snap = store::snapshot::SnapshotFile::open_with(path, identities.as_deref())?;
    let report = store::report::verify_file(&snap, store::report::Hash::Check)?;
    if let Some(failed) = report.failures() {
        anyhow::bail!(
            "{} is unsound ({}): an edit of it would pass verification and hide that; edit a \
             sound snapshot (`lifeboat snapshot verify` names every check); nothing was written",
            path.display(),
            failed
        );
    }
    Ok(())
}

/// How `--out` is to be written, decided before anything is written: encrypted when the
/// source was (to the identity's public keys, plus `--encrypt-to`), or when `--encrypt-to`
/// asks; plaintext from an encrypted source only with `--plaintext-out`.
pub fn out_encryption(
    source: &Source,
    args: &OutArgs,
) -> anyhow::Result<Option<ops::snapshot::Encryption>> {
    let (encrypted, ids) = match source {
        Source::Snapshot {
            encrypted,
            identities,
            ..
        } => (*encrypted, identities.as_deref()),
        Source::Live { .. } => return Ok(None),
    };
    let mut recipients = match &args.encrypt_to {
        Some(arg) => ops::snapshot::Encryption::parse(arg)?.recipients,
        None => Vec::new(),
    };
    if encrypted && !args.plaintext_out {
        match ids {
            Some(ids) if ids.all_x25519 => recipients.extend(ids.recipients.iter().cloned()),
            _ if !recipients.is_empty() => {}
            _ => anyhow::bail!(
                "the snapshot is encrypted and the identity holds no X25519 key whose public key \
                 the new one could be encrypted to: give --encrypt-to RECIPIENT|FILE, or \
                 --plaintext-out to write it unencrypted; nothing was written"
            ),
        }
    }
    if recipients.is_empty() {
        return Ok(None);
    }
    Ok(Some(ops::snapshot::Encryption::to(recipients, "")?))
}

/// Writes `changes` to `--out` as a new snapshot, encrypted with `enc` when given (see
/// [`out_encryption`]), and verifies it before it is reported.
pub fn write_offline(
    db: &bolt::Db,
    args: &OutArgs,
    enc: Option<&ops::snapshot::Encryption>,
    changes: &[store::edit::Change],
) -> anyhow::Result<Written> {
    let out = args
        .out
        .as_deref()
        .ok_or_else(|| crate::exit::usage("--out FILE is required with --snapshot"))?;
    let Some(enc) = enc else {
        let outcome = store::edit::apply_to_snapshot(db, out, changes)?;
        delete::verify_written(out, None)?;
        return Ok(Written {
            outcome,
            encrypted_to: Vec::new(),
        });
    };
    // With the encryption's throwaway key of its own, as `snapshot save` does, to verify the
    // result and then forget: only the recipients named can open it afterwards.
    let outcome = store::edit::apply_to_encrypted_snapshot(db, out, changes, &enc.with_check())?;
    delete::verify_written(out, Some(&enc.check_identities()))?;
    let mut names = enc.names.clone();
    names.sort();
    names.dedup();
    Ok(Written {
        outcome,
        encrypted_to: names,
    })
}

/// How the new snapshot is stored, for the table output.
pub fn encryption_line(to: &[String]) -> String {
    if to.is_empty() {
        "  NOT encrypted: it holds every Secret of the cluster in the clear; keep it safe\n".into()
    } else {
        format!(
            "  encrypted (age) to {}; open it with --identity\n",
            to.join(", ")
        )
    }
}

/// Which object: a resource type and a namespace, as kubectl takes them.
#[derive(Debug, Clone, Args)]
pub struct ObjectArgs {
    /// Resource type: plural, singular, kind or short name (po, cm, netpol, ccnp, cnp, ...),
    /// or GROUP/PLURAL for any custom resource
    pub resource: String,
    /// Object name
    pub name: String,
    /// Namespace of a namespaced type; `default` when not given, as kubectl does
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
}

impl ObjectArgs {
    pub fn key(&self) -> anyhow::Result<(registry::ResourceType, String)> {
        // An unknown type or a name no key can hold is a mistake on the command line (64).
        let rt =
            registry::resolve(&self.resource).map_err(|e| crate::exit::usage(e.to_string()))?;
        let key = rt
            .key(namespace_for(&rt, self.namespace.as_deref()), &self.name)
            .map_err(|e| crate::exit::usage(e.to_string()))?;
        Ok((rt, key))
    }
}

/// The namespace as kubectl applies it: `default` for a namespaced type when none is given;
/// ignored for a cluster-scoped one. A custom resource whose scope is not known is namespaced
/// exactly when `-n` is given.
fn namespace_for<'a>(rt: &registry::ResourceType, given: Option<&'a str>) -> Option<&'a str> {
    match rt.namespaced {
        Some(true) => Some(given.unwrap_or("default")),
        Some(false) => None,
        None => given,
    }
}

pub fn not_found(rt: &registry::ResourceType, key: &str, source: &Source) -> anyhow::Error {
    anyhow::anyhow!(
        "{} not found at {key} in {}; `lifeboat kube list {}` shows what is there",
        rt.plural,
        source.describe(),
        rt.api_group_label()
    )
}
