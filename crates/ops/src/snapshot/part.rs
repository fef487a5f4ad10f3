//! The `.part` file a save streams into: named per process, so two saves into one directory
//! never share one, and a leftover is removed only once the save that wrote it is gone.
//!
//! Name: `<stem>.<pid>-<random>.part`. The pid says whose it is; a part whose pid no longer
//! runs was left by an interrupted save (lifeboat's own partial copy: removing it loses
//! nothing). A live pid is left alone, even if the pid was reused by another process.

use std::path::{Path, PathBuf};

use crate::OpsError;

/// A fresh part name for `stem` (the final file name, or the managed stand-in).
pub fn part_name(stem: &Path) -> PathBuf {
    crate::files::with_suffix(
        stem,
        &format!(".{}-{:08x}.part", std::process::id(), random_u32()),
    )
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

/// Parts of `stem` whose save is gone, removed; returns them. Parts of running saves, and
/// files of any other shape (`FILE.part` of an older lifeboat included), are not touched.
pub fn remove_stale(stem: &Path) -> Result<Vec<PathBuf>, OpsError> {
    let dir = match stem.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let Some(stem_name) = stem.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Ok(Vec::new());
    };
    let io = |source| OpsError::LocalIo {
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
        std::fs::remove_file(entry.path()).map_err(|source| OpsError::LocalIo {
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
