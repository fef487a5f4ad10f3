//! The delta log's disk buffer (docs/backup.md §6): every sealed segment is written here
//! (temporary file, fsync, rename) before it is uploaded, and removed only once the store has
//! it. A store outage fills the spool up to its byte limit instead of memory; segments left by
//! an agent that stopped or was killed are uploaded by its next term, when they still continue
//! the store's chain ([`Spool::catch_up`]), else moved aside into `aside/`, never deleted.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::Digest;

use crate::layout::{self, DeltaName, Object};
use crate::remote::Contents;
use crate::segment::{self, Segment};

const SPOOLED_SEGMENT: inputs::Kind =
    inputs::Kind::new("spooled delta segment", segment::MAX_SEGMENT_BYTES as u64);

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool {path}: {what}; check the agent's --work-dir (free space, permissions)")]
    Io { path: PathBuf, what: String },
    #[error(
        "the spool is full: {used} bytes of segments wait for the store and the next one ({next} bytes) would pass --spool-limit {limit}; the delta log stops here (what etcd still holds is read again once the store answers, what it compacted meanwhile is a gap the next full closes)"
    )]
    Full { used: u64, next: u64, limit: u64 },
}

/// A segment in the spool, waiting for the store.
#[derive(Debug, Clone)]
pub struct Spooled {
    pub name: DeltaName,
    pub path: PathBuf,
    pub bytes: u64,
    /// When the agent received the segment's first event (for the lag metric).
    pub first_observed_ms: i64,
}

#[derive(Debug, Clone)]
pub struct Spool {
    dir: PathBuf,
    limit: u64,
}

fn io(path: &Path, e: impl std::fmt::Display) -> SpoolError {
    SpoolError::Io {
        path: path.to_path_buf(),
        what: e.to_string(),
    }
}

impl Spool {
    /// The spool of `store_url` under `work_dir` (one directory per store, so agents of two
    /// stores may share a work directory). Leftover temporary files are removed: a torn write
    /// never became a segment, and what it held is still in etcd or in a later segment.
    pub fn open(work_dir: &Path, store_url: &str, limit: u64) -> Result<Spool, SpoolError> {
        let tag = hex::encode(&sha2::Sha256::digest(store_url.as_bytes())[..8]);
        let dir = work_dir.join(format!("spool-{tag}"));
        std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
        let note = dir.join("STORE");
        if !note.exists() {
            std::fs::write(&note, format!("{store_url}\n")).map_err(|e| io(&note, e))?;
        }
        for entry in std::fs::read_dir(&dir).map_err(|e| io(&dir, e))? {
            let path = entry.map_err(|e| io(&dir, e))?.path();
            if path.extension().is_some_and(|x| x == "part") {
                std::fs::remove_file(&path).map_err(|e| io(&path, e))?;
            }
        }
        Ok(Spool { dir, limit })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// The spooled segments, in revision order.
    pub fn segments(&self) -> Result<Vec<(DeltaName, PathBuf)>, SpoolError> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(|e| io(&self.dir, e))? {
            let path = entry.map_err(|e| io(&self.dir, e))?.path();
            let Some(file) = path.file_name().and_then(|f| f.to_str()) else {
                continue;
            };
            if let Some(Object::Delta(name)) = layout::parse("", &format!("delta/{file}")) {
                out.push((name, path));
            }
        }
        out.sort_by_key(|(n, _)| (n.first_revision, n.last_revision));
        Ok(out)
    }

    /// Writes one encoded segment (temporary file, fsync, rename, directory fsync), unless
    /// `used + its size` would pass the limit.
    pub fn write(&self, seg: &Segment, bytes: &[u8], used: u64) -> Result<Spooled, SpoolError> {
        let size = bytes.len() as u64;
        // An empty spool takes one segment whatever its size (the bound is passed by at most
        // one segment, 8 MiB at most): a segment larger than the limit would otherwise
        // never be written, and every new term would stop on it again.
        if used > 0 && used + size > self.limit {
            return Err(SpoolError::Full {
                used,
                next: size,
                limit: self.limit,
            });
        }
        let name = DeltaName {
            first_revision: seg.header.first_revision,
            last_revision: seg.header.last_revision,
        };
        let path = self.dir.join(name.file_name());
        let part = path.with_extension("seg.part");
        let mut f = std::fs::File::create(&part).map_err(|e| io(&part, e))?;
        f.write_all(bytes).map_err(|e| io(&part, e))?;
        f.sync_all().map_err(|e| io(&part, e))?;
        drop(f);
        std::fs::rename(&part, &path).map_err(|e| io(&path, e))?;
        if let Ok(d) = std::fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(Spooled {
            name,
            path,
            bytes: size,
            first_observed_ms: seg.events.first().map_or(0, |e| e.observed_ms),
        })
    }

    /// Reads a spooled segment back, checked as a reader checks it.
    pub fn read(&self, path: &Path) -> Result<(Segment, Vec<u8>), SpoolError> {
        let bytes = inputs::read(path, SPOOLED_SEGMENT).map_err(|e| io(path, e))?;
        let seg = segment::decode(&bytes).map_err(|e| io(path, e))?;
        Ok((seg, bytes))
    }

    /// The store has the segment: its spooled copy goes.
    pub fn uploaded(&self, path: &Path) -> Result<(), SpoolError> {
        std::fs::remove_file(path).map_err(|e| io(path, e))
    }

    /// Moves a spooled segment that cannot be uploaded into `aside/` (kept for a person).
    pub fn set_aside(&self, path: &Path, why: &str) -> Result<PathBuf, SpoolError> {
        let aside = self.dir.join("aside");
        std::fs::create_dir_all(&aside).map_err(|e| io(&aside, e))?;
        let file = path.file_name().map(PathBuf::from).unwrap_or_default();
        let to = aside.join(file);
        std::fs::rename(path, &to).map_err(|e| io(path, e))?;
        tracing::warn!("spooled segment {} moved aside: {why}", to.display());
        Ok(to)
    }

    /// At the start of a term: decides, against the store's contents, what the spool still
    /// adds. Segments that continue the store's chain are returned (to upload first; the delta
    /// log resumes after the last), in order. A segment the store already has is removed; one
    /// that overlaps the store's segments (another writer covered those revisions), leaves a
    /// gap, is of another cluster or does not read back is moved aside. Returns the spooled
    /// segments to upload and the revision the delta log resumes after.
    pub fn catch_up(
        &self,
        contents: &Contents,
        covered: i64,
        cluster_id: u64,
    ) -> Result<(Vec<Spooled>, i64), SpoolError> {
        let stored_end = contents
            .deltas
            .iter()
            .map(|(d, _)| d.last_revision)
            .max()
            .unwrap_or(0);
        let mut covered = covered;
        let mut keep = Vec::new();
        for (name, path) in self.segments()? {
            if contents.deltas.iter().any(|(d, _)| *d == name) {
                self.uploaded(&path)?;
                continue;
            }
            let (seg, bytes) = match self.read(&path) {
                Ok(s) => s,
                Err(e) => {
                    self.set_aside(&path, &e.to_string())?;
                    continue;
                }
            };
            let why = if seg.header.cluster_id != cluster_id {
                Some("it is of another cluster")
            } else if name.first_revision <= stored_end {
                Some("the store's segments already cover its revisions")
            } else if name.first_revision > covered + 1 {
                Some("revisions before it are missing")
            } else {
                None
            };
            if let Some(why) = why {
                self.set_aside(&path, why)?;
                continue;
            }
            covered = covered.max(name.last_revision);
            keep.push(Spooled {
                name,
                path,
                bytes: bytes.len() as u64,
                first_observed_ms: seg.events.first().map_or(0, |e| e.observed_ms),
            });
        }
        Ok((keep, covered))
    }
}
