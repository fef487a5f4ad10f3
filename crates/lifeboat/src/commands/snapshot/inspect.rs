//! `lifeboat snapshot inspect FILE [--keys PREFIX] [--check-sha256]`: etcdctl's `snapshot
//! status` numbers and much more, read offline. Values are never printed, only keys, sizes
//! and encodings. Like `etcdutl snapshot status`, the SHA-256 trailer is checked only on
//! request (`snapshot verify` always checks it), and the output says so.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;
use store::report::{Hash, InspectReport};
use store::snapshot::ShaStatus;

use super::human_bytes;
use crate::context::Context;
use crate::exit::Exit;
use crate::output::{self, Format};

#[derive(Debug, Clone, Args)]
pub struct InspectArgs {
    /// Snapshot file (`etcdctl snapshot save` output) or a raw member/snap/db copy
    pub file: PathBuf,

    /// List the live keys starting with PREFIX (metadata only, never values) instead of the summary
    #[arg(long, value_name = "PREFIX")]
    pub keys: Option<String>,

    /// age identity file for an encrypted snapshot (FILE.age from `save --encrypt-to`)
    #[arg(long, value_name = "FILE")]
    pub identity: Option<PathBuf>,

    /// Also hash the whole image and compare it with its SHA-256 trailer (as `snapshot
    /// verify` does); without it, like `etcdutl snapshot status`, the trailer is not checked
    #[arg(long)]
    pub check_sha256: bool,
}

#[derive(Serialize)]
struct KeyList<'a> {
    prefix: &'a str,
    count: usize,
    keys: Vec<store::keys::KeyInfo>,
}

pub fn run(ctx: &Context, args: &InspectArgs) -> anyhow::Result<Exit> {
    super::require_file(&args.file)?;
    if let Some(prefix) = &args.keys {
        return list_keys(ctx, args, prefix);
    }
    let ids = super::identities(args.identity.as_deref())?;
    let hash = if args.check_sha256 {
        Hash::Check
    } else {
        Hash::Skip
    };
    let r = store::report::inspect_hashing(&args.file, ids.as_ref(), hash)?;
    match ctx.format {
        Format::Json => output::print_json(&r),
        Format::Table => output::print(&render(&r)),
    }
    // A failed check shown with exit 0 would let a script take the file for sound.
    Ok(if r.sound { Exit::Ok } else { Exit::Warning })
}

fn list_keys(ctx: &Context, args: &InspectArgs, prefix: &str) -> anyhow::Result<Exit> {
    let ids = super::identities(args.identity.as_deref())?;
    let snap = store::snapshot::SnapshotFile::open_with(&args.file, ids.as_ref())?;
    let db = snap.db()?;
    let keys = store::keys::list(&db, prefix.as_bytes())?;
    match ctx.format {
        Format::Json => output::print_json(&KeyList {
            prefix,
            count: keys.len(),
            keys,
        }),
        Format::Table => {
            let mut t = output::table(&[
                "KEY",
                "CREATE REV",
                "MOD REV",
                "VERSION",
                "LEASE",
                "SIZE",
                "ENCODING",
            ]);
            for k in &keys {
                let lease = if k.lease == 0 {
                    String::new()
                } else {
                    format!("{:x}", k.lease)
                };
                t.add_row([
                    k.key.clone(),
                    k.create_revision.to_string(),
                    k.mod_revision.to_string(),
                    k.version.to_string(),
                    lease,
                    human_bytes(k.value_size),
                    k.encoding.as_str().to_string(),
                ]);
            }
            output::print(&format!("{t}\n{} live keys under {prefix:?}\n", keys.len()));
        }
    }
    Ok(Exit::Ok)
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref()
        .map_or_else(|| "-".to_string(), ToString::to_string)
}

fn render(r: &InspectReport) -> String {
    let mut out = String::new();
    let sha = match &r.sha256 {
        ShaStatus::Ok { .. } => "ok (trailer matches)".to_string(),
        ShaStatus::Absent { .. } => {
            "absent: raw db copy (restore needs --skip-hash-check)".to_string()
        }
        ShaStatus::Mismatch { expected, actual } => {
            format!("MISMATCH: trailer {expected}, content {actual}")
        }
        ShaStatus::Unchecked { reason } => format!("NOT CHECKED: {reason}"),
        ShaStatus::NotChecked { next_step, .. } => {
            format!("not checked (the trailer is there): {next_step}")
        }
    };
    let mut t = output::table(&["FIELD", "VALUE"]);
    let rows: Vec<(&str, String)> = vec![
        ("hash", r.hash.to_string()),
        ("revision", r.revision.to_string()),
        ("total keys (3.4/3.5)", r.total_key.to_string()),
        (
            "total size",
            format!("{} ({})", r.total_size, human_bytes(r.total_size)),
        ),
        ("live keys (3.6)", r.live_keys.to_string()),
        (
            "revisions kept / tombstones",
            format!("{} / {}", r.revisions, r.tombstones),
        ),
        ("sha256", sha),
        ("page size", r.page_size.to_string()),
        ("compact revision", opt(&r.compact_revision)),
        ("consistent index", opt(&r.consistent_index)),
        ("term", opt(&r.term)),
        ("storage version", opt(&r.storage_version)),
        ("cluster version", opt(&r.cluster_version)),
        ("auth enabled", opt(&r.auth_enabled)),
    ];
    for (k, v) in rows {
        t.add_row([k.to_string(), v]);
    }
    out.push_str(&format!("{t}\n"));

    if !r.members.is_empty() || !r.removed_members.is_empty() {
        let mut m = output::table(&["MEMBER ID", "NAME", "PEER URLS", "CLIENT URLS", "LEARNER"]);
        for x in &r.members {
            m.add_row([
                x.id.clone(),
                x.name.clone(),
                x.peer_urls.join(","),
                x.client_urls.join(","),
                if x.is_learner {
                    "yes".into()
                } else {
                    String::new()
                },
            ]);
        }
        for id in &r.removed_members {
            m.add_row([
                id.clone(),
                "(removed)".into(),
                String::new(),
                String::new(),
                String::new(),
            ]);
        }
        out.push_str(&format!("\n{m}\n"));
    }
    for a in &r.alarms {
        out.push_str(&format!("ALARM {} on member {}\n", a.alarm, a.member_id));
    }

    let k = &r.kubernetes;
    if k.objects > 0 {
        let mut t = output::table(&["RESOURCE", "OBJECTS", "BYTES", "ENCODINGS", "ENCRYPTED"]);
        for res in &k.resources {
            let enc = res
                .encodings
                .iter()
                .map(|(e, n)| format!("{e}:{n}"))
                .collect::<Vec<_>>()
                .join(" ");
            let crypt = if res.encrypted == 0 {
                "no".to_string()
            } else if res.encrypted == res.objects {
                format!("yes ({})", res.providers.join(","))
            } else {
                format!(
                    "{}/{} ({})",
                    res.encrypted,
                    res.objects,
                    res.providers.join(",")
                )
            };
            t.add_row([
                res.resource.clone(),
                res.objects.to_string(),
                human_bytes(res.bytes),
                enc,
                crypt,
            ]);
        }
        out.push_str(&format!(
            "\nKubernetes: {} objects, {} in {} namespaces ({} other keys)\n{t}\n",
            k.objects,
            human_bytes(k.bytes),
            k.namespaces.len(),
            k.other_keys
        ));
        if !k
            .resources
            .iter()
            .any(|r| r.resource == "secrets" && r.encrypted > 0)
            && k.resources.iter().any(|r| r.resource == "secrets")
        {
            out.push_str("Secrets are NOT encrypted at rest: this file holds them in the clear; store it encrypted.\n");
        }
        let mut l = output::table(&["LARGEST OBJECTS", "BYTES", "MOD REV"]);
        for o in &k.largest {
            l.add_row([
                o.key.clone(),
                human_bytes(o.bytes),
                o.mod_revision.to_string(),
            ]);
        }
        out.push_str(&format!("\n{l}\n"));
    }
    if !r.problems.is_empty() {
        out.push_str("\nProblems:\n");
        for p in &r.problems {
            out.push_str(&format!("  - {p}\n"));
        }
    }
    if !r.warnings.is_empty() {
        out.push_str("\nWarnings (the data is whole and readable):\n");
        for w in &r.warnings {
            out.push_str(&format!("  - {}: {}\n", w.kind, w.detail));
        }
    }
    if !r.sound {
        out.push_str(&format!(
            "\n{}: UNSOUND (`lifeboat snapshot verify` names every check)\n",
            r.file
        ));
    }
    out
}
