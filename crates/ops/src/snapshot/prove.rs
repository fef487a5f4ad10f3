//! The proof a save gives before naming its file: SHA-256 trailer, bbolt structure, etcd
//! schema, and the manifest's numbers.
//!
//! It is computed on a thread of its own while the stream arrives ([`Checker`]), so the
//! file is not read back after the last byte; only its meta pages and small buckets are
//! (and, for an age file, one decrypting pass that proves it holds the bytes checked).
//! Anything that in-stream proof cannot vouch for falls back to the full check of the
//! written file (`snapshot inspect`), which also gives the refusal its detailed message.

use std::path::Path;
use std::thread::JoinHandle;

use store::encrypted::Identities;
use store::snapshot::{ShaStatus, SnapshotFile};
use store::stream::{Proven, StreamProof};
use tokio::sync::mpsc;

use super::readback::ReadBack;
use crate::OpsError;

/// Chunks in flight to the checker (etcd sends 32 KiB ones): enough to ride out a stall
/// of the checker without holding much memory.
const IN_FLIGHT: usize = 256;

/// The checking thread; chunks go in as they are written.
pub struct Checker {
    tx: Option<mpsc::Sender<Vec<u8>>>,
    thread: JoinHandle<StreamProof>,
}

impl Checker {
    pub fn start() -> Checker {
        let (tx, mut rx) = mpsc::channel::<Vec<u8>>(IN_FLIGHT);
        let thread = std::thread::spawn(move || {
            let mut proof = StreamProof::new();
            while let Some(chunk) = rx.blocking_recv() {
                proof.update(&chunk);
            }
            proof
        });
        Checker {
            tx: Some(tx),
            thread,
        }
    }

    /// The next chunk, already written to the file. Should the thread be gone, the full
    /// check decides at the end.
    pub async fn push(&mut self, chunk: Vec<u8>) {
        if let Some(tx) = &self.tx
            && tx.send(chunk).await.is_err()
        {
            self.tx = None;
        }
    }

    /// Everything streamed; wait for the thread to digest the last chunks.
    pub fn done(mut self) -> Option<StreamProof> {
        let broken = self.tx.is_none();
        self.tx = None;
        let proof = self.thread.join().ok()?;
        (!broken).then_some(proof)
    }
}

/// Prove `part` sound: from the in-stream proof when it holds, else by the full check.
/// `read_back` is what the encrypted save decrypted from its ciphertext as it was written.
pub fn prove(
    part: &Path,
    streamed: Option<StreamProof>,
    read_back: Option<std::io::Result<ReadBack>>,
    key: Option<&Identities>,
) -> Result<Proven, OpsError> {
    if let Some(proof) = streamed {
        // The read-back counts only if it covered every byte of the file.
        let on_disk = std::fs::metadata(part).map(|m| m.len()).ok();
        let decrypted = match read_back {
            Some(Ok((plain, cipher_len))) if Some(cipher_len) == on_disk => Some(plain),
            _ => None,
        };
        let fast =
            SnapshotFile::open_with(part, key).and_then(|snap| proof.finish_with(&snap, decrypted));
        match fast {
            Ok(p) => return Ok(p),
            Err(e) => tracing::debug!("in-stream proof did not hold ({e}); full check"),
        }
    }
    let report = store::report::inspect_with(part, key).map_err(|e| {
        OpsError::Local(format!(
            "the received snapshot is not sound: {e}; kept as {} for inspection",
            part.display()
        ))
    })?;
    let sha256 = match &report.sha256 {
        ShaStatus::Ok { sha256 } => sha256.clone(),
        other => {
            return Err(OpsError::Local(format!(
                "the received snapshot's SHA-256 trailer does not check out ({other:?}); kept as {}",
                part.display()
            )));
        }
    };
    Ok(Proven {
        sha256,
        revision: report.revision,
        hash: report.hash,
        total_key: report.total_key,
        total_size: report.total_size,
        live_keys: report.live_keys,
    })
}
