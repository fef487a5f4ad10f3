//! Writing files so that a crash never leaves a half-written one under the final name, and
//! never destroying what was there: temp name, fsync, rename, fsync the directory; an existing
//! file is moved aside with a UTC timestamp, never deleted.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::OpsError;
use crate::utc;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> OpsError + '_ {
    move |source| OpsError::LocalIo {
        path: path.to_path_buf(),
        source,
    }
}

/// `path` with `suffix` appended to its file name (`a.db` + `.part` = `a.db.part`).
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

/// Fsyncs the directory holding `path`, so a rename into it survives a power cut.
pub fn sync_parent(path: &Path) -> Result<(), OpsError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

/// Writes `bytes` to `path` atomically with the given mode. The temporary name carries the
/// process ID, and is created new, so two lifeboats writing the same file never write into
/// one temporary file: the last rename wins with a whole file.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), OpsError> {
    let tmp = with_suffix(path, &format!(".{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&tmp); // ours, left by a write this process did not finish
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io(&tmp))?;
    f.write_all(bytes).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))?;
    sync_parent(path)
}

/// Renames `path` to `path.lifeboat-<UTC time>` (with a counter if taken) and returns the new
/// name. Used wherever lifeboat would otherwise overwrite or remove something.
pub fn move_aside(path: &Path) -> Result<PathBuf, OpsError> {
    let stamp = utc::compact_now();
    let mut target = with_suffix(path, &format!(".lifeboat-{stamp}"));
    let mut n = 1;
    while target.exists() {
        target = with_suffix(path, &format!(".lifeboat-{stamp}-{n}"));
        n += 1;
    }
    std::fs::rename(path, &target).map_err(io(path))?;
    sync_parent(&target)?;
    Ok(target)
}

/// Copies a directory to `DIR.lifeboat-<UTC time>` (every file fsynced) and returns the copy:
/// the backup of a data dir that must stay in place (the seed of a recovery).
pub fn copy_aside(dir: &Path) -> Result<PathBuf, OpsError> {
    let target = with_suffix(dir, &format!(".lifeboat-{}", utc::compact_now()));
    copy_dir(dir, &target)?;
    sync_parent(&target)?;
    Ok(target)
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), OpsError> {
    std::fs::create_dir_all(to).map_err(io(to))?;
    for entry in std::fs::read_dir(from).map_err(io(from))? {
        let entry = entry.map_err(io(from))?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        if entry.file_type().map_err(io(&src))?.is_dir() {
            copy_dir(&src, &dst)?;
        } else {
            std::fs::copy(&src, &dst).map_err(io(&src))?;
            File::open(&dst)
                .and_then(|f| f.sync_all())
                .map_err(io(&dst))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_and_move_aside_keep_everything() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.json");
        write_atomic(&p, b"one", 0o600).unwrap();
        let aside = move_aside(&p).unwrap();
        write_atomic(&p, b"two", 0o600).unwrap();
        let aside2 = move_aside(&p).unwrap();
        assert_ne!(aside, aside2);
        assert_eq!(std::fs::read(&aside).unwrap(), b"one");
        assert_eq!(std::fs::read(&aside2).unwrap(), b"two");
        assert!(!p.exists());
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn copy_aside_keeps_the_original_and_copies_every_file() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(data.join("member/wal")).unwrap();
        std::fs::write(data.join("member/wal/0.wal"), b"wal").unwrap();
        let copy = copy_aside(&data).unwrap();
        assert_eq!(
            std::fs::read(copy.join("member/wal/0.wal")).unwrap(),
            b"wal"
        );
        assert!(data.join("member/wal/0.wal").exists());
    }
}
