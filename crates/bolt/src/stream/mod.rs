//! Checking a bbolt file while it streams in, so a save never reads the file back.
//!
//! A snapshot arrives in file order, page after page. Each page is scanned once, as soon
//! as its bytes (with any overflow pages) are complete: header, element bounds, key order
//! within the page, and a caller-supplied digest of its leaf entries. Only a compact record
//! is kept per page (type, overflow, first and last key, children, the digest's summary).
//! At the end, [`PageStream::finish`] follows the tree from the meta root over those
//! records and applies the rest of `Tx.Check` (every reachable page referenced once, child
//! keys within their parent's separators; the freelist, never needed for reading, is left
//! to the full walk's warnings), then hands the leaf
//! summaries to the caller in key order, as a walk would visit them.
//!
//! Every page is scanned, reachable or not: which pages the tree reaches is known only at
//! the end, and a stale header in a freed page must not hide the live pages after it, so
//! a page claiming overflow is scanned on its own and, separately, together with the pages
//! it claims. Anything this checker cannot vouch for (a damaged meta 0, a page too large
//! for the window) is [`StreamError::Unsupported`]: the caller then runs the full walk.

mod graph;

use std::collections::VecDeque;

use crate::bucket::{BUCKET_HEADER, BucketRef};
use crate::meta::{META_END, Meta};
use crate::page::{self, BRANCH, BUCKET_LEAF, HEADER, LEAF, PageView};

pub(crate) use graph::ROOT_PLAIN;
pub use graph::Segment;

/// Bytes kept waiting for pages with overflow to complete. Real values are at most a few
/// MiB (etcd's request limit); a larger span is left to the full walk.
const WINDOW_CAP: usize = 64 << 20;
/// Nesting of inline buckets followed while scanning (the walk's own depth limit).
const INLINE_DEPTH: usize = crate::db::MAX_DEPTH;

/// One leaf element, as handed to a [`LeafDigest`].
pub struct LeafEntry<'a> {
    pub key: &'a [u8],
    pub value: &'a [u8],
    /// The value is a nested bucket header.
    pub is_bucket: bool,
}

/// What the caller keeps of each leaf page: computed while the page streams by, used at
/// the end only for the pages the tree reaches, in key order.
pub trait LeafDigest {
    type Summary;
    /// Every sound leaf page (and inline bucket page) in file order, reachable or not.
    fn leaf(&mut self, entries: &[LeafEntry<'_>]) -> Self::Summary;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    /// Not provable while streaming (not necessarily unsound): run the full check.
    #[error("cannot check while streaming: {0}")]
    Unsupported(String),
    /// The reachable tree breaks a `Tx.Check` rule at this page (0 for an inline bucket).
    #[error("page {page}: {what}")]
    Unsound { page: u64, what: String },
}

/// A key kept in the arena.
#[derive(Debug, Clone, Copy, Default)]
struct KeyRef {
    off: u32,
    len: u32,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Status {
    /// Never completed (the stream ended inside it, or it was never scanned).
    #[default]
    Missing,
    /// Header read; elements (if a branch or leaf) sound and in order.
    Ok,
    /// An element runs past the page or the keys are out of order.
    Bad,
    /// Its overflow span did not fit the window.
    TooBig,
}

/// What is kept of one page (or inline bucket page).
#[derive(Debug, Clone, Copy, Default)]
struct Rec {
    id: u64,
    overflow: u32,
    flags: u16,
    count: u16,
    status: Status,
    first: KeyRef,
    last: KeyRef,
    /// Branch: range in `branch_kids`; leaf: range in `bucket_kids`.
    kids: (u32, u32),
    /// Index in `summaries` (leaves only).
    summary: u32,
}

#[derive(Debug, Clone, Copy)]
enum Target {
    Page(u64),
    Inline(u32),
    /// The bucket header does not decode.
    Bad,
}

/// A leaf element holding a nested bucket.
#[derive(Debug, Clone, Copy)]
struct BucketKid {
    index: u32,
    target: Target,
}

/// Scans pages as bytes arrive; see the module docs.
pub struct PageStream<D: LeafDigest> {
    digest: D,
    page_size: Option<u64>,
    failed: Option<StreamError>,
    /// Bytes from file offset `window_start` to `received`.
    window: Vec<u8>,
    window_start: u64,
    received: u64,
    /// Next page whose header has not been looked at.
    next_page: u64,
    /// Pages with overflow waiting for their last byte: (pgid, end offset), by pgid.
    pending: VecDeque<(u64, u64)>,
    recs: Vec<Rec>,
    inline: Vec<Rec>,
    arena: Vec<u8>,
    branch_kids: Vec<(u64, KeyRef)>,
    bucket_kids: Vec<BucketKid>,
    summaries: Vec<D::Summary>,
}

impl<D: LeafDigest> PageStream<D> {
    pub fn new(digest: D) -> Self {
        PageStream {
            digest,
            page_size: None,
            failed: None,
            window: Vec::new(),
            window_start: 0,
            received: 0,
            next_page: 0,
            pending: VecDeque::new(),
            recs: Vec::new(),
            inline: Vec::new(),
            arena: Vec::new(),
            branch_kids: Vec::new(),
            bucket_kids: Vec::new(),
            summaries: Vec::new(),
        }
    }

    /// The digest, with whatever it keeps beside its per-page summaries.
    pub fn digest(&self) -> &D {
        &self.digest
    }

    /// Bytes fed so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// The next bytes of the file.
    pub fn feed(&mut self, chunk: &[u8]) {
        self.received += chunk.len() as u64;
        if self.failed.is_some() {
            return;
        }
        self.window.extend_from_slice(chunk);
        let ps = match self.page_size {
            Some(ps) => ps,
            None => match self.learn_page_size() {
                Some(ps) => ps,
                None => return,
            },
        };
        // The window is taken out while pages are scanned: scanning fills `self`.
        let window = std::mem::take(&mut self.window);
        self.scan_complete(&window, ps);
        self.window = window;
        self.trim(ps);
    }

    /// Meta 0 names the page size. Without a valid meta 0 the full walk decides (it can
    /// probe for meta 1 at every plausible size).
    fn learn_page_size(&mut self) -> Option<u64> {
        if self.window.len() < META_END {
            return None;
        }
        match Meta::parse(&self.window[..META_END]) {
            Ok(m) if (512..=16 << 20).contains(&m.page_size) => {
                self.page_size = Some(u64::from(m.page_size));
                self.page_size
            }
            Ok(m) => self.fail(format!("meta page 0 names page size {}", m.page_size)),
            Err(p) => self.fail(format!("meta page 0 is invalid: {p}")),
        }
    }

    fn fail(&mut self, what: String) -> Option<u64> {
        self.failed = Some(StreamError::Unsupported(what));
        self.window = Vec::new();
        None
    }

    /// Bytes `[from, to)` of the file, all within the window.
    fn slice(window: &[u8], window_start: u64, from: u64, to: u64) -> &[u8] {
        let a = (from - window_start) as usize;
        let b = (to - window_start) as usize;
        &window[a..b]
    }

    fn scan_complete(&mut self, window: &[u8], ps: u64) {
        let ws = self.window_start;
        while (self.next_page + 1).saturating_mul(ps) <= self.received {
            let p = self.next_page;
            let bytes = Self::slice(window, ws, p * ps, (p + 1) * ps);
            let overflow = page::header(bytes).map_or(0, |h| {
                if h.flags == BRANCH || h.flags == LEAF {
                    u64::from(h.overflow)
                } else {
                    0
                }
            });
            if overflow == 0 {
                let rec = self.scan(bytes, 0, false);
                self.put(p, rec);
            } else {
                let end = (p + 1 + overflow).saturating_mul(ps);
                self.pending.push_back((p, end));
            }
            self.next_page += 1;
        }
        let mut i = 0;
        while i < self.pending.len() {
            let (p, end) = self.pending[i];
            if end <= self.received {
                let rec = self.scan(Self::slice(window, ws, p * ps, end), 0, false);
                self.put(p, rec);
                self.pending.remove(i);
            } else {
                i += 1;
            }
        }
    }

    /// Drop bytes no page needs any more; give up on spans the window cannot hold.
    fn trim(&mut self, ps: u64) {
        loop {
            let keep_from = self
                .pending
                .front()
                .map_or(self.next_page * ps, |(p, _)| p * ps)
                .min(self.next_page * ps);
            let drop = (keep_from - self.window_start) as usize;
            if drop > 0 {
                self.window.drain(..drop);
                self.window_start = keep_from;
            }
            if self.window.len() <= WINDOW_CAP {
                return;
            }
            match self.pending.pop_front() {
                Some((p, _)) => self.put(
                    p,
                    Rec {
                        status: Status::TooBig,
                        ..Rec::default()
                    },
                ),
                None => return,
            }
        }
    }

    fn put(&mut self, p: u64, rec: Rec) {
        let Ok(i) = usize::try_from(p) else { return };
        if self.recs.len() <= i {
            self.recs.resize(i + 1, Rec::default());
        }
        self.recs[i] = rec;
    }

    fn key(&mut self, k: &[u8]) -> Option<KeyRef> {
        let off = u32::try_from(self.arena.len()).ok()?;
        let len = u32::try_from(k.len()).ok()?;
        off.checked_add(len)?;
        self.arena.extend_from_slice(k);
        Some(KeyRef { off, len })
    }

    /// One page (with its overflow) or inline bucket page: header, elements, order, digest.
    fn scan(&mut self, b: &[u8], depth: usize, inline: bool) -> Rec {
        let Some(h) = page::header(b) else {
            return Rec {
                status: Status::Bad,
                ..Rec::default()
            };
        };
        let mut rec = Rec {
            id: h.id,
            overflow: h.overflow,
            flags: h.flags,
            count: h.count,
            status: Status::Ok,
            ..Rec::default()
        };
        let view = PageView { bytes: b, base: 0 };
        // The walk's own tests: exact flags for pages, looser ones for inline pages.
        let leafy = if inline {
            h.flags & LEAF != 0 && h.flags & BRANCH == 0
        } else {
            h.flags == LEAF
        };
        let ok = if !inline && h.flags == BRANCH {
            self.scan_branch(view, &mut rec)
        } else if leafy {
            self.scan_leaf(view, &mut rec, depth)
        } else {
            true
        };
        if !ok {
            rec.status = Status::Bad;
        }
        rec
    }

    fn scan_branch(&mut self, view: PageView<'_>, rec: &mut Rec) -> bool {
        let start = self.branch_kids.len();
        let mut prev: Option<&[u8]> = None;
        for i in 0..usize::from(rec.count) {
            let Ok(e) = view.branch(i) else { return false };
            if prev.is_some_and(|p| e.key <= p) {
                return false;
            }
            let Some(k) = self.key(e.key) else {
                return false;
            };
            self.branch_kids.push((e.pgid, k));
            prev = Some(e.key);
        }
        let end = self.branch_kids.len();
        if end > start {
            rec.first = self.branch_kids[start].1;
            rec.last = self.branch_kids[end - 1].1;
        }
        rec.kids = (start as u32, end as u32);
        u32::try_from(end).is_ok()
    }

    fn scan_leaf(&mut self, view: PageView<'_>, rec: &mut Rec, depth: usize) -> bool {
        let count = usize::from(rec.count);
        let mut entries = Vec::with_capacity(count);
        let mut buckets = Vec::new();
        for i in 0..count {
            let Ok(e) = view.leaf(i) else { return false };
            if entries
                .last()
                .is_some_and(|p: &LeafEntry<'_>| e.key <= p.key)
            {
                return false;
            }
            let is_bucket = e.flags & BUCKET_LEAF != 0;
            if is_bucket {
                buckets.push((i, e.value));
            }
            entries.push(LeafEntry {
                key: e.key,
                value: e.value,
                is_bucket,
            });
        }
        if let (Some(f), Some(l)) = (entries.first(), entries.last()) {
            let (Some(f), Some(l)) = (self.key(f.key), self.key(l.key)) else {
                return false;
            };
            (rec.first, rec.last) = (f, l);
        }
        // Nested buckets are scanned first (inline ones recursively) so this page's range
        // of children is contiguous.
        let mut kids = Vec::with_capacity(buckets.len());
        for (i, value) in buckets {
            let target = match BucketRef::from_value(value, 0) {
                Ok(BucketRef::Page(p)) => Target::Page(p),
                Ok(BucketRef::Inline { .. }) if depth >= INLINE_DEPTH => {
                    self.failed = Some(StreamError::Unsupported(format!(
                        "inline buckets nested deeper than {INLINE_DEPTH}"
                    )));
                    Target::Bad
                }
                Ok(BucketRef::Inline { .. }) => {
                    let inner = value.get(BUCKET_HEADER..).unwrap_or_default();
                    if inner.len() < HEADER {
                        Target::Bad
                    } else {
                        let r = self.scan(inner, depth + 1, true);
                        self.inline.push(r);
                        Target::Inline((self.inline.len() - 1) as u32)
                    }
                }
                Err(_) => Target::Bad,
            };
            kids.push(BucketKid {
                index: i as u32,
                target,
            });
        }
        let start = self.bucket_kids.len();
        self.bucket_kids.extend(kids);
        rec.kids = (start as u32, self.bucket_kids.len() as u32);
        rec.summary = self.summaries.len() as u32;
        let s = self.digest.leaf(&entries);
        self.summaries.push(s);
        u32::try_from(self.summaries.len()).is_ok() && u32::try_from(self.inline.len()).is_ok()
    }
}
