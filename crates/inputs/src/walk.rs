//! The files of a folder tree: sorted, inside the folder, each file once.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::error::{InputError, Problem};
use crate::kind::Kind;

/// Every file under `root` whose path `accept`s, sorted by path.
///
/// Symlinks are followed only while their target stays inside `root` (a policy folder that
/// links to `/etc` is refused, not read); a directory reached twice is a loop and refused; a
/// file reached through several links is listed once, under its first path.
pub fn walk(
    root: &Path,
    kind: Kind,
    accept: &dyn Fn(&Path) -> bool,
) -> Result<Vec<PathBuf>, InputError> {
    let canonical = root
        .canonicalize()
        .map_err(|e| InputError::new(root, kind, Problem::Io(e)))?;
    let mut walk = Walk {
        root: canonical,
        kind,
        accept,
        dirs: HashSet::new(),
        files: HashSet::new(),
        out: Vec::new(),
    };
    walk.dir(root)?;
    walk.out.sort();
    Ok(walk.out)
}

struct Walk<'a> {
    root: PathBuf,
    kind: Kind,
    accept: &'a dyn Fn(&Path) -> bool,
    /// (device, inode) of every directory entered: a second entry is a loop.
    dirs: HashSet<(u64, u64)>,
    /// (device, inode) of every file listed.
    files: HashSet<(u64, u64)>,
    out: Vec<PathBuf>,
}

impl Walk<'_> {
    fn fail(&self, path: &Path, problem: Problem) -> InputError {
        InputError::new(path, self.kind, problem)
    }

    fn dir(&mut self, dir: &Path) -> Result<(), InputError> {
        let meta = std::fs::metadata(dir).map_err(|e| self.fail(dir, Problem::Io(e)))?;
        if !self.dirs.insert((meta.dev(), meta.ino())) {
            return Err(self.fail(dir, Problem::Loop));
        }
        let mut paths = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| self.fail(dir, Problem::Io(e)))? {
            paths.push(entry.map_err(|e| self.fail(dir, Problem::Io(e)))?.path());
        }
        // Sorted, so that of two links to one file the same one is listed on every run.
        paths.sort();
        paths.iter().try_for_each(|path| self.entry(path))
    }

    fn entry(&mut self, path: &Path) -> Result<(), InputError> {
        let link = std::fs::symlink_metadata(path).map_err(|e| self.fail(path, Problem::Io(e)))?;
        if link.file_type().is_symlink() {
            let target = path
                .canonicalize()
                .map_err(|e| self.fail(path, Problem::Io(e)))?;
            if !target.starts_with(&self.root) {
                let root = self.root.clone();
                return Err(self.fail(path, Problem::OutsideRoot { root }));
            }
        }
        let meta = std::fs::metadata(path).map_err(|e| self.fail(path, Problem::Io(e)))?;
        if meta.is_dir() {
            return self.dir(path);
        }
        if meta.is_file() && (self.accept)(path) && self.files.insert((meta.dev(), meta.ino())) {
            self.out.push(path.to_owned());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn yaml(p: &Path) -> bool {
        p.extension().is_some_and(|e| e == "yaml")
    }

    #[test]
    fn lists_files_sorted_and_filtered() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/b.yaml"), "").unwrap();
        std::fs::write(dir.path().join("a.yaml"), "").unwrap();
        std::fs::write(dir.path().join("c.txt"), "").unwrap();
        let files = walk(dir.path(), Kind::POLICY, &yaml).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|p| p.strip_prefix(dir.path()).unwrap())
            .collect();
        assert_eq!(names, [Path::new("a.yaml"), Path::new("sub/b.yaml")]);
    }

    #[test]
    fn a_link_back_up_is_a_loop() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/a.yaml"), "").unwrap();
        symlink(dir.path(), dir.path().join("sub/up")).unwrap();
        let err = walk(dir.path(), Kind::POLICY, &yaml).unwrap_err();
        assert!(matches!(err.problem, Problem::Loop), "{err}");
    }

    #[test]
    fn a_link_outside_is_refused() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("x.yaml"), "").unwrap();
        let dir = tempfile::tempdir().unwrap();
        symlink(outside.path(), dir.path().join("out")).unwrap();
        let err = walk(dir.path(), Kind::POLICY, &yaml).unwrap_err();
        assert!(matches!(err.problem, Problem::OutsideRoot { .. }), "{err}");
    }

    #[test]
    fn a_file_linked_twice_is_listed_once() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.yaml"), "").unwrap();
        symlink(dir.path().join("a.yaml"), dir.path().join("b.yaml")).unwrap();
        let files = walk(dir.path(), Kind::POLICY, &yaml).unwrap();
        assert_eq!(files.len(), 1);
    }
}
