//! Native `snapshot restore`: new member data dirs from one verified snapshot, the way the
//! target etcd release's own restore makes them (spec sections 3.2 and 5; 3.4 to 3.7, see
//! [`version`]), so that etcd starts on them as a new cluster.
//!
//! One pass writes the backend ([`rewrite`]: membership trimmed and replaced, consistent
//! index, optional revision bump); every further member gets a byte copy of it, since the
//! backends of a restored cluster are identical. Each member then gets its own WAL
//! ([`wal_writer`]: only the metadata's node ID differs) and the shared `.snap`
//! ([`snap_writer`]). Everything is built under temporary names, checked with our own
//! readers, fsynced, and renamed into place last; a refused input writes nothing.

mod cluster;
mod files;
mod json;
mod proto_out;
mod rewrite;
mod snap_writer;
pub mod version;
pub mod wal_writer;

use std::path::{Path, PathBuf};

use serde::Serialize;

pub use cluster::{NewCluster, NewMember, check_url, cluster_id, member_id, parse};
pub use files::check_target;
pub use rewrite::{Bump, Bumped, DbOutcome, KUBERNETES_BUMP};
pub use snap_writer::{snap_bytes, snap_name, v2_store_json};
pub use version::{EtcdVersion, TargetVersion};
pub use wal_writer::wal_bytes;

use crate::report::{Hash, verify_file};
use crate::snapshot::{ShaStatus, SnapshotFile};

#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("{0}")]
    Flags(String),
    /// The input is not restorable; nothing was written.
    #[error("refusing {}: {what}; nothing was written", path.display())]
    Refused { path: PathBuf, what: String },
    /// Found while copying (the walk checks the structure as it goes).
    #[error("{0}")]
    Source(String),
    #[error("{}: {what}", path.display())]
    Target { path: PathBuf, what: String },
    #[error("{}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(transparent)]
    Write(#[from] bolt::WriteError),
    #[error("self-check of the restored files failed: {0}")]
    SelfCheck(String),
}

/// One member dir to create.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub data_dir: PathBuf,
}

/// Moves a non-empty target out of the way and says where it went (the caller decides how:
/// lifeboat renames it to `DIR.lifeboat-<UTC time>`). Called only once every new dir is
/// complete, so a refused or failed restore leaves the old dir where it was.
pub type MoveAside<'a> = &'a dyn Fn(&Path) -> Result<PathBuf, String>;

pub struct Request<'a> {
    pub snapshot: &'a Path,
    pub cluster: &'a NewCluster,
    pub targets: &'a [Target],
    pub skip_hash_check: bool,
    pub bump: Bump,
    /// Without it, a non-empty target is refused.
    pub move_aside: Option<MoveAside<'a>>,
    /// For an age-encrypted snapshot (`FILE.age`).
    pub identities: Option<&'a crate::encrypted::Identities>,
    /// `--etcd-version`; without it the installed etcd decides, else the snapshot.
    pub etcd_version: Option<EtcdVersion>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RestoredMember {
    pub name: String,
    /// Lowercase hex, unpadded, as etcd prints it.
    pub id: String,
    pub peer_urls: Vec<String>,
    /// Where it was restored (not serialised for members to be restored elsewhere).
    #[serde(skip_serializing_if = "is_empty_path")]
    pub data_dir: PathBuf,
}

fn is_empty_path(p: &Path) -> bool {
    p.as_os_str().is_empty()
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub snapshot: PathBuf,
    /// `verified`, `skipped` (--skip-hash-check) or `absent` (raw db, skipped).
    pub hash_check: &'static str,
    pub sha256: Option<String>,
    pub cluster_id: String,
    pub token: String,
    pub initial_cluster: String,
    /// The etcd release the files were written for, and why that one.
    pub etcd: TargetVersion,
    /// Every member of the new cluster; `restored` lists the dirs written now.
    pub members: Vec<RestoredMember>,
    pub restored: Vec<RestoredMember>,
    pub db: DbOutcome,
    /// Non-empty targets that were moved aside: (was, now).
    pub moved_aside: Vec<(PathBuf, PathBuf)>,
    /// Staging dirs (`.DIR.lifeboat-restore-PID`) of earlier restores that were killed,
    /// removed: partial copies lifeboat made, whose process is gone.
    pub removed_leftovers: Vec<PathBuf>,
}

fn refused(path: &Path, what: impl Into<String>) -> RestoreError {
    RestoreError::Refused {
        path: path.to_path_buf(),
        what: what.into(),
    }
}

/// The same checks as `snapshot verify` (the hash unless skipped), before anything is
/// created: restore and verify agree on every file. A raw db copy (no trailer) needs `skip`.
fn check_sound(
    snap: &SnapshotFile,
    skip: bool,
) -> Result<(&'static str, Option<String>), RestoreError> {
    let path = &snap.path;
    if snap.trailer.is_none() && !skip {
        return Err(refused(
            path,
            format!(
                "it has no SHA-256 trailer ({} bytes is not whole 512-byte sectors plus 32): \
                 it is truncated, or a raw member/snap/db (restore that with --skip-hash-check)",
                snap.file_len
            ),
        ));
    }
    let hash = if skip { Hash::Skip } else { Hash::Check };
    let report = verify_file(snap, hash).map_err(|e| refused(path, e.to_string()))?;
    if let Some(failed) = report.failures() {
        return Err(refused(
            path,
            format!(
                "`snapshot verify` finds it unsound ({}); restore from a sound snapshot",
                failed
            ),
        ));
    }
    Ok(match (&report.sha256, snap.trailer.is_some()) {
        (Some(ShaStatus::Ok { sha256 }), _) => ("verified", Some(sha256.clone())),
        (_, true) => ("skipped", None),
        (_, false) => ("absent", None),
    })
}

fn describe(m: &NewMember, dir: PathBuf) -> RestoredMember {
    RestoredMember {
        name: m.name.clone(),
        id: format!("{:x}", m.id),
        peer_urls: m.peer_urls.clone(),
        data_dir: dir,
    }
}

/// Our own readers over what was written: the db is sound and says what it should.
fn self_check_db(path: &Path, cluster: &NewCluster) -> Result<(), RestoreError> {
    let fail = |w: String| RestoreError::SelfCheck(format!("{}: {w}", path.display()));
    let db = bolt::Db::open(path).map_err(|e| fail(e.to_string()))?;
    db.check().into_result().map_err(|e| fail(e.to_string()))?;
    let meta = crate::schema::EtcdMeta::read(&db).map_err(|e| fail(e.to_string()))?;
    let n = cluster.members.len() as u64;
    if meta.consistent_index != Some(n) {
        return Err(fail(format!(
            "consistent_index {:?}, expected {n}",
            meta.consistent_index
        )));
    }
    // EtcdMeta pads IDs to 16 digits; compare numbers, not strings.
    let mut ids: Vec<Option<u64>> = meta
        .members
        .iter()
        .map(|m| u64::from_str_radix(&m.id, 16).ok())
        .collect();
    let mut want: Vec<Option<u64>> = cluster.ids().into_iter().map(Some).collect();
    ids.sort();
    want.sort();
    if ids != want || !meta.removed_members.is_empty() {
        return Err(fail(format!("members {ids:?}, expected {want:?}")));
    }
    Ok(())
}

fn self_check_wal(bytes: &[u8], cluster: &NewCluster, node: u64) -> Result<(), RestoreError> {
    let wal = crate::wal::Wal::from_bytes(bytes);
    let n = cluster.members.len() as u64;
    let ok = wal.crc_ok
        && wal.problems.is_empty()
        && wal
            .metadata
            .is_some_and(|m| m.node_id == node && m.cluster_id == cluster.cluster_id)
        && wal.hard_state.is_some_and(|h| h.commit == n && h.term == 1)
        && wal.entries == n
        && wal.conf_changes.len() as u64 == n;
    if ok {
        Ok(())
    } else {
        Err(RestoreError::SelfCheck(format!("WAL of {node:x}: {wal:?}")))
    }
}

/// Restores every target from `req.snapshot`. All targets come from the same pass over the
/// same verified file, so they agree on data, members and IDs.
pub fn restore(req: &Request<'_>) -> Result<Outcome, RestoreError> {
    let path = req.snapshot;
    let snap =
        SnapshotFile::open_with(path, req.identities).map_err(|e| refused(path, e.to_string()))?;
    let (hash_check, sha256) = check_sound(&snap, req.skip_hash_check)?;
    let db = snap.db().map_err(|e| refused(path, e.to_string()))?;
    let versions =
        version::SnapshotVersions::read(&db).map_err(|e| refused(path, e.to_string()))?;
    let etcd = version::resolve(req.etcd_version, versions)?;
    if let Some(why) = version::downgrade_refusal(&etcd) {
        return Err(refused(path, why));
    }
    let target = etcd.version;
    let mut members = Vec::new();
    for t in req.targets {
        let m = req.cluster.member(&t.name).ok_or_else(|| {
            RestoreError::Flags(format!("member {} is not in --initial-cluster", t.name))
        })?;
        if req.move_aside.is_none() {
            files::check_target(&t.data_dir)?;
        }
        members.push(m.clone());
    }

    let mut staging = files::Staging::new();
    let mut dbs = Vec::new();
    for t in req.targets {
        let tmp = staging.add(&t.data_dir)?;
        for sub in ["member/snap", "member/wal"] {
            files::mkdir(&tmp.join(sub))?;
        }
        dbs.push(tmp.join("member/snap/db"));
    }
    let Some(first) = dbs.first() else {
        return Err(RestoreError::Flags("no member to restore".into()));
    };
    let out = files::create(first)?;
    let (out, db_outcome) =
        rewrite::rewrite(&db, out, req.cluster, req.bump, target).map_err(|e| match e {
            RestoreError::Source(what) => refused(path, what),
            other => other,
        })?;
    out.sync_all().map_err(|error| RestoreError::Io {
        path: first.clone(),
        error,
    })?;
    drop(out);
    self_check_db(first, req.cluster)?;

    let snap_file = snap_bytes(req.cluster, target);
    for (i, ((tmp, _), m)) in staging.dirs.iter().zip(&members).enumerate() {
        if i > 0 {
            files::copy_db(first, &dbs[i])?;
        }
        let wal = wal_bytes(req.cluster, m.id, target);
        self_check_wal(&wal, req.cluster, m.id)?;
        let snap_dir = tmp.join("member/snap");
        let wal_dir = tmp.join("member/wal");
        files::write_new(&snap_dir.join(snap_name(req.cluster)), &snap_file, None)?;
        files::write_new(
            &wal_dir.join(wal_writer::FIRST_SEGMENT),
            &wal,
            Some(wal_writer::SEGMENT_BYTES),
        )?;
        for d in [snap_dir, wal_dir, tmp.join("member"), tmp.clone()] {
            files::sync_dir(&d)?;
        }
    }
    let removed_leftovers = staging.removed_leftovers.clone();
    let moved_aside = staging.install(req.move_aside)?;

    let restored = req
        .targets
        .iter()
        .zip(&members)
        .map(|(t, m)| describe(m, t.data_dir.clone()))
        .collect();
    Ok(Outcome {
        snapshot: path.to_path_buf(),
        hash_check,
        sha256,
        cluster_id: format!("{:x}", req.cluster.cluster_id),
        token: req.cluster.token.clone(),
        initial_cluster: req.cluster.initial_cluster(),
        etcd,
        members: req
            .cluster
            .members
            .iter()
            .map(|m| describe(m, PathBuf::new()))
            .collect(),
        restored,
        db: db_outcome,
        moved_aside,
        removed_leftovers,
    })
}
