//! `backup list` and `backup verify`: what a store holds, and whether every piece of it is
//! sound and the delta log unbroken.

use std::path::Path;

use serde::Serialize;

use crate::chain::{self, RevisionRange};
use crate::layout::{FullManifest, FullName, MAX_MANIFEST_BYTES};
use crate::remote::{Contents, Entry, RemoteError, Store};
use crate::segment::{self, MAX_SEGMENT_BYTES};
use crate::time;

#[derive(Debug, Clone, Serialize)]
pub struct FullRow {
    pub object: String,
    pub revision: i64,
    pub taken_at: String,
    pub size: u64,
    pub encrypted: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct SegmentRow {
    pub object: String,
    pub first_revision: i64,
    pub last_revision: i64,
    pub size: u64,
    pub uploaded_at: String,
}

/// Consecutive segments with no revision missing between them.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub first_revision: i64,
    pub last_revision: i64,
    pub segments: u64,
    pub first_uploaded_at: String,
    pub last_uploaded_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ListReport {
    pub store: String,
    pub fulls: Vec<FullRow>,
    /// Full snapshot objects without a manifest: unfinished uploads, never used.
    pub unfinished_fulls: Vec<String>,
    pub runs: Vec<Run>,
    pub segments: Vec<SegmentRow>,
    /// The newest revision `restore --latest` would rebuild, when it can.
    pub latest_restorable: Option<i64>,
    /// Why `--latest` cannot be rebuilt, when it cannot.
    pub latest_problem: Option<String>,
    pub problems: Vec<String>,
    pub unrestorable: Vec<RevisionRange>,
}

fn full_row(f: &FullName, e: &Entry) -> FullRow {
    FullRow {
        object: e.object.clone(),
        revision: f.revision,
        taken_at: time::rfc3339(f.taken_ms),
        size: e.size,
        encrypted: f.encrypted,
    }
}

fn runs(contents: &Contents) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    for (d, e) in &contents.deltas {
        let at = time::rfc3339(e.uploaded_ms);
        match runs.last_mut() {
            Some(r) if d.first_revision == r.last_revision + 1 => {
                r.last_revision = d.last_revision;
                r.segments += 1;
                r.last_uploaded_at = at;
            }
            _ => runs.push(Run {
                first_revision: d.first_revision,
                last_revision: d.last_revision,
                segments: 1,
                first_uploaded_at: at.clone(),
                last_uploaded_at: at,
            }),
        }
    }
    runs
}

pub async fn list(store: &Store) -> Result<ListReport, RemoteError> {
    let contents = store.contents().await?;
    let listing = contents.listing();
    let report = listing.check();
    let latest = listing.plan_latest();
    Ok(ListReport {
        store: store.url.clone(),
        fulls: contents.fulls.iter().map(|(f, e)| full_row(f, e)).collect(),
        unfinished_fulls: contents
            .unfinished
            .iter()
            .map(|(_, e)| e.object.clone())
            .collect(),
        runs: runs(&contents),
        segments: contents
            .deltas
            .iter()
            .map(|(d, e)| SegmentRow {
                object: e.object.clone(),
                first_revision: d.first_revision,
                last_revision: d.last_revision,
                size: e.size,
                uploaded_at: time::rfc3339(e.uploaded_ms),
            })
            .collect(),
        latest_restorable: latest.as_ref().ok().map(|p| p.target_revision),
        latest_problem: latest.err().map(|e| e.to_string()),
        problems: report.problems,
        unrestorable: report.unrestorable,
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct FullCheck {
    pub object: String,
    pub revision: i64,
    pub ok: bool,
    /// False for an encrypted full verified without `--identity`: only its checksum was.
    pub contents_checked: bool,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub store: String,
    pub sound: bool,
    pub fulls: Vec<FullCheck>,
    pub segments_checked: u64,
    pub events_checked: u64,
    pub problems: Vec<String>,
    pub unrestorable: Vec<RevisionRange>,
}

/// The manifest of `full`, parsed and matched against the name.
pub async fn manifest(store: &Store, full: &FullName) -> Result<FullManifest, String> {
    let object = full.manifest_object(store.prefix());
    let bytes = store
        .get(&object, MAX_MANIFEST_BYTES as u64)
        .await
        .map_err(|e| e.to_string())?;
    let m: FullManifest =
        serde_json::from_slice(&bytes).map_err(|e| format!("{object}: not a manifest: {e}"))?;
    if m.revision != full.revision {
        return Err(format!(
            "{object} says revision {}, its name {}",
            m.revision, full.revision
        ));
    }
    Ok(m)
}

/// Downloads a full into `path` and checks it against its manifest (and, when plain, its
/// image against etcd's trailer) in one pass.
pub async fn fetch_full(
    store: &Store,
    full: &FullName,
    manifest: &FullManifest,
    path: &Path,
) -> Result<crate::restore_full::Image, String> {
    crate::restore_full::fetch_full(store, full, manifest, path).await
}

async fn check_full(
    store: &Store,
    full: &FullName,
    work: &Path,
    ids: Option<&store::encrypted::Identities>,
) -> FullCheck {
    let object = full.object(store.prefix());
    let mut check = FullCheck {
        object: object.clone(),
        revision: full.revision,
        ok: false,
        contents_checked: false,
        detail: String::new(),
    };
    let result = async {
        let m = manifest(store, full).await?;
        let path = work.join(full.file_name());
        let image = fetch_full(store, full, &m, &path).await?;
        if full.encrypted && ids.is_none() {
            let _ = std::fs::remove_file(&path);
            return Ok((
                false,
                "checksum matches the manifest; contents not checked (encrypted: pass --identity)"
                    .to_string(),
            ));
        }
        // A trailer already checked while fetching is not hashed again; the rest is walked.
        let hash = match image {
            crate::restore_full::Image::Checked => store::report::Hash::Skip,
            crate::restore_full::Image::Unchecked => store::report::Hash::Check,
        };
        let report = store::snapshot::SnapshotFile::open_with(&path, ids)
            .and_then(|snap| store::report::verify_file(&snap, hash));
        let _ = std::fs::remove_file(&path);
        let report = report.map_err(|e| e.to_string())?;
        if let Some(failed) = report.failures() {
            return Err(failed);
        }
        Ok((
            true,
            "checksum matches the manifest; snapshot verify: sound".to_string(),
        ))
    }
    .await;
    match result {
        Ok((contents, detail)) => {
            check.ok = true;
            check.contents_checked = contents;
            check.detail = detail;
        }
        Err(e) => check.detail = e,
    }
    check
}

/// Downloads and decodes one segment, checking its name against its header.
pub async fn fetch_segment(
    store: &Store,
    name: &crate::layout::DeltaName,
) -> Result<segment::Segment, String> {
    let object = name.object(store.prefix());
    let bytes = store
        .get(&object, MAX_SEGMENT_BYTES as u64)
        .await
        .map_err(|e| e.to_string())?;
    decode_named(name, &object, &bytes)
}

/// Decodes a downloaded segment and checks its header against its object name.
pub fn decode_named(
    name: &crate::layout::DeltaName,
    object: &str,
    bytes: &[u8],
) -> Result<segment::Segment, String> {
    let seg = segment::decode(bytes).map_err(|e| format!("{object}: {e}"))?;
    if seg.header.first_revision != name.first_revision
        || seg.header.last_revision != name.last_revision
    {
        return Err(format!(
            "{object}: its header covers revisions {}..={}, not what its name says",
            seg.header.first_revision, seg.header.last_revision
        ));
    }
    Ok(seg)
}

/// Checks every full and every segment of the store, and the chain between them. Fulls are
/// downloaded one at a time into a work directory made under `work_parent`, removed after.
pub async fn verify(
    store: &Store,
    work_parent: &Path,
    ids: Option<&store::encrypted::Identities>,
) -> Result<VerifyReport, RemoteError> {
    let work_dir = tempfile::Builder::new()
        .prefix(".lifeboat-verify-")
        .tempdir_in(work_parent)
        .map_err(|e| RemoteError::Local {
            path: work_parent.to_path_buf(),
            what: format!(
                "cannot create a work directory ({e}); pass --work-dir DIR with room for the largest full"
            ),
        })?;
    let work = work_dir.path();
    let contents = store.contents().await?;
    let listing = contents.listing();
    let chain_report = listing.check();
    let mut problems = chain_report.problems;
    let mut fulls = Vec::new();
    let mut clusters = std::collections::BTreeSet::new();
    for (full, _) in &contents.fulls {
        fulls.push(check_full(store, full, work, ids).await);
        if let Ok(m) = manifest(store, full).await {
            clusters.insert(m.cluster_id);
        }
    }
    let (mut segments_checked, mut events_checked) = (0u64, 0u64);
    let mut prev: Option<i64> = None;
    for (name, _) in &contents.deltas {
        match fetch_segment(store, name).await {
            Ok(seg) => {
                segments_checked += 1;
                events_checked += seg.events.len() as u64;
                clusters.insert(store::hex_id(seg.header.cluster_id));
                if let Some(p) = prev
                    && name.first_revision == p + 1
                    && seg.header.prev_last_revision != p
                {
                    problems.push(format!(
                        "{}: its header says the previous segment ended at {}, the store's ends at {p}",
                        name.file_name(),
                        seg.header.prev_last_revision
                    ));
                }
            }
            Err(e) => problems.push(e),
        }
        prev = Some(name.last_revision);
    }
    if clusters.len() > 1 {
        problems.push(format!(
            "the store holds backups of {} clusters ({}): one store (or prefix) per cluster",
            clusters.len(),
            clusters.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    if contents.fulls.is_empty() {
        problems.push(chain::ChainError::NoFulls.to_string());
    }
    problems.extend(
        fulls
            .iter()
            .filter(|f| !f.ok)
            .map(|f| format!("{}: {}", f.object, f.detail)),
    );
    Ok(VerifyReport {
        store: store.url.clone(),
        sound: problems.is_empty(),
        fulls,
        segments_checked,
        events_checked,
        problems,
        unrestorable: chain_report.unrestorable,
    })
}
