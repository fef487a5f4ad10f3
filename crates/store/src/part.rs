//! The `.part` file a new snapshot is written into before it is named: per process, so two
//! lifeboats writing beside one file never share one, and a leftover is removed only once the
//! process that wrote it is gone. `snapshot save` and the offline edits both use it.
//!
//! Name: `<stem>.<pid>-<random>.part`. The pid says whose it is; a part whose pid no longer
//! runs was left by an interrupted run (lifeboat's own partial copy: removing it loses
//! nothing). A live pid is left alone, even if the pid was reused by another process.

use std::fs::File;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// A part file could not be made or a stale one removed.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct PartError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// A fresh part name for `stem` (the final file name).
pub fn part_name(stem: &Path) -> PathBuf {
    let mut name = stem.as_os_str().to_owned();
    name.push(format!(".{}-{:08x}.part", std::process::id(), random_u32()));
    PathBuf::from(name)
}

/// Creates a new part of `stem` (mode 0600, never an existing file), retrying a name taken.
pub fn create(stem: &Path) -> Result<(PathBuf, File), PartError> {
    let mut last = None;
    for _ in 0..8 {
        let part = part_name(stem);
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&part)
        {
            Ok(f) => return Ok((part, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some((part, e)),
            Err(source) => return Err(PartError { path: part, source }),
        }
    }
    let (path, source) =
        last.unwrap_or_else(|| (stem.to_path_buf(), std::io::ErrorKind::AlreadyExists.into()));
    Err(PartError { path, source })
}

/// The pid in a part name made by [`part_name`] for `stem_name`, if it is one.
fn owner(stem_name: &str, name: &str) -> Option<u32> {
    let rest = name.strip_prefix(stem_name)?.strip_prefix('.')?;
    let rest = rest.strip_suffix(".part")?;
    let (pid, random) = rest.split_once('-')?;
    let ok = random.len() == 8 && random.bytes().all(|b| b.is_ascii_hexdigit());
    ok.then(|| pid.parse().ok()).flatten()
}

/// Whether a process with this pid exists (signal 0 checks without sending anything).
pub fn alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: kill with signal 0 only checks for existence and permission.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Parts of `stem` whose writer is gone, removed; returns them. Parts of running writers, and
/// files of any other shape (`FILE.part` of an older lifeboat included), are not touched.
pub fn remove_stale(stem: &Path) -> Result<Vec<PathBuf>, PartError> {
    let dir = match stem.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let Some(stem_name) = stem.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Ok(Vec::new());
    };
    let io = |source| PartError {
        path: dir.to_path_buf(),
        source,
    };
    let mut removed = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = owner(&stem_name, &name) else {
            continue;
        };
        if pid == std::process::id() || alive(pid) || !entry.path().is_file() {
            continue;
        }
        std::fs::remove_file(entry.path()).map_err(|source| PartError {
            path: entry.path(),
            source,
        })?;
        removed.push(entry.path());
    }
    removed.sort();
    Ok(removed)
}

/// A few random bits from the std hasher's per-process keys (no RNG crate needed).
fn random_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish() as u32
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_parts_of_dead_saves_are_removed() {
        let dir = tempfile::tempdir().expect("tmp");
        let stem = dir.path().join("backup.db");
        let mine = part_name(&stem);
        std::fs::write(&mine, b"mine").expect("write");
        // pid 1 always runs; a pid above the kernel's maximum never does.
        let live = dir.path().join("backup.db.1-0000abcd.part");
        let dead = dir.path().join("backup.db.4194305-0000abcd.part");
        let old = dir.path().join("backup.db.part");
        let other = dir.path().join("other.db.4194305-0000abcd.part");
        for p in [&live, &dead, &old, &other] {
            std::fs::write(p, b"x").expect("write");
        }
        let removed = remove_stale(&stem).expect("scan");
        assert_eq!(removed, std::slice::from_ref(&dead));
        for p in [&mine, &live, &old, &other] {
            assert!(p.exists(), "{} removed", p.display());
        }
        assert!(!dead.exists());
    }

    #[test]
    fn two_names_for_one_stem_differ() {
        let stem = Path::new("/x/backup.db");
        assert_ne!(part_name(stem), part_name(stem));
        let name = part_name(stem);
        let name = name.file_name().and_then(|n| n.to_str()).expect("name");
        assert_eq!(owner("backup.db", name), Some(std::process::id()));
    }
}
