use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// Random-access bytes. Files are read with `pread`, not mmap: a running etcd may grow or
/// rewrite the file under us, and a mapping would turn that into SIGBUS or undefined
/// behaviour, while `pread` only ever sees stale or torn bytes that the checks reject.
/// It also keeps the resident set small on multi-GiB databases.
pub trait Source: Send + Sync {
    /// Length of the readable region in bytes.
    fn len(&self) -> u64;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Fill `buf` from `offset`; a short read is an error.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
}

/// A file, limited to its first `len` bytes (the bbolt region of a snapshot with a trailer).
#[derive(Debug)]
pub struct FileSource {
    file: File,
    len: u64,
}

impl FileSource {
    pub fn new(file: File, len: u64) -> Self {
        FileSource { file, len }
    }
}

impl Source for FileSource {
    fn len(&self) -> u64 {
        self.len
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let end = offset.checked_add(buf.len() as u64);
        if end.is_none_or(|e| e > self.len) {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        FileExt::read_exact_at(&self.file, buf, offset)
    }
}

/// In-memory bytes: tests and fuzzing.
impl Source for Vec<u8> {
    fn len(&self) -> u64 {
        self.as_slice().len() as u64
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let start =
            usize::try_from(offset).map_err(|_| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        let src = start
            .checked_add(buf.len())
            .and_then(|end| self.get(start..end))
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

/// Largest read-ahead window: a few hundred reads for a GiB, and little memory.
const AHEAD_MAX: usize = 1 << 20;

/// A window of bytes read past the last request, for a reader that mostly moves forward.
///
/// A walk reads one page at a time, in key order, and in a file bbolt wrote while appending
/// (etcd's `key` bucket) key order is mostly file order: reading each page with its own
/// `pread` costs a system call per 4 KiB. The window starts at the size asked for and
/// doubles each time a request starts where it ended, up to [`AHEAD_MAX`]; any other miss
/// starts it over, so a reader jumping about reads no more than it asks for.
#[derive(Debug, Default)]
pub(crate) struct ReadAhead {
    buf: Vec<u8>,
    /// File offset of `buf[0]`.
    start: u64,
    /// Bytes to read on the next sequential miss; 0: never read ahead.
    next: usize,
    enabled: bool,
}

impl ReadAhead {
    pub(crate) fn new() -> Self {
        ReadAhead {
            enabled: true,
            ..ReadAhead::default()
        }
    }

    /// Every read goes straight to the source.
    pub(crate) fn off() -> Self {
        ReadAhead::default()
    }

    fn end(&self) -> u64 {
        self.start + self.buf.len() as u64
    }

    pub(crate) fn read(&mut self, src: &dyn Source, out: &mut [u8], offset: u64) -> io::Result<()> {
        if !self.enabled {
            return src.read_exact_at(out, offset);
        }
        let want = out.len() as u64;
        let end = offset
            .checked_add(want)
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        if offset >= self.start && end <= self.end() {
            let from = (offset - self.start) as usize;
            out.copy_from_slice(&self.buf[from..from + out.len()]);
            return Ok(());
        }
        self.next = if offset == self.end() && !self.buf.is_empty() {
            (self.next * 2).min(AHEAD_MAX)
        } else {
            0
        };
        // A request larger than the window (a long overflow run) is read as it is.
        let size = (self.next as u64)
            .max(want)
            .min(src.len().saturating_sub(offset));
        if size < want || size > AHEAD_MAX as u64 {
            self.buf.clear();
            self.next = 0;
            return src.read_exact_at(out, offset);
        }
        self.buf.resize(size as usize, 0);
        if let Err(e) = src.read_exact_at(&mut self.buf, offset) {
            self.buf.clear();
            return Err(e);
        }
        self.start = offset;
        self.next = self.next.max(out.len());
        out.copy_from_slice(&self.buf[..out.len()]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{AHEAD_MAX, ReadAhead, Source};

    /// A source that counts its reads.
    struct Counted(Vec<u8>, std::sync::atomic::AtomicUsize);
    impl Source for Counted {
        fn len(&self) -> u64 {
            Source::len(&self.0)
        }
        fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
            self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.0.read_exact_at(buf, offset)
        }
    }

    fn source(len: usize) -> Counted {
        Counted((0..len).map(|i| (i % 251) as u8).collect(), 0.into())
    }

    #[test]
    fn forward_reads_grow_the_window_and_return_the_same_bytes() {
        let src = source(8 << 20);
        let mut ra = ReadAhead::new();
        let mut page = vec![0u8; 4096];
        for p in 0..(8 << 20) / 4096 {
            ra.read(&src, &mut page, p * 4096).unwrap();
            let want = &src.0[p as usize * 4096..(p as usize + 1) * 4096];
            assert_eq!(page, want, "page {p}");
        }
        let reads = src.1.load(std::sync::atomic::Ordering::Relaxed);
        // 4K, 8K, ... 1M, then 1M at a time.
        assert!(reads < 8 + (8 << 20) / AHEAD_MAX + 2, "{reads} reads");
    }

    #[test]
    fn jumps_read_only_what_is_asked_and_the_end_is_respected() {
        let src = source(100_000);
        let mut ra = ReadAhead::new();
        let mut out = vec![0u8; 1000];
        for at in [50_000u64, 10_000, 99_000, 0, 1000, 2000, 3000, 4000] {
            ra.read(&src, &mut out, at).unwrap();
            assert_eq!(out, &src.0[at as usize..at as usize + 1000]);
            assert!(
                ra.buf.len() <= 8000,
                "window {} after a read at {at}",
                ra.buf.len()
            );
        }
        assert!(ra.read(&src, &mut out, 99_500).is_err());
        assert!(ra.read(&src, &mut out, u64::MAX - 10).is_err());
        let mut big = vec![0u8; AHEAD_MAX + 1];
        ra.read(&src_big(), &mut big, 0).unwrap();
    }

    fn src_big() -> Counted {
        source(AHEAD_MAX + 10)
    }
}
