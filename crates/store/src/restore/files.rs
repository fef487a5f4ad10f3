//! Member data dirs on disk: a restore builds each one under a temporary sibling name, fsyncs
//! every file and directory, and renames it into place only when all of them are complete.
//! A non-empty target is refused (never cleared); on failure only our own temporary dirs are
//! removed.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::RestoreError;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RestoreError + '_ {
    move |error| RestoreError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// A target is usable when it does not exist or is an empty directory.
pub fn check_target(dir: &Path) -> Result<(), RestoreError> {
    match fs::read_dir(dir) {
        Ok(mut rd) => {
            if rd.next().is_some() {
                return Err(RestoreError::Target {
                    path: dir.to_path_buf(),
                    what: "exists and is not empty; nothing was written (move it aside \
                           yourself or pass --move-aside)"
                        .into(),
                });
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => Err(RestoreError::Target {
            path: dir.to_path_buf(),
            what: "exists and is not a directory".into(),
        }),
        Err(e) => Err(io(dir)(e)),
    }
}

pub fn mkdir(path: &Path) -> Result<(), RestoreError> {
    fs::DirBuilder::new()
        .mode(0o700)
        .recursive(true)
        .create(path)
        .map_err(io(path))
}

pub fn sync_dir(path: &Path) -> Result<(), RestoreError> {
    File::open(path)
        .and_then(|d| d.sync_all())
        .map_err(io(path))
}

/// A new file (never an existing one), mode 0600.
pub fn create(path: &Path) -> Result<File, RestoreError> {
    OpenOptions::new()
        .write(true)
        .read(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io(path))
}

/// Writes `bytes` to a new file, optionally extended with zeros to `len`, and fsyncs it.
pub fn write_new(path: &Path, bytes: &[u8], len: Option<u64>) -> Result<(), RestoreError> {
    let mut f = create(path)?;
    f.write_all(bytes).map_err(io(path))?;
    if let Some(len) = len {
        // Sparse zeros: what etcd's preallocation looks like to a reader, without the I/O.
        f.set_len(len.max(bytes.len() as u64)).map_err(io(path))?;
    }
    f.sync_all().map_err(io(path))
}

/// Copies a finished db to another member's dir (copy_file_range when the kernel can).
pub fn copy_db(from: &Path, to: &Path) -> Result<(), RestoreError> {
    drop(create(to)?);
    fs::copy(from, to).map_err(io(to))?;
    File::open(to).and_then(|f| f.sync_all()).map_err(io(to))
}

/// Temporary dirs being built; removed on drop unless installed. They are ours alone, so
/// removing them never touches user data.
pub struct Staging {
    pub dirs: Vec<(PathBuf, PathBuf)>,
    /// Staging dirs of earlier restores whose process is gone, removed.
    pub removed_leftovers: Vec<PathBuf>,
    /// Parent dirs this restore had to create: removed again on failure if still empty.
    created: Vec<PathBuf>,
    installed: bool,
}

impl Staging {
    pub fn new() -> Staging {
        Staging {
            dirs: Vec::new(),
            removed_leftovers: Vec::new(),
            created: Vec::new(),
            installed: false,
        }
    }

    /// Reserves `.<name>.lifeboat-restore-<pid>[-n]` beside `target` and creates it.
    pub fn add(&mut self, target: &Path) -> Result<PathBuf, RestoreError> {
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let base = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| RestoreError::Target {
                path: target.to_path_buf(),
                what: "has no directory name".into(),
            })?;
        if !parent.exists() {
            mkdir(&parent)?;
            self.created.push(parent.clone());
        }
        self.removed_leftovers
            .extend(remove_leftovers(&parent, &base)?);
        let pid = std::process::id();
        let mut n = 0;
        let tmp = loop {
            let name = if n == 0 {
                format!(".{base}.lifeboat-restore-{pid}")
            } else {
                format!(".{base}.lifeboat-restore-{pid}-{n}")
            };
            let tmp = parent.join(name);
            if !tmp.exists() {
                break tmp;
            }
            n += 1;
        };
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&tmp)
            .map_err(io(&tmp))?;
        self.dirs.push((tmp.clone(), target.to_path_buf()));
        Ok(tmp)
    }

    /// Renames every staged dir onto its target (an empty target dir is replaced; a non-empty
    /// one is moved aside first when `move_aside` is given, else refused).
    pub fn install(
        mut self,
        move_aside: Option<super::MoveAside<'_>>,
    ) -> Result<Vec<(PathBuf, PathBuf)>, RestoreError> {
        let mut moved = Vec::new();
        for (tmp, target) in &self.dirs {
            if let (Err(e), Some(aside)) = (check_target(target), move_aside) {
                if !matches!(e, RestoreError::Target { .. }) {
                    return Err(e);
                }
                let to = aside(target).map_err(|what| RestoreError::Target {
                    path: target.clone(),
                    what: format!("cannot move it aside: {what}"),
                })?;
                moved.push((target.clone(), to));
            }
            check_target(target)?;
            fs::rename(tmp, target).map_err(io(target))?;
            let parent = match target.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            sync_dir(parent)?;
        }
        self.installed = true;
        Ok(moved)
    }
}

/// The pid in `.<base>.lifeboat-restore-<pid>[-n]`, the name [`Staging::add`] gives.
fn staging_owner(base: &str, name: &str) -> Option<u32> {
    let rest = name.strip_prefix(&format!(".{base}.lifeboat-restore-"))?;
    let pid = rest.split_once('-').map_or(rest, |(pid, n)| {
        if n.bytes().all(|b| b.is_ascii_digit()) {
            pid
        } else {
            ""
        }
    });
    pid.parse().ok()
}

/// Removes the staging dirs for `base` in `parent` left by restores that were killed: a
/// partial copy lifeboat itself made, of no use to anyone once its process is gone. A dir
/// whose process still runs (another restore) is left alone; without /proc nothing is
/// removed, since no owner can be seen to be gone.
fn remove_leftovers(parent: &Path, base: &str) -> Result<Vec<PathBuf>, RestoreError> {
    let proc_fs = Path::new("/proc");
    if !proc_fs.join("self").exists() {
        return Ok(Vec::new());
    }
    let mut removed = Vec::new();
    let Ok(entries) = fs::read_dir(parent) else {
        return Ok(removed);
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = staging_owner(base, &name) else {
            continue;
        };
        let path = entry.path();
        let is_dir = fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir());
        if !is_dir || pid == std::process::id() || proc_fs.join(pid.to_string()).exists() {
            continue;
        }
        fs::remove_dir_all(&path).map_err(io(&path))?;
        removed.push(path);
    }
    removed.sort();
    Ok(removed)
}

impl Drop for Staging {
    fn drop(&mut self) {
        if self.installed {
            return;
        }
        for (tmp, _) in &self.dirs {
            let _ = fs::remove_dir_all(tmp);
        }
        // `remove_dir` only removes an empty dir: anything else that appeared there stays.
        for p in self.created.iter().rev() {
            let _ = fs::remove_dir(p);
        }
    }
}
