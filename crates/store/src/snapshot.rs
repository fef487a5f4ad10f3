//! Snapshot files: a bbolt image followed, when made by `etcdctl snapshot save`, by the
//! SHA-256 of that image (32 bytes; detected as etcd does, by `len % 512 == 32`).

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

pub const TRAILER: u64 = 32;

/// What the trailer says about the image.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ShaStatus {
    /// The trailer matches the SHA-256 of the image.
    Ok {
        sha256: String,
    },
    Mismatch {
        expected: String,
        actual: String,
    },
    /// No trailer: a raw db copy (restore needs --skip-hash-check).
    Absent {
        sha256: String,
    },
}

impl ShaStatus {
    pub fn is_ok(&self) -> bool {
        !matches!(self, ShaStatus::Mismatch { .. })
    }
}

#[derive(Debug)]
pub struct SnapshotFile {
    pub path: PathBuf,
    pub file_len: u64,
    /// Bytes of bbolt image (the file length minus the trailer, if any).
    pub region_len: u64,
    pub trailer: Option<[u8; 32]>,
}

pub fn has_trailer(len: u64) -> bool {
    len % 512 == TRAILER
}

impl SnapshotFile {
    pub fn open(path: &Path) -> Result<SnapshotFile> {
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            error: source,
        };
        let file = File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        if meta.is_dir() {
            return Err(Error::NotAFile(path.to_path_buf()));
        }
        let file_len = meta.len();
        let (region_len, trailer) = if has_trailer(file_len) {
            let mut t = [0u8; 32];
            file.read_exact_at(&mut t, file_len - TRAILER).map_err(io)?;
            (file_len - TRAILER, Some(t))
        } else {
            (file_len, None)
        };
        Ok(SnapshotFile {
            path: path.to_path_buf(),
            file_len,
            region_len,
            trailer,
        })
    }

    /// Open the bbolt image, read-only and without a lock.
    pub fn db(&self) -> Result<bolt::Db> {
        let file = File::open(&self.path).map_err(|source| Error::Io {
            path: self.path.clone(),
            error: source,
        })?;
        bolt::Db::open_file(file, self.region_len).map_err(|source| Error::Bolt {
            path: self.path.clone(),
            error: source,
        })
    }

    /// SHA-256 of the image, streamed in 1 MiB reads (page cache, not our heap).
    pub fn sha256(&self) -> Result<[u8; 32]> {
        let io = |source| Error::Io {
            path: self.path.clone(),
            error: source,
        };
        let mut f = File::open(&self.path).map_err(io)?.take(self.region_len);
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = f.read(&mut buf).map_err(io)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        Ok(h.finalize().into())
    }

    pub fn sha_status(&self) -> Result<ShaStatus> {
        let actual = self.sha256()?;
        Ok(match self.trailer {
            None => ShaStatus::Absent {
                sha256: hex::encode(actual),
            },
            Some(t) if t == actual => ShaStatus::Ok {
                sha256: hex::encode(actual),
            },
            Some(t) => ShaStatus::Mismatch {
                expected: hex::encode(t),
                actual: hex::encode(actual),
            },
        })
    }
}
