//! `snapshot save`: one member's backend, streamed, proven sound, then named.
//!
//! The stream lands in `FILE.<pid>-<random>.part` (mode 0600; see `part`). etcd appends the
//! SHA-256 of what it sent; the file gets its final name only after that trailer, the bbolt
//! structure and the etcd schema check out, and after fsync. An interrupted save leaves only
//! its part, which the next save into the same place removes once its process is gone. An
//! existing FILE is never overwritten: it is refused, or moved aside with `force`, its
//! manifest with it.

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::encrypt::{Encryption, Sink};
use super::prove::{Checker, prove};
use super::retain::{managed_name, prune};
use crate::client::connect;
use crate::files::{move_aside, sync_parent, with_suffix, write_atomic};
use crate::ids::hex_id;
use crate::settings::{ConnectionSettings, Endpoint, ValidatedTls};
use crate::status::{DiagnoseOptions, diagnose, gather};
use crate::{OpsError, utc};

pub enum SaveTarget {
    /// Exactly this file.
    File(PathBuf),
    /// A managed name in this directory; keep the newest `retain` of this cluster's backups.
    Dir { dir: PathBuf, retain: Option<usize> },
}

pub struct SaveRequest<'a> {
    pub settings: &'a ConnectionSettings,
    pub tls: Option<&'a ValidatedTls>,
    /// A member name or client URL; default the leader.
    pub from: Option<String>,
    pub target: SaveTarget,
    pub force: bool,
    /// Abort when no byte arrives for this long.
    pub stall_timeout: Duration,
}

/// What `FILE.json` says about FILE; `revision`, `hash` and the key counts are the numbers
/// `snapshot inspect` (and `etcdctl snapshot status`) report for the same file.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    pub file: String,
    pub size: u64,
    pub sha256: String,
    pub revision: i64,
    pub hash: u32,
    #[serde(rename = "totalKey")]
    pub total_key: u64,
    #[serde(rename = "totalSize")]
    pub total_size: u64,
    pub live_keys: u64,
    pub source_member_id: String,
    pub source_member_name: String,
    pub source_endpoint: String,
    pub cluster_id: String,
    pub etcd_version: String,
    pub saved_at: String,
    pub lifeboat_version: String,
    /// age recipients the file is encrypted to (`--encrypt-to`); `size` and `sha256` are of
    /// the plaintext snapshot inside.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub encrypted_to: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SaveOutcome {
    pub path: PathBuf,
    pub manifest_path: PathBuf,
    pub manifest: Manifest,
    /// Where an existing file of the same name went (`--force`).
    pub moved_aside: Option<PathBuf>,
    /// `.part` files left by interrupted earlier saves (their process is gone), removed.
    pub removed_stale_parts: Vec<PathBuf>,
    /// Where the manifest of the file moved aside went (`--force`).
    pub moved_aside_manifest: Option<PathBuf>,
    /// Managed backups removed by retention.
    pub pruned: Vec<PathBuf>,
}

struct Source {
    endpoint: Endpoint,
    member_id: u64,
    member_name: String,
    cluster_id: u64,
    version: String,
}

/// How often the save asks the kernel to start writing back (see `Sink::start_writeback`).
const WRITEBACK_EVERY: u64 = 64 << 20;

/// Streams a snapshot; `progress(written, expected_total)` is called after every chunk.
pub async fn save(
    req: SaveRequest<'_>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<SaveOutcome, OpsError> {
    save_with(req, None, progress).await
}

/// [`save`], encrypted to `encryption`'s recipients when given: the file is named `FILE.age`
/// (managed names end in `.db.age`) and only ciphertext is ever written.
pub async fn save_with(
    req: SaveRequest<'_>,
    encryption: Option<&Encryption>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<SaveOutcome, OpsError> {
    let source = pick_source(&req).await?;
    let age_suffix = |p: &Path| {
        if encryption.is_some() && p.extension().is_none_or(|e| e != "age") {
            with_suffix(p, ".age")
        } else {
            p.to_path_buf()
        }
    };
    let (dir, final_path) = match &req.target {
        SaveTarget::File(p) => (
            p.parent().map(Path::to_path_buf).unwrap_or_default(),
            Some(age_suffix(p)),
        ),
        SaveTarget::Dir { dir, .. } => (dir.clone(), None),
    };
    if let Some(p) = &final_path
        && p.exists()
        && !req.force
    {
        return Err(OpsError::Config(format!(
            "{} exists; lifeboat never overwrites a backup. Pick another name, or pass \
                 --force to move the old one aside",
            p.display()
        )));
    }
    let dir = if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    };
    std::fs::create_dir_all(&dir).map_err(|source| OpsError::LocalIo {
        path: dir.clone(),
        source,
    })?;
    // The final name, or for --dir a stand-in per cluster (the final name needs the
    // revision, known only at the end): parts are named after it, per process.
    let stem = match &final_path {
        Some(p) => p.clone(),
        None => dir.join(format!(
            "etcd-{}-incoming.db{}",
            hex_id(source.cluster_id),
            if encryption.is_some() { ".age" } else { "" }
        )),
    };
    let removed_stale_parts = super::part::remove_stale(&stem)?;
    let part = super::part::part_name(&stem);

    let written = stream_to(&req, &source, &part, encryption, progress).await;
    let (size, file, streamed, read_back) = match written {
        Ok(done) => done,
        Err(e) => {
            return Err(OpsError::Endpoint {
                endpoint: source.endpoint.to_string(),
                message: format!(
                    "snapshot stream failed: {e}; the partial file {} is left for inspection and \
                     removed by the next save into the same place",
                    part.display()
                ),
            });
        }
    };

    // Proof before naming: trailer, structure, schema, mostly done while the bytes
    // arrived. The fsync runs beside the rest (both only need what is already in the page
    // cache); the file is named only once both are done.
    let check_key = encryption.map(Encryption::check_identities);
    let syncing = std::thread::spawn(move || file.sync_all());
    let report = prove(&part, streamed, read_back, check_key.as_ref());
    let synced = syncing
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("the fsync thread failed")));
    synced.map_err(|source| OpsError::LocalIo {
        path: part.clone(),
        source,
    })?;
    let report = report?;
    let sha256 = report.sha256.clone();

    let (final_path, moved_aside, moved_aside_manifest) = match final_path {
        // --dir: a managed name of our own, never another save's (two saves in one second
        // at one revision would share one).
        None => {
            let cluster = hex_id(source.cluster_id);
            let claimed = claim_managed_name(&part, report.revision, |stamp| {
                age_suffix(&dir.join(managed_name(&cluster, stamp, report.revision)))
            })?;
            (claimed, None, None)
        }
        Some(final_path) => {
            let (moved, manifest) = move_old_aside(&final_path, &part)?;
            std::fs::rename(&part, &final_path).map_err(|e| OpsError::LocalIo {
                path: final_path.clone(),
                source: e,
            })?;
            (final_path, moved, manifest)
        }
    };
    let manifest_path = with_suffix(&final_path, ".json");
    sync_parent(&final_path)?;

    let manifest = Manifest {
        file: final_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        size,
        sha256,
        revision: report.revision,
        hash: report.hash,
        total_key: report.total_key,
        total_size: report.total_size,
        live_keys: report.live_keys,
        source_member_id: hex_id(source.member_id),
        source_member_name: source.member_name,
        source_endpoint: source.endpoint.to_string(),
        cluster_id: hex_id(source.cluster_id),
        etcd_version: source.version,
        saved_at: utc::rfc3339_now(),
        lifeboat_version: env!("CARGO_PKG_VERSION").to_string(),
        encrypted_to: encryption.map(|e| e.names.clone()).unwrap_or_default(),
    };
    let json = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| OpsError::Local(format!("encoding the manifest: {e}")))?;
    write_atomic(&manifest_path, &json, 0o600)?;

    let pruned = match &req.target {
        SaveTarget::Dir {
            retain: Some(keep), ..
        } => prune(&dir, &hex_id(source.cluster_id), (*keep).max(1))?,
        _ => Vec::new(),
    };
    Ok(SaveOutcome {
        path: final_path,
        manifest_path,
        manifest,
        moved_aside,
        removed_stale_parts,
        moved_aside_manifest,
        pruned,
    })
}

/// `--force`: an existing FILE moved aside, and its manifest with it: left here, the new
/// manifest would overwrite it and the moved file would lose what vouches for it.
fn move_old_aside(
    final_path: &Path,
    part: &Path,
) -> Result<(Option<PathBuf>, Option<PathBuf>), OpsError> {
    if !final_path.exists() {
        return Ok((None, None));
    }
    let manifest_path = with_suffix(final_path, ".json");
    let moved = move_aside(final_path)?;
    let manifest = manifest_path
        .exists()
        .then(|| move_manifest(&manifest_path, &moved))
        .transpose()
        .map_err(|e| {
            OpsError::Local(format!(
                "{e}; the old file is now {}, the new snapshot is kept as {}",
                moved.display(),
                part.display()
            ))
        })?;
    Ok((Some(moved), manifest))
}

/// Names `part` by the first free managed name from now on, a second later each time one is
/// taken: the link fails on an existing name, where a rename would replace another save's file.
fn claim_managed_name(
    part: &Path,
    revision: i64,
    name_at: impl Fn(&str) -> PathBuf,
) -> Result<PathBuf, OpsError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    for later in 0..60 {
        let path = name_at(&utc::compact(now + later));
        match std::fs::hard_link(part, &path) {
            Ok(()) => {
                std::fs::remove_file(part).map_err(|source| OpsError::LocalIo {
                    path: part.to_path_buf(),
                    source,
                })?;
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            // A filesystem without hard links: a rename after one more look.
            Err(_) if !path.exists() => {
                std::fs::rename(part, &path).map_err(|source| OpsError::LocalIo {
                    path: path.clone(),
                    source,
                })?;
                return Ok(path);
            }
            Err(_) => continue,
        }
    }
    Err(OpsError::Local(format!(
        "no free backup name for revision {revision} within a minute of now; the snapshot is \
         kept as {}",
        part.display()
    )))
}

/// `FILE.json` to `MOVED.json`, beside the file moved aside (never over an existing file).
fn move_manifest(manifest: &Path, moved: &Path) -> Result<PathBuf, OpsError> {
    let to = with_suffix(moved, ".json");
    if to.exists() {
        return Err(OpsError::Config(format!(
            "{} exists, so the manifest {} cannot follow its file",
            to.display(),
            manifest.display()
        )));
    }
    std::fs::rename(manifest, &to).map_err(|source| OpsError::LocalIo {
        path: manifest.to_path_buf(),
        source,
    })?;
    sync_parent(&to)?;
    Ok(to)
}

async fn pick_source(req: &SaveRequest<'_>) -> Result<Source, OpsError> {
    let obs = gather(req.settings, req.tls, false).await;
    let status = diagnose(&obs, &DiagnoseOptions::default());
    let wanted = match &req.from {
        Some(from) => {
            let by_name = status
                .members
                .iter()
                .find(|m| &m.name == from || &m.id == from)
                .map(|m| m.id.clone());
            status.endpoints.iter().find(|e| {
                e.reachable
                    && (e.endpoint.trim_end_matches('/') == from.trim_end_matches('/')
                        || (by_name.is_some() && e.member_id == by_name))
            })
        }
        // The diagnosed leader, not any member's own claim: an ex-leader cut off from the
        // majority still says it leads, and may lack writes the new majority acknowledged.
        None => status.quorum.leader_id.as_ref().and_then(|leader| {
            status
                .endpoints
                .iter()
                .find(|e| e.reachable && e.member_id.as_ref() == Some(leader))
        }),
    };
    let Some(row) = wanted else {
        let reason = match &req.from {
            Some(from) => format!("no reachable member named or listening at '{from}'"),
            None => "no reachable leader; pick a member with --from NAME|URL (a member without \
                     quorum may lack the last acknowledged writes)"
                .to_string(),
        };
        return Err(OpsError::Config(format!(
            "cannot choose a member to save from: {reason}"
        )));
    };
    let id = row
        .member_id
        .as_deref()
        .and_then(crate::ids::parse_hex_id)
        .unwrap_or(0);
    Ok(Source {
        endpoint: Endpoint::parse(&row.endpoint)?,
        member_id: id,
        member_name: status
            .members
            .iter()
            .find(|m| row.member_id.as_deref() == Some(m.id.as_str()))
            .map(|m| m.name.clone())
            .unwrap_or_default(),
        cluster_id: row
            .cluster_id
            .as_deref()
            .and_then(crate::ids::parse_hex_id)
            .unwrap_or(0),
        version: row.version.clone().unwrap_or_default(),
    })
}

/// Bytes written, the file, the in-stream proof, and (encrypting) the read-back.
type Streamed = (
    u64,
    std::fs::File,
    Option<store::stream::StreamProof>,
    Option<std::io::Result<super::readback::ReadBack>>,
);

async fn stream_to(
    req: &SaveRequest<'_>,
    source: &Source,
    part: &Path,
    encryption: Option<&Encryption>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Streamed, String> {
    let mut client = connect(&source.endpoint, req.tls, req.settings)
        .await
        .map_err(|e| e.to_string())?
        .client;
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(part)
        .map_err(|e| format!("cannot create {}: {e}", part.display()))?;
    let mut out = Sink::new(file, encryption)
        .map_err(|e| format!("cannot start encrypting {}: {e}", part.display()))?;
    let start = tokio::time::timeout(req.settings.command_timeout, client.snapshot());
    let mut stream = match start.await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(crate::client::explain(&e, &req.settings.tls)),
        Err(_) => return Err("the member did not start sending within the command timeout".into()),
    };
    let mut written: u64 = 0;
    let mut checker = Checker::start();
    loop {
        // etcd-client's request timeout does not cover a streaming body: a member that stops
        // sending would hang the save forever without this.
        let next = tokio::time::timeout(req.stall_timeout, stream.message()).await;
        match next {
            Err(_) => {
                return Err(format!(
                    "no data for {:?} after {written} bytes (--stall-timeout)",
                    req.stall_timeout
                ));
            }
            Ok(Err(e)) => return Err(crate::client::explain(&e, &req.settings.tls)),
            Ok(Ok(None)) => break,
            Ok(Ok(Some(mut msg))) => {
                // Taken, not copied: after the write the same buffer goes to the checker.
                let blob = std::mem::take(&mut msg.0.blob);
                out.write_all(&blob)
                    .map_err(|e| format!("writing {}: {e}", part.display()))?;
                written += blob.len() as u64;
                if written % WRITEBACK_EVERY < blob.len() as u64 {
                    out.start_writeback();
                }
                progress(written, written + msg.remaining_bytes());
                checker.push(blob).await;
            }
        }
    }
    let (file, read_back) = out
        .finish()
        .map_err(|e| format!("writing {}: {e}", part.display()))?;
    Ok((written, file, checker.done(), read_back))
}
