//! An edited snapshot written age-encrypted: what was encrypted stays encrypted, and no
//! plaintext byte of it reaches the disk.
//!
//! The bbolt writer writes its pages in order but its two meta pages last, at offset 0; an
//! age stream cannot go back. So the edit runs twice over the source: the first pass writes
//! nowhere and keeps only the meta pages it ends with; the second streams those, then the
//! pages as they come, through the encryptor, and checks it ends with the same meta pages
//! (the edit is deterministic; should it not be, the file is refused).

use std::io::{self, Seek, SeekFrom, Write};

use sha2::{Digest, Sha256};

/// A forward-only `Write + Seek` for the bbolt writer: writes into the first `head` bytes
/// are kept in memory, every other write must append and goes to `sink`.
pub struct Forward<S: Write> {
    head: Vec<u8>,
    pos: u64,
    end: u64,
    sink: S,
    sha: Sha256,
}

impl<S: Write> Forward<S> {
    /// `known`: the meta pages to stream first (second pass), or zeros of their length
    /// (first pass, into `io::sink()`).
    pub fn new(known: Vec<u8>, mut sink: S) -> io::Result<Forward<S>> {
        let mut sha = Sha256::new();
        sink.write_all(&known)?;
        sha.update(&known);
        Ok(Forward {
            end: known.len() as u64,
            head: known,
            pos: 0,
            sink,
            sha,
        })
    }

    /// The meta pages as last written, the SHA-256 of everything streamed, and the sink.
    pub fn finish(mut self) -> io::Result<(Vec<u8>, [u8; 32], S)> {
        self.sink.flush()?;
        Ok((self.head, self.sha.finalize().into(), self.sink))
    }
}

impl<S: Write> Write for Forward<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let head = self.head.len() as u64;
        if self.pos < head {
            // The placeholder at the start, or the final meta pages: kept, not streamed.
            let n = buf.len().min((head - self.pos) as usize);
            let at = self.pos as usize;
            self.head[at..at + n].copy_from_slice(&buf[..n]);
            self.pos += n as u64;
            return Ok(n);
        }
        if self.pos != self.end {
            return Err(io::Error::other(
                "the snapshot writer went back past its meta pages; cannot stream it encrypted",
            ));
        }
        let n = self.sink.write(buf)?;
        self.sha.update(&buf[..n]);
        self.pos += n as u64;
        self.end = self.pos;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.sink.flush()
    }
}

impl<S: Write> Seek for Forward<S> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let pos = match to {
            SeekFrom::Start(p) => p,
            SeekFrom::End(0) => self.end,
            SeekFrom::Current(0) => self.pos,
            _ => {
                return Err(io::Error::other(
                    "unsupported seek on a forward-only output",
                ));
            }
        };
        if pos > self.head.len() as u64 && pos != self.end {
            return Err(io::Error::other(
                "seek into the streamed part of a forward-only output",
            ));
        }
        self.pos = pos;
        Ok(pos)
    }
}
