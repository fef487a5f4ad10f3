//! The two snapshot reports behind `snapshot verify` and `snapshot inspect`. When the image
//! is hashed (always for verify, on request for inspect), one thread hashes while another
//! walks the tree, so the whole job takes about as long as the slower of the two.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

use crate::analyze::{self, Analysis, KubeView};
use crate::error::{Error, Result};
use crate::schema::{self, EtcdMeta, Member};
use crate::snapshot::{ShaStatus, SnapshotFile};

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub file: String,
    pub sound: bool,
    pub sha256: Option<ShaStatus>,
    pub checks: Vec<Check>,
    /// Findings that leave the data whole and readable (a stale or unreadable freelist, meta
    /// twins that do not pair, pages past the high-water mark): they do not make the file
    /// unsound, but each says what starting etcd on the file as it is would do.
    pub warnings: Vec<analyze::Finding>,
}

impl VerifyReport {
    /// The failed checks as one line (`name: detail; ...`), or `None` when the file is sound:
    /// what every caller that refuses an unsound file names in its message.
    pub fn failures(&self) -> Option<String> {
        if self.sound {
            return None;
        }
        let failed: Vec<String> = self
            .checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| format!("{}: {}", c.name, c.detail))
            .collect();
        Some(failed.join("; "))
    }
}

/// Whether the image is hashed: `restore --skip-hash-check` skips it (a raw db copy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    Check,
    Skip,
}

/// Run the SHA-256 (when `hash`) and the tree walk side by side. Without the hash, which
/// read the file front to back, the kernel is asked to do that reading instead.
fn both(
    snap: &SnapshotFile,
    db: &bolt::Db,
    walk: fn(&bolt::Db) -> Analysis,
    hash: bool,
) -> (
    Option<Result<ShaStatus>>,
    Analysis,
    Result<EtcdMeta, bolt::Error>,
) {
    let walked = AtomicBool::new(false);
    std::thread::scope(|s| {
        let sha = hash.then(|| s.spawn(|| snap.sha_status()));
        if !hash {
            s.spawn(|| snap.prefetch(&walked));
        }
        let analysis = walk(db);
        walked.store(true, Ordering::Relaxed);
        let meta = EtcdMeta::read(db);
        let sha = sha.map(|t| {
            t.join().unwrap_or_else(|_| {
                Err(Error::Schema {
                    path: snap.path.clone(),
                    what: "SHA-256 thread failed".into(),
                })
            })
        });
        (sha, analysis, meta)
    })
}

fn summary(items: &[String], total: u64) -> String {
    let mut s = items.join("; ");
    if total > items.len() as u64 {
        s.push_str(&format!(" (and {} more)", total - items.len() as u64));
    }
    s
}

/// SHA-256 trailer, exact length, manifest, structural check and schema sanity. `Err` only
/// when the file cannot be read at all; an unsound file is an `Ok` report with `sound == false`.
pub fn verify(path: &Path) -> Result<VerifyReport> {
    verify_with(path, None)
}

/// [`verify`] of a plain or (with `identities`) age-encrypted file.
pub fn verify_with(
    path: &Path,
    identities: Option<&crate::encrypted::Identities>,
) -> Result<VerifyReport> {
    let snap = SnapshotFile::open_with(path, identities)?;
    verify_file(&snap, Hash::Check)
}

/// The content's SHA-256 as hex, when it was computed.
fn computed_sha(sha: &ShaStatus) -> Option<&str> {
    match sha {
        ShaStatus::Ok { sha256 } => Some(sha256),
        ShaStatus::Absent { sha256 } => sha256.as_deref(),
        ShaStatus::Mismatch { actual, .. } => Some(actual),
        ShaStatus::Unchecked { .. } | ShaStatus::NotChecked { .. } => None,
    }
}

/// The `manifest` check, when `FILE.json` is beside the file.
fn manifest_check(snap: &SnapshotFile, sha: Option<&ShaStatus>) -> Option<Check> {
    let found = snap.manifest()?;
    let problems = match found {
        Ok(m) => snap.manifest_problems(&m, sha.and_then(computed_sha)),
        Err(e) => vec![e],
    };
    Some(Check {
        name: "manifest".into(),
        ok: problems.is_empty(),
        detail: if problems.is_empty() {
            format!("{}.json agrees (size, SHA-256)", snap.path.display())
        } else {
            format!(
                "{}; if the file was changed on purpose, move the manifest away",
                problems.join("; ")
            )
        },
    })
}

fn length_check(problem: Option<&String>, snap: &SnapshotFile) -> Check {
    Check {
        name: "length".into(),
        ok: problem.is_none(),
        detail: match problem {
            Some(p) => p.clone(),
            None => format!(
                "{} bytes: the bbolt image to its last page{}, nothing after it",
                snap.file_len,
                if snap.trailer.is_some() {
                    " and the 32-byte trailer"
                } else {
                    ""
                }
            ),
        },
    }
}

/// [`verify`] of an opened file; with [`Hash::Skip`] the image is not hashed (the length,
/// the manifest's size and every other check still count).
pub fn verify_file(snap: &SnapshotFile, hash: Hash) -> Result<VerifyReport> {
    let mut checks = Vec::new();
    let file = snap.path.display().to_string();
    let db = match snap.db() {
        Ok(db) => db,
        // Not a bbolt file at all (or one we cannot read): bad input, not an unsound backup.
        Err(
            e @ Error::Bolt {
                error: bolt::Error::NotBolt { .. } | bolt::Error::BigEndian,
                ..
            },
        ) => return Err(e),
        Err(e) => {
            let sha = match hash {
                Hash::Check => Some(snap.sha_status()?),
                Hash::Skip => None,
            };
            checks.extend(sha.as_ref().map(sha_check));
            checks.push(Check {
                name: "bbolt".into(),
                ok: false,
                detail: e.to_string(),
            });
            checks.extend(manifest_check(snap, sha.as_ref()));
            return Ok(VerifyReport {
                file,
                sound: false,
                sha256: sha,
                checks,
                warnings: Vec::new(),
            });
        }
    };
    let length = snap.length_problem(&db);
    // A file of the wrong length is unsound whatever its hash; hashing it could mean reading
    // gigabytes of padding.
    let hashing = hash == Hash::Check && length.is_none();
    let (sha, a, meta) = both(snap, &db, analyze::check, hashing);
    let sha = match (sha.transpose()?, &length) {
        (Some(sha), _) => Some(sha),
        (None, Some(_)) if hash == Hash::Check => Some(ShaStatus::Unchecked {
            reason: "not hashed: the file's length is wrong".into(),
        }),
        (None, _) => None,
    };
    checks.push(length_check(length.as_ref(), snap));
    checks.extend(sha.as_ref().map(sha_check));
    checks.extend(manifest_check(snap, sha.as_ref()));
    // A spare meta that does not pair with the one in use is bolt's `meta_twins` warning: the
    // tree the meta in use names is what is read, so the data stays whole.
    checks.push(Check {
        name: "meta pages".into(),
        ok: true,
        detail: match &db.metas()[(1 - db.meta_index()) as usize] {
            Ok(m) => format!(
                "both valid (txid {} in use, {} spare)",
                db.meta().txid,
                m.txid
            ),
            Err(p) => format!("txid {} in use; the spare is invalid ({p})", db.meta().txid),
        },
    });
    checks.push(Check {
        name: "structure".into(),
        ok: a.structure_problems.is_empty(),
        detail: if a.structure_problems.is_empty() {
            format!(
                "{} pages of {} bytes, every reachable page referenced once and in order",
                db.meta().pgid,
                db.page_size()
            )
        } else {
            a.structure_problems.join("; ")
        },
    });
    match meta {
        Ok(m) => {
            let missing: Vec<&str> = schema::BUCKETS
                .iter()
                .copied()
                .filter(|b| !m.buckets.iter().any(|x| x == b))
                .collect();
            let required_missing = schema::REQUIRED.iter().any(|b| missing.contains(b));
            checks.push(Check {
                name: "buckets".into(),
                ok: !required_missing,
                detail: if missing.is_empty() {
                    "all etcd buckets present".into()
                } else {
                    format!("missing: {}", missing.join(", "))
                },
            });
            checks.push(Check {
                name: "meta values".into(),
                ok: m.problems.is_empty(),
                detail: if m.problems.is_empty() {
                    format!(
                        "consistent index {}",
                        m.consistent_index
                            .map_or("absent".into(), |c| c.to_string())
                    )
                } else {
                    m.problems.join("; ")
                },
            });
        }
        Err(e) => checks.push(Check {
            name: "buckets".into(),
            ok: false,
            detail: e.to_string(),
        }),
    }
    checks.push(Check {
        name: "key revisions".into(),
        ok: a.schema_problem_count == 0,
        detail: if a.schema_problem_count == 0 {
            format!(
                "{} revisions well formed and decoded, latest {}",
                a.revisions, a.status.revision
            )
        } else {
            summary(&a.schema_problems, a.schema_problem_count)
        },
    });
    let sound = checks.iter().all(|c| c.ok);
    Ok(VerifyReport {
        file,
        sound,
        sha256: sha,
        checks,
        warnings: a.structure_warnings,
    })
}

fn sha_check(sha: &ShaStatus) -> Check {
    match sha {
        ShaStatus::Ok { sha256 } => Check {
            name: "sha256".into(),
            ok: true,
            detail: format!("trailer matches {sha256}"),
        },
        ShaStatus::Absent { sha256 } => Check {
            name: "sha256".into(),
            ok: true,
            detail: format!(
                "no trailer: a raw db copy, not `etcdctl snapshot save` output{}",
                sha256
                    .as_ref()
                    .map_or(String::new(), |s| format!(" (sha256 {s})"))
            ),
        },
        ShaStatus::Mismatch { expected, actual } => Check {
            name: "sha256".into(),
            ok: false,
            detail: format!("SHA-256 mismatch: trailer says {expected}, content is {actual}"),
        },
        ShaStatus::Unchecked { reason } => Check {
            name: "sha256".into(),
            ok: false,
            detail: reason.clone(),
        },
        ShaStatus::NotChecked { trailer, next_step } => Check {
            name: "sha256".into(),
            ok: true,
            detail: format!("not checked (trailer says {trailer}): {next_step}"),
        },
    }
}

/// `snapshot inspect`: the etcdctl status fields at the top level, then everything else.
#[derive(Debug, Clone, Serialize)]
pub struct InspectReport {
    pub hash: u32,
    pub revision: i64,
    #[serde(rename = "totalKey")]
    pub total_key: u64,
    #[serde(rename = "totalSize")]
    pub total_size: u64,
    pub file: String,
    pub file_size: u64,
    /// Every check it ran passed: length, manifest, no problem listed, and the SHA-256 when
    /// it was compared (`sha256.status` says whether). The command exits 1 when not.
    pub sound: bool,
    pub sha256: ShaStatus,
    pub page_size: u32,
    pub live_keys: u64,
    pub revisions: u64,
    pub tombstones: u64,
    pub compact_revision: Option<i64>,
    pub scheduled_compact_revision: Option<i64>,
    pub finished_compact_revision: Option<i64>,
    pub consistent_index: Option<u64>,
    pub term: Option<u64>,
    pub storage_version: Option<String>,
    pub cluster_version: Option<String>,
    pub members: Vec<Member>,
    pub removed_members: Vec<String>,
    pub alarms: Vec<schema::Alarm>,
    pub auth_enabled: Option<bool>,
    pub buckets: Vec<crate::analyze::BucketCount>,
    pub kubernetes: KubeView,
    pub problems: Vec<String>,
    /// Findings that leave the data readable; see [`VerifyReport::warnings`].
    pub warnings: Vec<analyze::Finding>,
}

/// Like `etcdctl snapshot status`, a file that fails the structural check is an error.
/// The image is hashed against its trailer (what `save`'s full check needs).
pub fn inspect(path: &Path) -> Result<InspectReport> {
    inspect_with(path, None)
}

/// [`inspect`] of a plain or (with `identities`) age-encrypted file.
pub fn inspect_with(
    path: &Path,
    identities: Option<&crate::encrypted::Identities>,
) -> Result<InspectReport> {
    inspect_hashing(path, identities, Hash::Check)
}

/// [`inspect_with`], hashing the image only with [`Hash::Check`]. With [`Hash::Skip`] (what
/// `snapshot inspect` does unless asked, as `etcdutl snapshot status` does) the report says
/// the trailer was not checked and names the command that checks it.
pub fn inspect_hashing(
    path: &Path,
    identities: Option<&crate::encrypted::Identities>,
    hash: Hash,
) -> Result<InspectReport> {
    let snap = SnapshotFile::open_with(path, identities)?;
    let db = snap.db()?;
    let length = snap.length_problem(&db);
    let hashing = hash == Hash::Check && length.is_none();
    let (sha, a, meta) = both(&snap, &db, analyze::analyze, hashing);
    let sha = match (sha.transpose()?, &length) {
        (Some(sha), _) => sha,
        (None, Some(_)) => ShaStatus::Unchecked {
            reason: "not hashed: the file's length is wrong".into(),
        },
        (None, None) => ShaStatus::not_hashed(
            snap.trailer.as_ref(),
            format!(
                "`lifeboat snapshot verify {}` (or `snapshot inspect --check-sha256`) compares it \
                 with the image",
                path.display()
            ),
        ),
    };
    if let Some(first) = a.structure_problems.first() {
        return Err(Error::Schema {
            path: path.to_path_buf(),
            what: format!(
                "integrity check failed ({} problem(s)), first: {first}; run `lifeboat snapshot verify` for all",
                a.structure_problems.len()
            ),
        });
    }
    let m = meta.map_err(|source| Error::Bolt {
        path: path.to_path_buf(),
        error: source,
    })?;
    let mut problems: Vec<String> = length.into_iter().collect();
    if let Some(c) = manifest_check(&snap, Some(&sha)).filter(|c| !c.ok) {
        problems.push(format!("manifest: {}", c.detail));
    }
    problems.extend(m.problems.iter().cloned());
    problems.extend(a.schema_problems.iter().cloned());
    Ok(InspectReport {
        sound: sha.is_ok() && problems.is_empty(),
        hash: a.status.hash,
        revision: a.status.revision,
        total_key: a.status.total_key,
        total_size: a.status.total_size,
        file: path.display().to_string(),
        file_size: snap.file_len,
        sha256: sha,
        page_size: db.page_size(),
        live_keys: a.live_keys,
        revisions: a.revisions,
        tombstones: a.tombstones,
        compact_revision: m.compact_revision(),
        scheduled_compact_revision: m.scheduled_compact_revision,
        finished_compact_revision: m.finished_compact_revision,
        consistent_index: m.consistent_index,
        term: m.term,
        storage_version: m.storage_version,
        cluster_version: m.cluster_version,
        members: m.members,
        removed_members: m.removed_members,
        alarms: m.alarms,
        auth_enabled: m.auth_enabled,
        buckets: a.buckets,
        kubernetes: a.kube,
        problems,
        warnings: a.structure_warnings,
    })
}
