//! Is a live process holding these files? etcd locks its WAL segments and bbolt flocks the
//! db. Reading `/proc/locks` answers without taking or probing any lock ourselves.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Linux `dev_t` → (major, minor), as glibc's `gnu_dev_major/minor` split it.
fn major_minor(dev: u64) -> (u64, u64) {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    (major, minor)
}

/// One `/proc/locks` line on `(major, minor, inode)`: the lock kind and holder pid.
fn matches(line: &str, want: (u64, u64, u64)) -> Option<String> {
    let f: Vec<&str> = line.split_whitespace().collect();
    // "1: FLOCK ADVISORY WRITE 1234 08:01:5678 0 EOF"; blocked waiters add "->" after the id.
    let f: Vec<&str> = f.into_iter().filter(|x| *x != "->").collect();
    let (kind, pid, dev) = (f.get(1)?, f.get(4)?, f.get(5)?);
    let mut parts = dev.split(':');
    let major = u64::from_str_radix(parts.next()?, 16).ok()?;
    let minor = u64::from_str_radix(parts.next()?, 16).ok()?;
    let inode: u64 = parts.next()?.parse().ok()?;
    ((major, minor, inode) == want).then(|| format!("{kind} pid {pid}"))
}

/// Locks held on `path` by any process, e.g. `["FLOCK pid 1234"]`. Empty when none, or
/// when `/proc/locks` cannot be read.
pub fn holders(path: &Path) -> Vec<String> {
    let Ok(meta) = std::fs::metadata(path) else {
        return Vec::new();
    };
    let (major, minor) = major_minor(meta.dev());
    let want = (major, minor, meta.ino());
    let Ok(locks) = std::fs::read_to_string("/proc/locks") else {
        return Vec::new();
    };
    let mut out: Vec<String> = locks.lines().filter_map(|l| matches(l, want)).collect();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_locks_lines() {
        let want = (8, 1, 5678);
        assert_eq!(
            matches("1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF", want).as_deref(),
            Some("FLOCK pid 1234")
        );
        assert_eq!(
            matches("2: OFDLCK ADVISORY  WRITE -1 08:01:5678 0 EOF", want).as_deref(),
            Some("OFDLCK pid -1")
        );
        assert_eq!(
            matches("1: FLOCK  ADVISORY  WRITE 1234 08:01:9999 0 EOF", want),
            None
        );
        assert_eq!(matches("garbage", want), None);
        assert_eq!(major_minor(0x0801), (8, 1));
    }

    #[test]
    fn an_unlocked_temp_file_has_no_holders() {
        let f = tempfile::NamedTempFile::new().expect("temp file");
        assert!(holders(f.path()).is_empty());
    }
}
