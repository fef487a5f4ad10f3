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

/// The fields of `FILE.json` (written by `snapshot save`) that say which file it describes.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct SavedManifest {
    /// Bytes of the snapshot (of the plaintext inside, for an encrypted one).
    pub size: u64,
    /// SHA-256 of the bbolt image: what the trailer holds.
    pub sha256: String,
}

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
    /// No trailer: a raw db copy (restore needs --skip-hash-check). `sha256` is the image's,
    /// when it was hashed (an absent trailer is known from the length alone).
    Absent {
        #[serde(skip_serializing_if = "Option::is_none")]
        sha256: Option<String>,
    },
    /// Not hashed: the file is not the right length, so no hash can vouch for it (and the
    /// extra bytes may be gigabytes of padding).
    Unchecked {
        reason: String,
    },
    /// Not hashed because nobody asked (`snapshot inspect` without `--check-sha256`, like
    /// `etcdutl snapshot status`): the trailer is there, nothing vouches for it matching.
    NotChecked {
        /// What the trailer says the image's SHA-256 is.
        trailer: String,
        /// The command that checks it.
        next_step: String,
    },
}

impl ShaStatus {
    /// Nothing was found wrong (an unhashed image included: see [`ShaStatus::verified`]).
    pub fn is_ok(&self) -> bool {
        !matches!(
            self,
            ShaStatus::Mismatch { .. } | ShaStatus::Unchecked { .. }
        )
    }

    /// The trailer was compared with the image and matches.
    pub fn verified(&self) -> bool {
        matches!(self, ShaStatus::Ok { .. })
    }

    /// What is known without hashing: the trailer, or its absence.
    pub fn not_hashed(trailer: Option<&[u8; 32]>, next_step: String) -> ShaStatus {
        match trailer {
            Some(t) => ShaStatus::NotChecked {
                trailer: hex::encode(t),
                next_step,
            },
            None => ShaStatus::Absent { sha256: None },
        }
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
    /// The plain file as opened (checked regular): every later read uses it, not the path.
    file: Option<Arc<File>>,
}

/// Snapshots are streamed, never read whole: no size limit, but devices and FIFOs refused.
pub const SNAPSHOT_INPUT: inputs::Kind = inputs::Kind::new("snapshot file", u64::MAX);

pub fn has_trailer(len: u64) -> bool {
    len % 512 == TRAILER
}

fn input_error(path: &Path, e: inputs::InputError) -> Error {
    Error::Schema {
        path: path.to_path_buf(),
        what: format!("{}: {}", e.kind.name, e.problem),
    }
}

impl SnapshotFile {
    /// Opens a plain snapshot; an age-encrypted one needs [`SnapshotFile::open_with`].
    pub fn open(path: &Path) -> Result<SnapshotFile> {
        SnapshotFile::open_with(path, None)
    }

    /// Opens a plain snapshot, or an age-encrypted one with `identities`.
    pub fn open_with(path: &Path, identities: Option<&Identities>) -> Result<SnapshotFile> {
        let (file, _) =
            inputs::open_regular(path, SNAPSHOT_INPUT).map_err(|e| input_error(path, e))?;
        if crate::encrypted::starts_with_magic(&file) {
            let Some(ids) = identities else {
                return Err(Error::Schema {
                    path: path.to_path_buf(),
                    what: "the file is age-encrypted; pass --identity FILE with a key it was \
                           encrypted to"
                        .into(),
                });
            };
            return SnapshotFile::open_age(path, file, ids);
        }
        SnapshotFile::open_plain(path, file)
    }

    fn open_age(path: &Path, file: File, ids: &Identities) -> Result<SnapshotFile> {
        let src = Arc::new(AgeSource::open_file(path, file, ids)?);
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
            file: None,
        })
    }

    fn open_plain(path: &Path, file: File) -> Result<SnapshotFile> {
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            error: source,
        };
        let meta = file.metadata().map_err(io)?;
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
            file: Some(Arc::new(file)),
        })
    }

    /// Why the file is not exactly a bbolt image (ending at its high-water mark) followed by
    /// nothing or by its 32-byte trailer; `None` when it is. A snapshot with bytes appended,
    /// or padded with zeros, opens and walks fine (nothing reaches the extra bytes), so only
    /// the length shows it, and etcd would restore it without a word.
    pub fn length_problem(&self, db: &bolt::Db) -> Option<String> {
        let image = db.size();
        if self.region_len == image {
            return None;
        }
        let end = format!(
            "the bbolt image ends at byte {image} (high-water mark {} x page size {})",
            db.meta().pgid,
            db.page_size()
        );
        if self.region_len < image {
            return Some(format!(
                "{end}, but the file holds only {} bytes of it: it is truncated",
                self.region_len
            ));
        }
        let extra = self.region_len - image;
        if self.trailer.is_none() && self.is_preallocated_tail(image, db.page_size()) {
            return None;
        }
        Some(match self.trailer {
            Some(_) => format!(
                "{end}, then {extra} more bytes before the last 32: data was appended after the \
                 snapshot (a snapshot is the image, its 32-byte SHA-256 trailer, nothing else)"
            ),
            None => format!(
                "{end}, then {extra} more bytes of the {} in the file: data was appended, the \
                 file was padded, or it was copied from a running etcd mid-write (a snapshot \
                 ends with its 32-byte SHA-256 trailer, a raw db copy of a stopped member with \
                 its last page; `lifeboat snapshot save` takes a consistent one)",
                self.file_len
            ),
        })
    }

    /// Whether the bytes past the image are the zeros bbolt preallocates in a member's db.
    ///
    /// bbolt grows a db file ahead of its data (`grow`: past the mmap size it truncates the
    /// file to what it needs plus `AllocSize`, 16 MiB), so a raw `member/snap/db` of etcd 3.5
    /// and later is its image plus up to 16 MiB of zeros, page-aligned. That is not padding
    /// by mistake; a tail longer than that, not page-aligned, or not zero is.
    fn is_preallocated_tail(&self, image: u64, page_size: u32) -> bool {
        const ALLOC_SIZE: u64 = 16 << 20;
        let page = u64::from(page_size.max(1));
        let tail = self.region_len.saturating_sub(image);
        if tail == 0 || tail > ALLOC_SIZE + page || !self.region_len.is_multiple_of(page) {
            return false;
        }
        let Some(file) = &self.file else {
            return false; // an age-encrypted file is a snapshot: it has no preallocated tail
        };
        let mut buf = vec![0u8; 1 << 16];
        let mut at = image;
        while at < self.region_len {
            let n = (self.region_len - at).min(buf.len() as u64) as usize;
            if file.read_exact_at(&mut buf[..n], at).is_err() || buf[..n].iter().any(|&b| b != 0) {
                return false;
            }
            at += n as u64;
        }
        true
    }

    /// `FILE.json` beside the file, as `snapshot save` writes it; `None` when there is none.
    pub fn manifest(&self) -> Option<std::result::Result<SavedManifest, String>> {
        let mut name = self.path.clone().into_os_string();
        name.push(".json");
        let path = PathBuf::from(name);
        if !path.exists() {
            return None;
        }
        let shown = path.display().to_string();
        let value = match inputs::read(&path, inputs::Kind::REPORT) {
            Ok(bytes) => serde_json::from_slice::<serde_json::Value>(&bytes),
            Err(e) => return Some(Err(e.to_string())),
        };
        let value = match value {
            Ok(v) => v,
            // Ours, damaged (a cut write), or something else under that name: said, since
            // it cannot vouch for the file.
            Err(e) => return Some(Err(format!("{shown} is not readable JSON: {e}"))),
        };
        // JSON that is not a `snapshot save` manifest is someone else's file: not ours to judge.
        value.get("lifeboat_version")?;
        // A backup store's manifest of a full (`FULL.db.json`, beside the object when the
        // store is a directory) describes the stored object, not this file's image:
        // `backup verify` checks it.
        if value.get("object_sha256").is_some() {
            return None;
        }
        Some(
            serde_json::from_value::<SavedManifest>(value)
                .map_err(|e| format!("{shown} is not a complete `snapshot save` manifest: {e}")),
        )
    }

    /// What the manifest beside the file contradicts: it was written for a file of this
    /// size, with this SHA-256 and (as `snapshot save` always writes) a trailer. `sha` is
    /// the image's hash when it was computed.
    pub fn manifest_problems(&self, manifest: &SavedManifest, sha: Option<&str>) -> Vec<String> {
        let mut out = Vec::new();
        let name = format!("{}.json", self.path.display());
        if self.trailer.is_none() {
            out.push(format!(
                "{name} says `snapshot save` wrote this file, with a SHA-256 trailer, and it has \
                 none: it was truncated or its trailer stripped"
            ));
        }
        if manifest.size != self.file_len {
            out.push(format!(
                "{name} says the file is {} bytes; it is {}",
                manifest.size, self.file_len
            ));
        }
        if let Some(sha) = sha.filter(|s| !s.eq_ignore_ascii_case(&manifest.sha256)) {
            out.push(format!(
                "{name} says the image's SHA-256 is {}; it is {sha}",
                manifest.sha256
            ));
        }
        out
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
        let file = self.plain_file()?;
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
        let mut f = self.plain_file()?.take(self.region_len);
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

    /// Ask the kernel to start reading the image into the page cache, front to back, so a
    /// walk over a file that is not cached finds most pages there instead of waiting for
    /// each one (the walk goes in key order, which is file order only where bbolt appended).
    /// Only a hint: it reads nothing into our memory, and errors are ignored. Stops at a
    /// quarter of the machine's memory, so a huge file does not push out the pages the walk
    /// is about to read. Blocks while the kernel queues the reads: run it on its own thread,
    /// and set `stop` when the reading is done.
    pub fn prefetch(&self, stop: &std::sync::atomic::AtomicBool) {
        use std::os::fd::AsRawFd;
        const STEP: u64 = 32 << 20;
        let Some(file) = &self.file else {
            return; // an encrypted file is decrypted chunk by chunk as it is read
        };
        let end = self.region_len.min(memory_bytes() / 4);
        let mut at = 0;
        while at < end && !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let len = STEP.min(end - at);
            let (Ok(off), Ok(n)) = (libc::off_t::try_from(at), libc::off_t::try_from(len)) else {
                return;
            };
            // SAFETY: posix_fadvise only reads its integer arguments; the descriptor is open
            // for as long as `file` lives.
            let rc =
                unsafe { libc::posix_fadvise(file.as_raw_fd(), off, n, libc::POSIX_FADV_WILLNEED) };
            if rc != 0 {
                return;
            }
            at += len;
        }
    }

    /// A handle of its own on the file opened (its offset is its own).
    fn plain_file(&self) -> Result<File> {
        let io = |error| Error::Io {
            path: self.path.clone(),
            error,
        };
        match &self.file {
            Some(f) => f.try_clone().map_err(io),
            None => File::open(&self.path).map_err(io),
        }
    }

    pub fn sha_status(&self) -> Result<ShaStatus> {
        let actual = self.sha256()?;
        Ok(match self.trailer {
            None => ShaStatus::Absent {
                sha256: Some(hex::encode(actual)),
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

/// Physical memory, or 0 when unknown (then nothing is prefetched).
fn memory_bytes() -> u64 {
    // SAFETY: sysinfo fills the struct it is given and reads nothing else.
    let mut info: libc::sysinfo = unsafe { std::mem::zeroed() };
    if unsafe { libc::sysinfo(&mut info) } != 0 {
        return 0;
    }
    // `totalram` is a C `unsigned long`: u64 here, u32 on 32-bit targets.
    #[allow(clippy::useless_conversion)]
    u64::from(info.totalram).saturating_mul(u64::from(info.mem_unit))
}
