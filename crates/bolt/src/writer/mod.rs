//! Compact bbolt writer: a fresh file from sorted key/values, streamed in one pass, the way
//! `bbolt compact` or etcd's defrag produce one. Used by restore (and offline edits) so the
//! source is never modified in place.
//!
//! Pages are written in the order they fill, from page 2 on; each bucket keeps only the page
//! it is filling per tree level ([`tree`]), so memory does not grow with the data. Small
//! buckets without sub-buckets are stored inline, as bbolt does. At the end the two meta pages
//! go to pages 0 and 1 (txid `t` and `t-1`, like `Tx.WriteTo`), with no persisted freelist
//! (`NO_FREELIST`), which etcd (NoFreelistSync) and bbolt both accept: the free set is rebuilt
//! from reachability when the file is opened.

mod page;
mod tree;

use std::io::{self, BufWriter, Seek, SeekFrom, Write};

use crate::meta::{MAGIC, NO_FREELIST, VERSION, fnv1a64};
use crate::page::HEADER;
use page::{Elem, content_size, encode, encode_body};
use tree::{PageSink, Tree};

/// bbolt's limits (`MaxKeySize`, `MaxValueSize`).
pub const MAX_KEY: usize = 32_768;
pub const MAX_VALUE: usize = (1 << 31) - 2;
const BUCKET_LEAF: u32 = 0x01;
const META_FLAG: u16 = 0x04;

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("writing the database: {0}")]
    Io(#[from] io::Error),
    #[error("bucket {bucket}: key {key} does not follow {prev} (keys must be strictly increasing)")]
    KeyOrder {
        bucket: String,
        key: String,
        prev: String,
    },
    #[error("bucket {bucket}: empty key")]
    EmptyKey { bucket: String },
    #[error("bucket {bucket}: key of {len} bytes exceeds bbolt's {MAX_KEY}")]
    KeyTooLarge { bucket: String, len: usize },
    #[error("bucket {bucket}: value of {len} bytes exceeds bbolt's {MAX_VALUE}")]
    ValueTooLarge { bucket: String, len: usize },
    #[error("end_bucket without an open bucket")]
    NoOpenBucket,
    #[error("page size {0} is not a power of two between 512 and 65536")]
    PageSize(usize),
}

/// What was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// High-water mark: the file is `pages * page_size` bytes.
    pub pages: u64,
    pub page_size: u32,
    pub txid: u64,
}

struct Pages<W: Write + Seek> {
    out: BufWriter<W>,
    page_size: usize,
    next: u64,
    scratch: Vec<u8>,
}

impl<W: Write + Seek> PageSink for Pages<W> {
    fn page_size(&self) -> usize {
        self.page_size
    }

    fn write_page(&mut self, elems: &[Elem]) -> io::Result<u64> {
        let size = content_size(elems);
        let npages = size.div_ceil(self.page_size).max(1);
        let overflow = u32::try_from(npages - 1)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "page run too long"))?;
        let pgid = self.next;
        self.scratch.clear();
        self.scratch.resize(npages * self.page_size, 0);
        encode(&mut self.scratch, pgid, overflow, elems);
        self.out.write_all(&self.scratch)?;
        self.next += npages as u64;
        Ok(pgid)
    }
}

/// Writes a bbolt file. Open buckets form a stack under the root bucket; keys within each
/// bucket (sub-bucket names included) must arrive strictly increasing.
pub struct Writer<W: Write + Seek> {
    pages: Pages<W>,
    /// `stack[0]` is the root bucket; each entry has the name it will get in its parent.
    stack: Vec<(Vec<u8>, Tree)>,
}

fn show(path: &[(Vec<u8>, Tree)]) -> String {
    let names: Vec<String> = path
        .iter()
        .skip(1)
        .map(|(n, _)| crate::show_key(n))
        .collect();
    if names.is_empty() {
        "<root>".into()
    } else {
        names.join("/")
    }
}

impl<W: Write + Seek> Writer<W> {
    /// Starts a file on `out` (positioned anywhere; it is written from offset 0).
    pub fn new(mut out: W, page_size: usize) -> Result<Writer<W>, WriteError> {
        if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
            return Err(WriteError::PageSize(page_size));
        }
        out.seek(SeekFrom::Start(0))?;
        let mut out = BufWriter::with_capacity(1 << 20, out);
        // Room for the two meta pages, filled in by `finish`.
        out.write_all(&vec![0u8; 2 * page_size])?;
        Ok(Writer {
            pages: Pages {
                out,
                page_size,
                next: 2,
                scratch: Vec::new(),
            },
            stack: vec![(Vec::new(), Tree::new(0))],
        })
    }

    /// Depth of open buckets below the root (0 = adding top-level buckets).
    pub fn depth(&self) -> usize {
        self.stack.len() - 1
    }

    fn check_key(&mut self, key: &[u8]) -> Result<(), WriteError> {
        let bucket = || show(&self.stack);
        if key.is_empty() {
            return Err(WriteError::EmptyKey { bucket: bucket() });
        }
        if key.len() > MAX_KEY {
            return Err(WriteError::KeyTooLarge {
                bucket: bucket(),
                len: key.len(),
            });
        }
        let (_, tree) = self.stack.last().ok_or(WriteError::NoOpenBucket)?;
        if let Some(prev) = &tree.last_key
            && key <= prev.as_slice()
        {
            return Err(WriteError::KeyOrder {
                bucket: bucket(),
                key: crate::show_key(key),
                prev: crate::show_key(prev),
            });
        }
        Ok(())
    }

    /// Adds a plain key/value to the innermost open bucket.
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), WriteError> {
        self.check_key(key)?;
        if value.len() > MAX_VALUE {
            return Err(WriteError::ValueTooLarge {
                bucket: show(&self.stack),
                len: value.len(),
            });
        }
        let Some((_, tree)) = self.stack.last_mut() else {
            return Err(WriteError::NoOpenBucket);
        };
        tree.last_key = Some(key.to_vec());
        let e = Elem::Leaf {
            flags: 0,
            key: key.to_vec(),
            value: value.to_vec(),
        };
        tree.push(&mut self.pages, 0, e)?;
        Ok(())
    }

    /// Opens a sub-bucket `name` of the innermost open bucket; its contents follow until
    /// [`Writer::end_bucket`]. `sequence` is the bucket's `NextSequence` counter.
    pub fn begin_bucket(&mut self, name: &[u8], sequence: u64) -> Result<(), WriteError> {
        self.check_key(name)?;
        if let Some((_, parent)) = self.stack.last_mut() {
            parent.last_key = Some(name.to_vec());
            parent.has_child_bucket = true;
        }
        self.stack.push((name.to_vec(), Tree::new(sequence)));
        Ok(())
    }

    /// Closes the innermost bucket and records it in its parent (inline when small).
    pub fn end_bucket(&mut self) -> Result<(), WriteError> {
        if self.stack.len() < 2 {
            return Err(WriteError::NoOpenBucket);
        }
        let Some((name, mut tree)) = self.stack.pop() else {
            return Err(WriteError::NoOpenBucket);
        };
        let mut value = Vec::with_capacity(16);
        let inline = (!tree.has_child_bucket)
            .then(|| tree.single_leaf())
            .flatten()
            .filter(|elems| content_size(elems) <= self.pages.page_size / 4);
        match inline {
            Some(elems) => {
                // root 0 marks an inline bucket; a fake leaf page follows the bucket header.
                value.extend_from_slice(&0u64.to_le_bytes());
                value.extend_from_slice(&tree.sequence.to_le_bytes());
                let mut fake = vec![0u8; content_size(elems)];
                fake[8..10].copy_from_slice(&crate::page::LEAF.to_le_bytes());
                fake[10..12].copy_from_slice(&(elems.len() as u16).to_le_bytes());
                encode_body(&mut fake, elems);
                debug_assert!(fake.len() >= HEADER);
                value.extend_from_slice(&fake);
            }
            None => {
                let root = tree.finish(&mut self.pages)?;
                value.extend_from_slice(&root.to_le_bytes());
                value.extend_from_slice(&tree.sequence.to_le_bytes());
            }
        }
        let Some((_, parent)) = self.stack.last_mut() else {
            return Err(WriteError::NoOpenBucket);
        };
        let e = Elem::Leaf {
            flags: BUCKET_LEAF,
            key: name,
            value,
        };
        parent.push(&mut self.pages, 0, e)?;
        Ok(())
    }

    /// Closes any open buckets, writes the root and both meta pages, and returns the output
    /// (flushed, not synced: the caller fsyncs and renames).
    pub fn finish(mut self, txid: u64) -> Result<(W, Written), WriteError> {
        while self.stack.len() > 1 {
            self.end_bucket()?;
        }
        let Some((_, mut root)) = self.stack.pop() else {
            return Err(WriteError::NoOpenBucket);
        };
        let root_pgid = root.finish(&mut self.pages)?;
        let pages = self.pages.next;
        let ps = self.pages.page_size;
        let txid = txid.max(1);
        let mut out = self
            .pages
            .out
            .into_inner()
            .map_err(|e| WriteError::Io(e.into_error()))?;
        out.seek(SeekFrom::Start(0))?;
        for (i, t) in [(0u64, txid), (1u64, txid - 1)] {
            let mut p = vec![0u8; ps];
            meta_page(&mut p, i, ps as u32, root_pgid, root.sequence, pages, t);
            out.write_all(&p)?;
        }
        out.seek(SeekFrom::End(0))?;
        out.flush()?;
        Ok((
            out,
            Written {
                pages,
                page_size: ps as u32,
                txid,
            },
        ))
    }
}

/// A meta page as bbolt's `meta.write` lays it out, checksummed with FNV-1a.
fn meta_page(p: &mut [u8], id: u64, ps: u32, root: u64, seq: u64, pages: u64, txid: u64) {
    p[0..8].copy_from_slice(&id.to_le_bytes());
    p[8..10].copy_from_slice(&META_FLAG.to_le_bytes());
    p[16..20].copy_from_slice(&MAGIC.to_le_bytes());
    p[20..24].copy_from_slice(&VERSION.to_le_bytes());
    p[24..28].copy_from_slice(&ps.to_le_bytes());
    p[32..40].copy_from_slice(&root.to_le_bytes());
    p[40..48].copy_from_slice(&seq.to_le_bytes());
    p[48..56].copy_from_slice(&NO_FREELIST.to_le_bytes());
    p[56..64].copy_from_slice(&pages.to_le_bytes());
    p[64..72].copy_from_slice(&txid.to_le_bytes());
    let sum = fnv1a64(&p[16..72]);
    p[72..80].copy_from_slice(&sum.to_le_bytes());
}
