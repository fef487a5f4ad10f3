//! Snapshot files: a bbolt image followed, when made by `etcdctl snapshot save`, by the
//! SHA-256 of that image (32 bytes; detected as etcd does, by `len % 512 == 32`).

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::encrypted::{AgeSource, Identities, Region};
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
    /// Set for an age-encrypted file: lengths and reads are of the decrypted plaintext.
    pub age: Option<Arc<AgeSource>>,
}

pub fn has_trailer(len: u64) -> bool {
    len % 512 == TRAILER
}

impl SnapshotFile {
    /// Opens a plain snapshot; an age-encrypted one needs [`SnapshotFile::open_with`].
    pub fn open(path: &Path) -> Result<SnapshotFile> {
        SnapshotFile::open_with(path, None)
    }

    /// Opens a plain snapshot, or an age-encrypted one with `identities`.
    pub fn open_with(path: &Path, identities: Option<&Identities>) -> Result<SnapshotFile> {
        if crate::encrypted::is_age(path) {
            let Some(ids) = identities else {
                return Err(Error::Schema {
                    path: path.to_path_buf(),
                    what: "the file is age-encrypted; pass --identity FILE with a key it was \
                           encrypted to"
                        .into(),
                });
            };
            return SnapshotFile::open_age(path, ids);
        }
        SnapshotFile::open_plain(path)
    }

    fn open_age(path: &Path, ids: &Identities) -> Result<SnapshotFile> {
        let src = Arc::new(AgeSource::open(path, ids)?);
        let file_len = bolt::Source::len(src.as_ref());
        let (region_len, trailer) = if has_trailer(file_len) {
            let mut t = [0u8; 32];
            bolt::Source::read_exact_at(src.as_ref(), &mut t, file_len - TRAILER).map_err(
                |error| Error::Io {
                    path: path.to_path_buf(),
                    error,
                },
            )?;
            (file_len - TRAILER, Some(t))
        } else {
            (file_len, None)
        };
        Ok(SnapshotFile {
            path: path.to_path_buf(),
            file_len,
            region_len,
            trailer,
            age: Some(src),
        })
    }

    fn open_plain(path: &Path) -> Result<SnapshotFile> {
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
            age: None,
        })
    }

    /// Open the bbolt image, read-only and without a lock.
    pub fn db(&self) -> Result<bolt::Db> {
        if let Some(src) = &self.age {
            let region = Region {
                src: Arc::clone(src),
                len: self.region_len,
            };
            return bolt::Db::from_source(Box::new(region)).map_err(|source| Error::Bolt {
                path: self.path.clone(),
                error: source,
            });
        }
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
        if let Some(src) = &self.age {
            // Every chunk is decrypted and authenticated here: a tampered byte fails this.
            let mut h = Sha256::new();
            let mut buf = vec![0u8; 1 << 20];
            let mut at = 0;
            while at < self.region_len {
                let n = (self.region_len - at).min(buf.len() as u64) as usize;
                bolt::Source::read_exact_at(src.as_ref(), &mut buf[..n], at).map_err(io)?;
                h.update(&buf[..n]);
                at += n as u64;
            }
            return Ok(h.finalize().into());
        }
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
