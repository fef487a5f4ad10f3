//! `backup prune` and the agent's retention (docs/backup.md §9): what a store's listing and
//! a few checks allow [`super::select`] to remove, and the removal in an order that keeps the
//! store consistent for a reader at every moment.
//!
//! Nothing is removed unless the whole picture is known: a listing or a download that the
//! store refuses stops the plan ([`Plan::blocked`]). Objects that are not ours (foreign
//! names, another cluster) and ours that do not check out (corrupt) are reported and kept.

use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{Policy, select};
use crate::chain::Listing;
use crate::layout::{DeltaName, FullManifest, FullName, MAX_MANIFEST_BYTES};
use crate::remote::{Entry, RemoteError, Store};
use crate::segment::MAX_SEGMENT_BYTES;
use crate::time;

/// An object without a manifest this long after its upload is no upload in progress (a full
/// object is followed by its manifest within a second): it is what an interrupted prune left.
const UNFINISHED_GRACE_MS: i64 = 3_600_000;

pub struct Options<'a> {
    pub policy: Policy,
    /// A full the caller itself verified and uploaded (the agent): not downloaded again.
    pub verified: Option<FullName>,
    /// Where the newest full is downloaded to be verified (removed after).
    pub work_dir: &'a Path,
    pub identities: Option<&'a store::encrypted::Identities>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Full,
    Manifest,
    Delta,
    /// A full object without its manifest.
    Unfinished,
}

/// One object kept or to be deleted, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub kind: Kind,
    pub object: String,
    pub first_revision: i64,
    pub last_revision: i64,
    pub why: String,
}

/// An object reported and never deleted.
#[derive(Debug, Clone, Serialize)]
pub struct Untouched {
    pub object: String,
    pub problem: String,
}

/// The revisions restorable after the prune: every one from `from` to `to`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Window {
    pub from_revision: i64,
    pub to_revision: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub store: String,
    pub policy: Policy,
    /// The newest full that was verified (downloaded and checked, or just uploaded).
    pub newest_verified: Option<i64>,
    pub keep: Vec<Row>,
    /// In the order they are deleted (see [`execute`]).
    pub delete: Vec<Row>,
    pub foreign: Vec<Untouched>,
    pub corrupt: Vec<Untouched>,
    /// Why nothing may be deleted (a store error made the picture partial), when so.
    pub blocked: Option<String>,
    pub window: Option<Window>,
}

/// A check's answer: the object is fine, not ours / corrupt (kept), or unknown (the store
/// refused: the plan is blocked).
enum Verdict<T> {
    Ok(T),
    Bad(String),
    Unknown(String),
}

fn from_remote<T>(e: RemoteError) -> Verdict<T> {
    match e {
        RemoteError::TooLarge { .. } => Verdict::Bad(e.to_string()),
        _ => Verdict::Unknown(e.to_string()),
    }
}

async fn read_manifest(store: &Store, full: &FullName, entry: &Entry) -> Verdict<FullManifest> {
    let object = full.manifest_object(store.prefix());
    let bytes = match store.get(&object, MAX_MANIFEST_BYTES as u64).await {
        Ok(b) => b,
        Err(e) => return from_remote(e),
    };
    let m: FullManifest = match serde_json::from_slice(&bytes) {
        Ok(m) => m,
        Err(e) => return Verdict::Bad(format!("{object}: not a manifest: {e}")),
    };
    if m.revision != full.revision {
        return Verdict::Bad(format!(
            "{object} says revision {}, its name {}",
            m.revision, full.revision
        ));
    }
    if m.object_size != entry.size {
        return Verdict::Bad(format!(
            "{} is {} bytes, its manifest says {}",
            entry.object, entry.size, m.object_size
        ));
    }
    Verdict::Ok(m)
}

/// Downloads `full` into `work` and checks it as `backup verify` does.
async fn verify_full(
    store: &Store,
    full: &FullName,
    m: &FullManifest,
    work: &Path,
    ids: Option<&store::encrypted::Identities>,
) -> Verdict<String> {
    let object = full.object(store.prefix());
    let path = work.join(full.file_name());
    let mut digest = Sha256::new();
    let got = store
        .get_to_file(&object, &path, &mut |chunk| digest.update(chunk))
        .await
        .map(|size| (size, digest.finalize()));
    let verdict = match got {
        Err(e) => from_remote(e),
        Ok((size, sha)) if size != m.object_size || hex::encode(sha) != m.object_sha256 => {
            Verdict::Bad(format!(
                "{object}: {size} bytes with SHA-256 {}, its manifest says {} bytes with {}",
                hex::encode(sha),
                m.object_size,
                m.object_sha256
            ))
        }
        Ok(_) if full.encrypted && ids.is_none() => Verdict::Ok(
            "checksum matches its manifest (encrypted: contents not checked)".to_string(),
        ),
        Ok(_) => match store::report::verify_with(&path, ids) {
            Ok(r) => match r.failures() {
                None => Verdict::Ok("downloaded and verified sound".to_string()),
                Some(f) => Verdict::Bad(format!("{object}: {f}")),
            },
            Err(e) => Verdict::Bad(format!("{object}: {e}")),
        },
    };
    let _ = std::fs::remove_file(&path);
    verdict
}

fn blocked(mut plan: Plan, why: String) -> Plan {
    plan.keep.clear();
    plan.delete.clear();
    plan.window = None;
    plan.blocked = Some(format!(
        "{why}; nothing is deleted while the store's contents are only partly known: fix the store \
         (or its credentials) and run the prune again"
    ));
    plan
}

fn full_row(kind: Kind, object: String, f: &FullName, why: String) -> Row {
    Row {
        kind,
        object,
        first_revision: f.revision,
        last_revision: f.revision,
        why,
    }
}

fn delta_row(store: &Store, d: &DeltaName, why: String) -> Row {
    Row {
        kind: Kind::Delta,
        object: d.object(store.prefix()),
        first_revision: d.first_revision,
        last_revision: d.last_revision,
        why,
    }
}

/// The fulls with a manifest that checks out, newest first; the others go to `plan.corrupt`.
async fn readable_fulls(
    store: &Store,
    fulls: &[(FullName, Entry)],
    plan: &mut Plan,
) -> Result<Vec<(FullName, FullManifest)>, String> {
    let mut good = Vec::new();
    for (f, e) in fulls.iter().rev() {
        match read_manifest(store, f, e).await {
            Verdict::Ok(m) => good.push((f.clone(), m)),
            Verdict::Bad(problem) => plan.corrupt.push(Untouched {
                object: e.object.clone(),
                problem,
            }),
            Verdict::Unknown(e) => return Err(e),
        }
    }
    Ok(good)
}

/// The newest full that verifies (its cluster is the store's); fulls that fail are corrupt.
async fn newest_verified(
    store: &Store,
    good: &[(FullName, FullManifest)],
    opts: &Options<'_>,
    plan: &mut Plan,
) -> Result<Option<(FullName, String)>, String> {
    let work = tempfile::Builder::new()
        .prefix(".lifeboat-prune-")
        .tempdir_in(opts.work_dir)
        .map_err(|e| {
            format!(
                "cannot create a work directory in {} ({e}): pass --work-dir DIR with room for one full",
                opts.work_dir.display()
            )
        })?;
    for (f, m) in good {
        if opts.verified.as_ref() == Some(f) {
            return Ok(Some((f.clone(), m.cluster_id.clone())));
        }
        match verify_full(store, f, m, work.path(), opts.identities).await {
            Verdict::Ok(_) => return Ok(Some((f.clone(), m.cluster_id.clone()))),
            Verdict::Bad(problem) => plan.corrupt.push(Untouched {
                object: f.object(store.prefix()),
                problem,
            }),
            Verdict::Unknown(e) => return Err(e),
        }
    }
    Ok(None)
}

/// Downloads each segment selected for removal: only those that decode, name what they hold
/// and belong to `cluster` may go.
async fn check_segments(
    store: &Store,
    remove: &[DeltaName],
    cluster: &str,
    plan: &mut Plan,
) -> Result<Vec<DeltaName>, String> {
    let mut ok = Vec::new();
    for d in remove {
        let object = d.object(store.prefix());
        let bytes = match store.get(&object, MAX_SEGMENT_BYTES as u64).await {
            Ok(b) => b,
            Err(RemoteError::TooLarge { .. }) => {
                plan.corrupt.push(Untouched {
                    object,
                    problem: "over the segment size limit: not a segment of ours".to_string(),
                });
                continue;
            }
            Err(e) => return Err(e.to_string()),
        };
        match crate::check::decode_named(d, &object, &bytes) {
            Ok(seg) if store::hex_id(seg.header.cluster_id) == cluster => ok.push(*d),
            Ok(seg) => plan.foreign.push(Untouched {
                object,
                problem: format!(
                    "a segment of cluster {}, not {cluster}",
                    store::hex_id(seg.header.cluster_id)
                ),
            }),
            Err(problem) => plan.corrupt.push(Untouched { object, problem }),
        }
    }
    Ok(ok)
}

/// Lists the store, checks what it must, and decides; deletes nothing.
pub async fn plan(store: &Store, opts: &Options<'_>) -> Result<Plan, RemoteError> {
    let contents = store.contents().await?;
    let mut plan = Plan {
        store: store.url.clone(),
        policy: opts.policy,
        newest_verified: None,
        keep: Vec::new(),
        delete: Vec::new(),
        foreign: contents
            .foreign
            .iter()
            .map(|e| Untouched {
                object: e.object.clone(),
                problem: "not a backup object's name".to_string(),
            })
            .collect(),
        corrupt: contents
            .orphan_manifests
            .iter()
            .map(|(_, e)| Untouched {
                object: e.object.clone(),
                problem: "a manifest without its snapshot object (never used)".to_string(),
            })
            .collect(),
        blocked: None,
        window: None,
    };
    let good = match readable_fulls(store, &contents.fulls, &mut plan).await {
        Ok(g) => g,
        Err(e) => return Ok(blocked(plan, e)),
    };
    let (newest, cluster) = match newest_verified(store, &good, opts, &mut plan).await {
        Ok(Some(n)) => n,
        Ok(None) => {
            return Ok(blocked(
                plan,
                "no full in the store verifies (none, or all corrupt)".to_string(),
            ));
        }
        Err(e) => return Ok(blocked(plan, e)),
    };
    plan.newest_verified = Some(newest.revision);
    let mut ours = Vec::new();
    for (f, m) in &good {
        if m.cluster_id == cluster {
            ours.push(f.clone());
        } else {
            plan.foreign.push(Untouched {
                object: f.object(store.prefix()),
                problem: format!("a full of cluster {}, not {cluster}", m.cluster_id),
            });
        }
    }
    // Segments only: corrupt fulls were set aside above, and nothing here removes them.
    let deltas: Vec<DeltaName> = contents.deltas.iter().map(|(d, _)| *d).collect();
    let sel = select(&ours, &deltas, std::slice::from_ref(&newest), opts.policy);
    let removable = match check_segments(store, &sel.remove_segments, &cluster, &mut plan).await {
        Ok(r) => r,
        Err(e) => return Ok(blocked(plan, e)),
    };
    fill_rows(store, &mut plan, &sel, &removable, &contents.unfinished);
    Ok(plan)
}

fn fill_rows(
    store: &Store,
    plan: &mut Plan,
    sel: &super::Selection,
    removable: &[DeltaName],
    unfinished: &[(FullName, Entry)],
) {
    let prefix = store.prefix();
    let oldest_kept = sel.keep_fulls.iter().map(|f| f.revision).min();
    for (f, why) in sel.keep_fulls.iter().zip(&sel.why) {
        plan.keep
            .push(full_row(Kind::Full, f.object(prefix), f, why.join("; ")));
    }
    for d in &sel.keep_segments {
        let why = match oldest_kept {
            Some(r) => format!("after the oldest kept full (revision {r}): its chain needs it"),
            None => "no full is kept".to_string(),
        };
        plan.keep.push(delta_row(store, d, why));
    }
    // The deletion order; why it is safe: see `execute`.
    for f in &sel.remove_fulls {
        let why = "not kept by the policy".to_string();
        plan.delete
            .push(full_row(Kind::Manifest, f.manifest_object(prefix), f, why));
    }
    for f in &sel.remove_fulls {
        let why = "its manifest goes first".to_string();
        plan.delete
            .push(full_row(Kind::Full, f.object(prefix), f, why));
    }
    let now = time::now_ms();
    for (f, e) in unfinished {
        let old = now - e.uploaded_ms > UNFINISHED_GRACE_MS;
        let row = full_row(Kind::Unfinished, e.object.clone(), f, String::new());
        if old && oldest_kept.is_some_and(|r| f.revision < r) {
            plan.delete.push(Row {
                why: "no manifest for over an hour, older than every kept full".to_string(),
                ..row
            });
        } else {
            plan.keep.push(Row {
                why: "no manifest yet: an upload may be in progress".to_string(),
                ..row
            });
        }
    }
    for d in removable {
        let why = match oldest_kept {
            Some(r) => format!("ends at or before the oldest kept full (revision {r})"),
            None => "before every kept full".to_string(),
        };
        plan.delete.push(delta_row(store, d, why));
    }
    let kept_segments: Vec<DeltaName> = sel
        .keep_segments
        .iter()
        .chain(
            sel.remove_segments
                .iter()
                .filter(|d| !removable.contains(*d)),
        )
        .copied()
        .collect();
    let after = Listing {
        fulls: sel.keep_fulls.clone(),
        deltas: kept_segments,
    }
    .sorted();
    if let (Some(from), Ok(latest)) = (oldest_kept, after.plan_latest()) {
        plan.window = Some(Window {
            from_revision: from,
            to_revision: latest.target_revision,
        });
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    #[serde(flatten)]
    pub plan: Plan,
    pub dry_run: bool,
    pub deleted: Vec<String>,
    /// The delete that failed (the prune stops there; what is left is consistent).
    pub failed: Option<Untouched>,
}

/// Deletes what `plan` says, in its order, stopping at the first failure.
///
/// The order keeps the store consistent for a reader at every moment. A full counts only
/// while its manifest exists (a reader lists manifests and takes nothing without one), so:
/// 1. every removed full's manifest goes first: each full leaves the readers' view at once,
///    whole, while its object and segments are all still there;
/// 2. then the full objects (now unfinished uploads that no reader uses; an interruption here
///    leaves them for the next prune, which removes unfinished objects older than an hour);
/// 3. then the segments, oldest first: they end at or before the oldest kept full, so no full a
///    reader can still see needs them, and what stays of the delta log is never holed.
///
/// A reader that listed before step 1 and downloads afterwards gets a clear "not found", never
/// a wrong rebuild.
pub async fn execute(store: &Store, plan: Plan, dry_run: bool) -> Outcome {
    let mut out = Outcome {
        plan,
        dry_run,
        deleted: Vec::new(),
        failed: None,
    };
    if dry_run || out.plan.blocked.is_some() {
        return out;
    }
    for row in &out.plan.delete {
        match store.delete(&row.object).await {
            Ok(()) => out.deleted.push(row.object.clone()),
            Err(e) => {
                out.failed = Some(Untouched {
                    object: row.object.clone(),
                    problem: format!(
                        "{e}; the prune stopped there (the store stays consistent): run it again"
                    ),
                });
                break;
            }
        }
    }
    out
}
