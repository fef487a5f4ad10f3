//! `lifeboat snapshot diff A B` and `snapshot diff A --live`: the restore question. Objects
//! only in B would be lost by restoring A; objects only in A would come back; changed ones
//! would revert. Per resource, with the newest revision on each side. Values are compared by
//! digest, never printed. Exit 0 when the keyspaces are equal, 1 when they differ, 3 when a
//! file is unsound (what `snapshot verify` checks): restore would refuse it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;
use serde::Serialize;
use store::diff::{ChangeKind, KeyChange};
use store::objects::KeyDigest;

use crate::context::Context;
use crate::exit::Exit;
use crate::output::{self, Format};

#[derive(Debug, Clone, Args)]
pub struct DiffArgs {
    /// The snapshot you might restore (A)
    pub a: PathBuf,
    /// The snapshot to compare with (B); or --live
    #[arg(required_unless_present = "live", conflicts_with = "live")]
    pub b: Option<PathBuf>,
    /// Compare with the live cluster instead of a second file
    #[arg(long)]
    pub live: bool,
    /// Only keys under this prefix (default: every key)
    #[arg(long, default_value = "")]
    pub prefix: String,
    /// age identity file for encrypted snapshots
    #[arg(long, value_name = "FILE")]
    pub identity: Option<PathBuf>,
    /// How many changed keys the table lists (JSON lists all)
    #[arg(long, default_value_t = 40)]
    pub limit: usize,
}

#[derive(Serialize)]
struct SideInfo {
    source: String,
    keys: usize,
    /// The newest mod_revision among the live keys compared.
    newest_revision: i64,
}

#[derive(Serialize, Default)]
struct ResourceDiff {
    resource: String,
    added: u64,
    removed: u64,
    changed: u64,
    newest_a: i64,
    newest_b: i64,
}

#[derive(Serialize)]
struct Report {
    a: SideInfo,
    b: SideInfo,
    added: usize,
    removed: usize,
    changed: usize,
    resources: Vec<ResourceDiff>,
    changes: Vec<KeyChange>,
}

fn side(source: String, d: &BTreeMap<Vec<u8>, KeyDigest>) -> SideInfo {
    SideInfo {
        source,
        keys: d.len(),
        newest_revision: d.values().map(|k| k.mod_revision).max().unwrap_or(0),
    }
}

fn read_file(
    path: &std::path::Path,
    args: &DiffArgs,
) -> anyhow::Result<BTreeMap<Vec<u8>, KeyDigest>> {
    super::require_file(path)?;
    let ids = super::identities(args.identity.as_deref())?;
    let snap = store::snapshot::SnapshotFile::open_with(path, ids.as_ref())?;
    // What a restore would change is no answer for a file restore refuses, and a damaged
    // file's keys say nothing sure about the cluster it came from.
    let report = store::report::verify_file(&snap, store::report::Hash::Check)?;
    if let Some(failed) = report.failures() {
        anyhow::bail!(
            "{} is unsound ({}): `snapshot restore` refuses it, so there is nothing to compare; \
             diff a sound snapshot",
            path.display(),
            failed
        );
    }
    Ok(store::objects::digests(
        &snap.db()?,
        args.prefix.as_bytes(),
    )?)
}

type Digests = BTreeMap<Vec<u8>, KeyDigest>;

fn read_b(ctx: &Context, args: &DiffArgs) -> anyhow::Result<(Digests, String)> {
    match &args.b {
        Some(path) => Ok((
            read_file(path, args)?,
            format!("snapshot {}", path.display()),
        )),
        None => {
            let settings = ctx.connection.resolve()?;
            let tls = settings.validate()?;
            let rt = crate::runtime::runtime()?;
            let client = rt.block_on(ops::kube::connect_any(&settings, tls.as_ref()))?;
            let (d, _) = rt.block_on(ops::kube::digests(&client, args.prefix.as_bytes()))?;
            Ok((d, format!("etcd {}", client.endpoint)))
        }
    }
}

/// Resource labels by key prefix: resolving a prefix walks the resource table, and a diff asks
/// once per key on both sides (a million times for two 1 GiB snapshots).
#[derive(Default)]
struct Labels(std::collections::HashMap<String, String>);

impl Labels {
    fn of(&mut self, key: &[u8]) -> String {
        let Some(p) = store::k8s::parse_key(key) else {
            return "(not a Kubernetes object)".into();
        };
        self.0
            .entry(p.resource.to_owned())
            .or_insert_with(|| registry::resource::for_prefix(p.resource).api_group_label())
            .clone()
    }
}

pub fn run(ctx: &Context, args: &DiffArgs) -> anyhow::Result<Exit> {
    // The two sides are read at the same time, one per core.
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| read_file(&args.a, args));
        let b = read_b(ctx, args);
        let a = a
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("reading {} failed", args.a.display())));
        (a, b)
    });
    let (a, (b, b_source)) = (a?, b?);
    let mut labels = Labels::default();
    let changes = store::diff::diff(&a, &b);
    let mut per: BTreeMap<String, ResourceDiff> = BTreeMap::new();
    for c in &changes {
        let r = labels.of(c.key.as_bytes());
        let row = per.entry(r.clone()).or_insert_with(|| ResourceDiff {
            resource: r,
            ..ResourceDiff::default()
        });
        match c.change {
            ChangeKind::Added => row.added += 1,
            ChangeKind::Removed => row.removed += 1,
            ChangeKind::Changed => row.changed += 1,
        }
    }
    // Newest revision per side and resource, over every key of the resource (not only changes).
    for (map, is_a) in [(&a, true), (&b, false)] {
        for (k, d) in map.iter() {
            let r = labels.of(k);
            if let Some(row) = per.get_mut(&r) {
                let slot = if is_a {
                    &mut row.newest_a
                } else {
                    &mut row.newest_b
                };
                *slot = (*slot).max(d.mod_revision);
            }
        }
    }
    let count = |k: ChangeKind| changes.iter().filter(|c| c.change == k).count();
    let report = Report {
        a: side(format!("snapshot {}", args.a.display()), &a),
        b: side(b_source, &b),
        added: count(ChangeKind::Added),
        removed: count(ChangeKind::Removed),
        changed: count(ChangeKind::Changed),
        resources: per.into_values().collect(),
        changes,
    };
    match ctx.format {
        Format::Json => output::print_json(&report),
        Format::Table => output::print(&render(&report, args.limit)),
    }
    Ok(if report.changes.is_empty() {
        Exit::Ok
    } else {
        Exit::Warning
    })
}

fn render(r: &Report, limit: usize) -> String {
    let mut s = format!(
        "A: {} ({} keys, newest revision {})\nB: {} ({} keys, newest revision {})\n",
        r.a.source, r.a.keys, r.a.newest_revision, r.b.source, r.b.keys, r.b.newest_revision
    );
    if r.changes.is_empty() {
        s.push_str("No differences: restoring A would change nothing.\n");
        return s;
    }
    let mut t = output::table(&[
        "RESOURCE",
        "ONLY IN A (comes back)",
        "ONLY IN B (lost)",
        "CHANGED (reverts)",
        "NEWEST A",
        "NEWEST B",
    ]);
    for row in &r.resources {
        t.add_row(vec![
            row.resource.clone(),
            row.removed.to_string(),
            row.added.to_string(),
            row.changed.to_string(),
            row.newest_a.to_string(),
            row.newest_b.to_string(),
        ]);
    }
    s.push_str(&format!("{t}\n"));
    let mut keys = output::table(&["CHANGE", "KEY", "REV A", "REV B"]);
    for c in r.changes.iter().take(limit) {
        let what = match c.change {
            ChangeKind::Added => "only in B",
            ChangeKind::Removed => "only in A",
            ChangeKind::Changed => "changed",
        };
        let rev = |x: &Option<store::diff::Side>| {
            x.as_ref()
                .map_or("-".into(), |s| s.mod_revision.to_string())
        };
        keys.add_row(vec![what.to_string(), c.key.clone(), rev(&c.a), rev(&c.b)]);
    }
    s.push_str(&format!("{keys}\n"));
    if r.changes.len() > limit {
        s.push_str(&format!(
            "... and {} more (-o json lists all, --limit N shows more)\n",
            r.changes.len() - limit
        ));
    }
    s.push_str(&format!(
        "Restoring A would bring back {} object(s), lose {} and revert {}.\n",
        r.removed, r.added, r.changed
    ));
    s
}
