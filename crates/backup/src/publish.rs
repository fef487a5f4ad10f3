//! Uploads in the order readers rely on: a full's snapshot object first, its manifest last (a
//! full without a manifest is never used); a segment as one object.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::layout::{DeltaName, FullManifest, FullName, MANIFEST_FORMAT};
use crate::remote::{RemoteError, Store};
use crate::segment::Segment;
use crate::time;

/// What the caller knows about a full snapshot file.
#[derive(Debug, Clone)]
pub struct FullInfo {
    pub revision: i64,
    pub cluster_id: u64,
    pub member_id: u64,
    pub taken_ms: i64,
    /// Age recipients when `file` is the encrypted form.
    pub encrypted_to: Vec<String>,
    /// Size and SHA-256 of the plain snapshot file (for an encrypted one, as `snapshot save`
    /// recorded them before encrypting).
    pub snapshot_size: u64,
    pub snapshot_sha256: String,
}

fn sha256_file(path: &Path) -> Result<(u64, String), RemoteError> {
    use std::io::Read;
    let local = |e: std::io::Error| RemoteError::Local {
        path: path.to_path_buf(),
        what: e.to_string(),
    };
    let mut file = std::fs::File::open(path).map_err(local)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(local)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hex::encode(hasher.finalize())))
}

/// The plain snapshot file's own size and SHA-256, for [`FullInfo`].
pub fn describe_file(path: &Path) -> Result<(u64, String), RemoteError> {
    sha256_file(path)
}

/// Uploads `file` as a full, then its manifest.
pub async fn upload_full(
    store: &Store,
    file: &Path,
    info: &FullInfo,
) -> Result<(FullName, FullManifest), RemoteError> {
    let name = FullName {
        revision: info.revision,
        taken_ms: info.taken_ms,
        encrypted: !info.encrypted_to.is_empty(),
    };
    let (object_size, object_sha256) = sha256_file(file)?;
    let object = name.object(store.prefix());
    let uploaded = store.put_file(&object, file).await?;
    if uploaded != object_size {
        return Err(RemoteError::Local {
            path: file.to_path_buf(),
            what: format!("changed while uploading ({object_size} then {uploaded} bytes)"),
        });
    }
    let manifest = FullManifest {
        format: MANIFEST_FORMAT,
        revision: info.revision,
        cluster_id: store::hex_id(info.cluster_id),
        member_id: store::hex_id(info.member_id),
        taken_at: time::rfc3339(info.taken_ms),
        object_size,
        object_sha256,
        snapshot_size: info.snapshot_size,
        snapshot_sha256: info.snapshot_sha256.clone(),
        encrypted_to: info.encrypted_to.clone(),
        lifeboat_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| RemoteError::Object {
        object: object.clone(),
        what: e.to_string(),
    })?;
    store
        .put(&name.manifest_object(store.prefix()), json)
        .await?;
    Ok((name, manifest))
}

/// Uploads one encoded segment under the name its header gives.
pub async fn upload_segment(
    store: &Store,
    segment: &Segment,
    bytes: Vec<u8>,
) -> Result<DeltaName, RemoteError> {
    let name = DeltaName {
        first_revision: segment.header.first_revision,
        last_revision: segment.header.last_revision,
    };
    store.put(&name.object(store.prefix()), bytes).await?;
    Ok(name)
}
