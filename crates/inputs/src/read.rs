//! Whole files, bounded; files to stream, type checked.

use std::fs::{File, Metadata};
use std::io::Read;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use crate::error::{InputError, Problem};
use crate::kind::Kind;

/// Opens `path` for a caller that streams it (a snapshot, a WAL): it must be a regular file.
///
/// The type is checked before the open, because opening a FIFO for reading blocks until a
/// writer comes, and again on the open file, in case the path changed in between.
pub fn open_regular(path: &Path, kind: Kind) -> Result<(File, Metadata), InputError> {
    let fail = |problem| InputError::new(path, kind, problem);
    let before = std::fs::metadata(path).map_err(|e| fail(Problem::Io(e)))?;
    regular(&before).map_err(fail)?;
    let file = File::open(path).map_err(|e| fail(Problem::Io(e)))?;
    let meta = file.metadata().map_err(|e| fail(Problem::Io(e)))?;
    regular(&meta).map_err(fail)?;
    Ok((file, meta))
}

/// Reads all of `path`, refusing anything but a regular file of at most `kind.max_bytes`.
pub fn read(path: &Path, kind: Kind) -> Result<Vec<u8>, InputError> {
    let fail = |problem| InputError::new(path, kind, problem);
    let (file, meta) = open_regular(path, kind)?;
    let limit = kind.max_bytes;
    if meta.len() > limit {
        return Err(fail(Problem::TooLarge {
            size: meta.len(),
            limit,
        }));
    }
    // The reported size is only a hint (it grows while we read, or is 0 in procfs): the read
    // itself stops one byte past the limit, which is how an overrun is seen.
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| fail(Problem::Io(e)))?;
    if bytes.len() as u64 > limit {
        return Err(fail(Problem::TooLarge {
            size: bytes.len() as u64,
            limit,
        }));
    }
    Ok(bytes)
}

/// [`read`], then UTF-8: the inputs read as text are YAML, JSON, PEM and env files.
pub fn read_to_string(path: &Path, kind: Kind) -> Result<String, InputError> {
    let bytes = read(path, kind)?;
    String::from_utf8(bytes).map_err(|e| {
        InputError::new(
            path,
            kind,
            Problem::NotText {
                at: e.utf8_error().valid_up_to(),
            },
        )
    })
}

fn regular(meta: &Metadata) -> Result<(), Problem> {
    let t = meta.file_type();
    let what = if t.is_file() {
        return Ok(());
    } else if t.is_dir() {
        "a directory"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a file"
    };
    Err(Problem::NotRegular(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TINY: Kind = Kind::new("test file", 8);

    #[test]
    fn reads_a_small_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"12345678").unwrap();
        assert_eq!(read(&path, TINY).unwrap(), b"12345678");
        assert_eq!(read_to_string(&path, TINY).unwrap(), "12345678");
    }

    #[test]
    fn refuses_a_file_over_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"123456789").unwrap();
        let err = read(&path, TINY).unwrap_err();
        assert!(
            matches!(err.problem, Problem::TooLarge { size: 9, limit: 8 }),
            "{err}"
        );
        assert!(err.to_string().starts_with("test file "), "{err}");
    }

    #[test]
    fn refuses_devices_and_directories() {
        let err = read(Path::new("/dev/zero"), TINY).unwrap_err();
        assert!(
            matches!(err.problem, Problem::NotRegular("a character device")),
            "{err}"
        );
        let dir = tempfile::tempdir().unwrap();
        let err = read(dir.path(), TINY).unwrap_err();
        assert!(
            matches!(err.problem, Problem::NotRegular("a directory")),
            "{err}"
        );
    }

    #[test]
    fn refuses_a_fifo_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let status = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !status.map(|s| s.success()).unwrap_or(false) {
            return; // no mkfifo here: nothing to test against
        }
        let err = read(&fifo, TINY).unwrap_err();
        assert!(
            matches!(err.problem, Problem::NotRegular("a FIFO")),
            "{err}"
        );
    }

    #[test]
    fn procfs_sizes_are_not_trusted() {
        // /proc files report size 0 but have content: the bounded read still stops.
        let err = read(Path::new("/proc/self/maps"), Kind::new("maps", 1)).unwrap_err();
        assert!(matches!(err.problem, Problem::TooLarge { .. }), "{err}");
    }

    #[test]
    fn text_must_be_utf8() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"ab\xff").unwrap();
        let err = read_to_string(&path, TINY).unwrap_err();
        assert!(matches!(err.problem, Problem::NotText { at: 2 }), "{err}");
    }
}
