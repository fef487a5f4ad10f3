//! Opening a file: page-size discovery, meta selection, page reads and point lookups.

use std::fs::File;
use std::path::Path;

use crate::bucket::BucketRef;
use crate::error::{Error, MetaProblem, Result, Where};
use crate::meta::{META_END, Meta};
use crate::page::{self, BRANCH, LEAF, PageView};
use crate::source::{FileSource, ReadAhead, Source};
use crate::warning::Warning;

/// Smallest and largest page sizes accepted; bbolt probes meta 1 at 1 KiB .. 16 MiB.
const MIN_PAGE: u32 = 512;
const MAX_PAGE: u32 = 16 << 20;
/// Deepest B+tree (plus nested buckets) followed before calling the file corrupt.
pub(crate) const MAX_DEPTH: usize = 64;

/// A read-only bbolt database. Takes no lock, so it can read a db that etcd holds open.
pub struct Db {
    src: Box<dyn Source>,
    page_size: u32,
    meta: Meta,
    chosen: u8,
    metas: [Result<Meta, MetaProblem>; 2],
    /// Meta findings made at open (a spare meta that is damaged or does not pair).
    warnings: Vec<Warning>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("len", &self.src.len())
            .field("page_size", &self.page_size)
            .field("meta", &self.meta)
            .field("chosen", &self.chosen)
            .finish()
    }
}

/// Why a page could not be fetched; the caller adds the bucket context.
pub(crate) enum ReadError {
    OutOfBounds(u64),
    Io(Error),
}

fn read_meta(src: &dyn Source, offset: u64, want: u64) -> Result<Meta, MetaProblem> {
    let len = src.len();
    if offset >= len {
        return Err(MetaProblem::Short);
    }
    let n = want.min(len - offset) as usize;
    if n < META_END {
        return Err(MetaProblem::Short);
    }
    let mut buf = vec![0u8; META_END];
    src.read_exact_at(&mut buf, offset)
        .map_err(|_| MetaProblem::Short)?;
    Meta::parse(&buf)
}

impl Db {
    /// Open a bbolt file read-only (no flock), using the whole file.
    pub fn open(path: &Path) -> Result<Db> {
        let file = File::open(path).map_err(|source| Error::Io {
            offset: 0,
            len: 0,
            source,
        })?;
        let len = file
            .metadata()
            .map_err(|source| Error::Io {
                offset: 0,
                len: 0,
                source,
            })?
            .len();
        Db::open_file(file, len)
    }

    /// Open the first `len` bytes of `file` (snapshot files carry a trailer after the db).
    pub fn open_file(file: File, len: u64) -> Result<Db> {
        Db::from_source(Box::new(FileSource::new(file, len)))
    }

    pub fn from_source(src: Box<dyn Source>) -> Result<Db> {
        // bbolt's getPageSizeFromFirstMeta / SecondMeta: meta 0 names the page size; if it
        // is damaged, look for meta 1 at every plausible page size.
        let m0 = read_meta(src.as_ref(), 0, 4096);
        let (page_size, m1) = match m0 {
            Ok(m) => {
                if !(MIN_PAGE..=MAX_PAGE).contains(&m.page_size) {
                    return Err(Error::PageSize {
                        meta: 0,
                        page_size: m.page_size,
                    });
                }
                (
                    m.page_size,
                    read_meta(src.as_ref(), u64::from(m.page_size), u64::from(m.page_size)),
                )
            }
            Err(p0) => {
                let mut first = None;
                let mut found = None;
                for i in 0..15u32 {
                    let off = 1024u64 << i;
                    let r = read_meta(src.as_ref(), off, off);
                    match r {
                        Ok(m) if u64::from(m.page_size) == off => {
                            found = Some(m);
                            break;
                        }
                        Ok(_) => {}
                        Err(p) => {
                            first.get_or_insert(p);
                        }
                    }
                }
                match found {
                    Some(m) => (m.page_size, Ok(m)),
                    None => {
                        let p1 = first.unwrap_or(MetaProblem::Short);
                        if p0 == MetaProblem::BigEndian || p1 == MetaProblem::BigEndian {
                            return Err(Error::BigEndian);
                        }
                        return Err(Error::NotBolt {
                            meta0: p0,
                            meta1: p1,
                        });
                    }
                }
            }
        };
        let metas = [m0, m1];
        let (chosen, mut warnings) = choose_meta(&metas, page_size, src.len())?;
        let meta = match metas[usize::from(chosen)] {
            Ok(m) => m,
            Err(problem) => {
                return Err(Error::Meta {
                    meta: chosen,
                    problem,
                });
            }
        };
        warnings.extend(twin_warnings(&metas, chosen, page_size));
        Ok(Db {
            src,
            page_size,
            meta,
            chosen,
            metas,
            warnings,
        })
    }

    pub fn page_size(&self) -> u32 {
        self.page_size
    }

    /// The meta in use: the valid one with the higher txid.
    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    /// Which meta page (0 or 1) is in use.
    pub fn meta_index(&self) -> u8 {
        self.chosen
    }

    /// Both meta pages as decoded, for reporting a damaged spare.
    pub fn metas(&self) -> &[Result<Meta, MetaProblem>; 2] {
        &self.metas
    }

    /// What the meta pages say beyond the one in use: a damaged or unusable twin, txids
    /// that are not consecutive, differing page sizes. Also part of a full walk's report.
    pub fn meta_warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// Bytes in use: `pgid * page_size` (bbolt's `Tx.Size`, etcd's `totalSize`).
    pub fn size(&self) -> u64 {
        self.meta.pgid * u64::from(self.page_size)
    }

    /// Length of the readable region (file length minus any trailer).
    pub fn region_len(&self) -> u64 {
        self.src.len()
    }

    pub(crate) fn hwm(&self) -> u64 {
        self.meta.pgid
    }

    /// Raw bytes at `offset` (within the readable region), for scans past the mark.
    pub(crate) fn read_raw(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        self.src.read_exact_at(buf, offset)
    }

    /// Read page `pgid` with its overflow pages into `buf`.
    pub(crate) fn read_page(&self, pgid: u64, buf: &mut Vec<u8>) -> Result<(), ReadError> {
        self.read_page_ahead(pgid, buf, &mut ReadAhead::off())
    }

    /// [`Db::read_page`] through a read-ahead window (the walk's reads).
    pub(crate) fn read_page_ahead(
        &self,
        pgid: u64,
        buf: &mut Vec<u8>,
        ahead: &mut ReadAhead,
    ) -> Result<(), ReadError> {
        let hwm = self.meta.pgid;
        if pgid >= hwm {
            return Err(ReadError::OutOfBounds(pgid));
        }
        let ps = self.page_size as usize;
        let offset = pgid * ps as u64;
        buf.resize(ps, 0);
        ahead
            .read(self.src.as_ref(), buf, offset)
            .map_err(|source| {
                ReadError::Io(Error::Io {
                    offset,
                    len: ps,
                    source,
                })
            })?;
        let overflow = page::header(buf).map_or(0, |h| u64::from(h.overflow));
        if overflow > 0 {
            // pgid + overflow < hwm keeps the allocation within the file size.
            if overflow >= hwm - pgid {
                return Err(ReadError::OutOfBounds(pgid + overflow));
            }
            let total = (overflow as usize + 1) * ps;
            buf.resize(total, 0);
            let rest = offset + ps as u64;
            ahead
                .read(self.src.as_ref(), &mut buf[ps..], rest)
                .map_err(|source| {
                    ReadError::Io(Error::Io {
                        offset: rest,
                        len: total - ps,
                        source,
                    })
                })?;
        }
        Ok(())
    }

    /// The root bucket (whose entries are the top-level buckets).
    pub fn root(&self) -> BucketRef {
        BucketRef::Page(self.meta.root)
    }

    /// A top-level bucket by name.
    pub fn bucket(&self, name: &[u8]) -> Result<Option<BucketRef>> {
        self.root().child(self, name)
    }

    /// Point lookup of `key` in `bucket`: the value and whether it is a nested bucket.
    pub fn get(&self, bucket: &BucketRef, key: &[u8]) -> Result<Option<(Vec<u8>, bool)>> {
        self.descend(bucket, Some(key))
    }

    /// The last (largest) key of a bucket with its value, without walking the bucket.
    pub fn last(&self, bucket: &BucketRef) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        let mut found = None;
        self.descend_with(bucket, None, &mut |k, v| {
            found = Some((k.to_vec(), v.to_vec()))
        })?;
        Ok(found)
    }

    fn descend(&self, bucket: &BucketRef, key: Option<&[u8]>) -> Result<Option<(Vec<u8>, bool)>> {
        let mut found = None;
        let key_owned = key.map(<[u8]>::to_vec);
        let is_bucket = self.descend_with(bucket, key_owned.as_deref(), &mut |_, v| {
            found = Some(v.to_vec())
        })?;
        Ok(found.map(|v| (v, is_bucket)))
    }

    /// Follow one root-to-leaf path: towards `key`, or the rightmost one when `key` is None.
    /// A depth limit is the only cycle guard a single path needs. Calls `hit` with the
    /// matching (or last) element and returns its bucket flag.
    fn descend_with(
        &self,
        bucket: &BucketRef,
        key: Option<&[u8]>,
        hit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<bool> {
        let mut buf = Vec::new();
        let (mut pgid, mut inline) = match bucket {
            BucketRef::Page(p) => (*p, None),
            BucketRef::Inline { page, base } => (0, Some((page.as_slice(), *base))),
        };
        let at = |pgid: u64, inline: bool, offset: u64| Where {
            bucket: String::new(),
            page: pgid,
            inline,
            offset,
        };
        for _ in 0..MAX_DEPTH {
            let (view, inl) = match inline.take() {
                Some((bytes, base)) => (PageView { bytes, base }, true),
                None => {
                    match self.read_page(pgid, &mut buf) {
                        Ok(()) => {}
                        Err(ReadError::OutOfBounds(t)) => {
                            return Err(Error::OutOfBounds {
                                at: at(pgid, false, 0),
                                target: t,
                                hwm: self.hwm(),
                            });
                        }
                        Err(ReadError::Io(e)) => return Err(e),
                    }
                    (
                        PageView {
                            bytes: &buf,
                            base: pgid * u64::from(self.page_size),
                        },
                        false,
                    )
                }
            };
            let h = page::header(view.bytes).ok_or_else(|| Error::Element {
                at: at(pgid, inl, view.base),
                index: 0,
                what: "page shorter than its header".into(),
            })?;
            let count = usize::from(h.count);
            let elem_err = |index, what| Error::Element {
                at: at(pgid, inl, view.base),
                index,
                what,
            };
            if h.flags & LEAF != 0 {
                let range: Box<dyn Iterator<Item = usize>> = match key {
                    Some(_) => Box::new(0..count),
                    None => Box::new(count.checked_sub(1).into_iter()),
                };
                for i in range {
                    let e = view.leaf(i).map_err(|w| elem_err(i, w))?;
                    match key.map(|k| e.key.cmp(k)) {
                        Some(std::cmp::Ordering::Less) => continue,
                        Some(std::cmp::Ordering::Greater) => return Ok(false),
                        Some(std::cmp::Ordering::Equal) | None => {
                            hit(e.key, e.value);
                            return Ok(e.flags & page::BUCKET_LEAF != 0);
                        }
                    }
                }
                return Ok(false);
            } else if h.flags & BRANCH != 0 {
                let mut next = None;
                match key {
                    Some(key) => {
                        for i in 0..count {
                            let e = view.branch(i).map_err(|w| elem_err(i, w))?;
                            if e.key > key && next.is_some() {
                                break;
                            }
                            next = Some(e.pgid);
                        }
                    }
                    None => {
                        if let Some(i) = count.checked_sub(1) {
                            next = Some(view.branch(i).map_err(|w| elem_err(i, w))?.pgid);
                        }
                    }
                }
                match next {
                    Some(p) => pgid = p,
                    None => return Ok(false),
                }
            } else {
                return Err(Error::PageType {
                    at: at(pgid, inl, view.base),
                    flags: h.flags,
                    expected: "branch or leaf",
                });
            }
        }
        Err(Error::TooDeep {
            at: at(pgid, false, 0),
            limit: MAX_DEPTH,
        })
    }
}

/// The meta the tree is read from: the valid one with the higher txid, as bbolt picks, unless
/// it cannot be read from at all (file too short for it, root outside it); then the other,
/// with a warning that the newest transaction is not what is shown.
fn choose_meta(
    metas: &[Result<Meta, MetaProblem>; 2],
    page_size: u32,
    len: u64,
) -> Result<(u8, Vec<Warning>)> {
    let mut order: Vec<(u8, Meta)> = (0u8..2)
        .filter_map(|i| metas[usize::from(i)].ok().map(|m| (i, m)))
        .collect();
    order.sort_by_key(|(i, m)| (std::cmp::Reverse(m.txid), *i));
    let mut first_err = None;
    for (i, m) in &order {
        match usable(m, *i, page_size, len) {
            Ok(()) => {
                let mut warnings = Vec::new();
                if let (Some((j, newer)), Some(e)) = (order.first(), &first_err) {
                    warnings.push(Warning::MetaTwins {
                        what: format!(
                            "meta {j} (txid {}) is unusable ({e}); reading meta {i} (txid {}) \
                             instead, so the newest transaction is not in what is shown",
                            newer.txid, m.txid
                        ),
                    });
                }
                return Ok((*i, warnings));
            }
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    match (first_err, &metas[0], &metas[1]) {
        (Some(e), _, _) => Err(e),
        (None, Err(a), Err(b)) => Err(Error::NotBolt {
            meta0: *a,
            meta1: *b,
        }),
        // Unreachable: a valid meta is either usable or leaves an error behind.
        (None, _, _) => Err(Error::MetaField {
            meta: 0,
            what: "no usable meta page".into(),
        }),
    }
}

/// Can the tree be read from this meta at all? The freelist is not needed for reading,
/// so its page number is left to the walk's findings.
fn usable(meta: &Meta, idx: u8, page_size: u32, len: u64) -> Result<()> {
    if meta.pgid < 3 {
        return Err(Error::MetaField {
            meta: idx,
            what: format!("high-water mark {} is below 3", meta.pgid),
        });
    }
    let need = meta.pgid.saturating_mul(u64::from(page_size));
    if need > len {
        return Err(Error::Truncated {
            hwm: meta.pgid,
            page_size,
            need,
            have: len,
        });
    }
    if meta.root < 2 || meta.root >= meta.pgid {
        return Err(Error::MetaField {
            meta: idx,
            what: format!("root page {} outside [2, {})", meta.root, meta.pgid),
        });
    }
    Ok(())
}

/// The two metas of a healthy file are its last two commits: consecutive txids, one page
/// size, the older never past the newer's high-water mark.
fn twin_warnings(
    metas: &[Result<Meta, MetaProblem>; 2],
    chosen: u8,
    page_size: u32,
) -> Vec<Warning> {
    let spare = 1 - chosen;
    let mut out = Vec::new();
    let (Ok(used), other) = (&metas[usize::from(chosen)], &metas[usize::from(spare)]) else {
        return out;
    };
    if used.page_size != page_size {
        out.push(Warning::MetaTwins {
            what: format!(
                "meta {chosen} says page size {}, meta 0 {page_size}; pages are read at \
                 {page_size} bytes, as bbolt does",
                used.page_size
            ),
        });
    }
    let other = match other {
        Ok(m) => m,
        Err(p) => {
            out.push(Warning::MetaTwins {
                what: format!(
                    "meta {spare} is invalid ({p}); the data is read from meta {chosen}, but \
                     there is no older commit to fall back to"
                ),
            });
            return out;
        }
    };
    if other.page_size != used.page_size {
        out.push(Warning::MetaTwins {
            what: format!(
                "meta {spare} says page size {}, meta {chosen} {}",
                other.page_size, used.page_size
            ),
        });
    }
    if used.txid.abs_diff(other.txid) != 1 {
        out.push(Warning::MetaTwins {
            what: format!(
                "txids {} (meta {chosen}) and {} (meta {spare}) are not consecutive: the meta \
                 pages do not come from one file's last two commits",
                used.txid, other.txid
            ),
        });
    }
    if other.txid < used.txid && other.pgid > used.pgid {
        out.push(Warning::MetaTwins {
            what: format!(
                "the older meta {spare} has a higher high-water mark ({}) than meta {chosen} \
                 in use ({}); bbolt never shrinks a file that way",
                other.pgid, used.pgid
            ),
        });
    }
    out
}
