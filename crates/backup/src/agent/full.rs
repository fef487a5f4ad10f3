//! One full snapshot: streamed and proven by `snapshot save` into a local work directory,
//! uploaded (object, then manifest), then the local copy removed.

use std::path::Path;
use std::time::Duration;

use ops::settings::{ConnectionSettings, ValidatedTls};
use ops::snapshot::{Encryption, SaveRequest, SaveTarget};

use super::AgentError;
use crate::layout::{FullManifest, FullName};
use crate::publish::{self, FullInfo};
use crate::remote::Store;
use crate::time;

fn hex_u64(s: &str) -> Result<u64, AgentError> {
    u64::from_str_radix(s, 16)
        .map_err(|_| AgentError::Save(format!("bad ID {s:?} in the manifest")))
}

/// Takes and uploads a full snapshot (age-encrypted on its way to disk when `encryption` is
/// given, as `snapshot save --encrypt-to` does); returns it with its manifest.
pub async fn take(
    settings: &ConnectionSettings,
    tls: Option<&ValidatedTls>,
    store: &Store,
    work: &Path,
    encryption: Option<&Encryption>,
) -> Result<(FullName, FullManifest), AgentError> {
    let file = work.join(format!("full-{}.db", time::compact(time::now_ms())));
    let req = SaveRequest {
        settings,
        tls,
        from: None,
        target: SaveTarget::File(file.clone()),
        force: false,
        stall_timeout: Duration::from_secs(30),
    };
    let saved = ops::snapshot::save_with(req, encryption, &mut |_, _| {})
        .await
        .map_err(|e| AgentError::Save(e.to_string()))?;
    // The full's time is when the save completed, rounded up: the state at its revision
    // existed by then, so `--to-time T` never takes a full holding writes made after T.
    let taken_ms = (time::now_ms() + 999) / 1000 * 1000;
    let m = &saved.manifest;
    let info = FullInfo {
        revision: m.revision,
        cluster_id: hex_u64(&m.cluster_id)?,
        member_id: hex_u64(&m.source_member_id)?,
        taken_ms,
        encrypted_to: m.encrypted_to.clone(),
        snapshot_size: m.size,
        snapshot_sha256: m.sha256.clone(),
    };
    let uploaded = publish::upload_full(store, &saved.path, &info).await;
    // The local copy is a staging copy of what the store now holds (or failed to take).
    let _ = std::fs::remove_file(&saved.path);
    let _ = std::fs::remove_file(&saved.manifest_path);
    Ok(uploaded?)
}
