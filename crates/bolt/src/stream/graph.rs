//! The end of a streamed check: the tree reachable from the meta root, followed over the
//! page records with the rules of the walk (`Tx.Check`) that need more than one page.

use std::ops::Range;

use super::{KeyRef, LeafDigest, PageStream, Rec, Status, StreamError, Target};
use crate::db::{Db, MAX_DEPTH};
use crate::page::{BRANCH, LEAF};
use crate::pageset::PageSet;

/// A run of entries of one reachable leaf page, in walk order. A page holding nested
/// buckets is cut after each bucket entry, the bucket's own segments coming in between,
/// exactly where a walk would visit them.
pub struct Segment<'a, S> {
    /// Enclosing buckets: 0 for the root bucket (top-level bucket names).
    pub depth: usize,
    pub summary: &'a S,
    pub entries: Range<usize>,
    /// Entries in the whole page.
    pub page_entries: usize,
}

struct Bounds {
    lo: Option<KeyRef>,
    hi: Option<KeyRef>,
}

/// bbolt's root bucket holds only buckets (`Tx` has no `Put`): a plain value there means
/// the page holds other data, typically a page reused after the meta was copied.
pub(crate) const ROOT_PLAIN: &str = "plain value in the root bucket, which bbolt keeps for buckets only: the page holds other data (reused after the meta was written?)";

fn unsound(page: u64, what: impl Into<String>) -> StreamError {
    StreamError::Unsound {
        page,
        what: what.into(),
    }
}

struct Graph<'s, D: LeafDigest> {
    s: &'s PageStream<D>,
    hwm: u64,
    reached: PageSet,
    budget: u64,
}

impl<D: LeafDigest> PageStream<D> {
    /// Follow the tree of `db` (the same bytes, opened from the written file: only its
    /// meta pages are read) and hand every reachable leaf's segments to
    /// `visit` in key order. `Ok` only when the walk would find no structural problem.
    pub fn finish(
        &self,
        db: &Db,
        visit: &mut dyn FnMut(Segment<'_, D::Summary>),
    ) -> Result<(), StreamError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.page_size != Some(u64::from(db.page_size())) {
            return Err(StreamError::Unsupported(
                "the page size differs from meta page 0's".into(),
            ));
        }
        if self.received < db.region_len() {
            return Err(StreamError::Unsupported(format!(
                "{} bytes streamed, the file holds {}",
                self.received,
                db.region_len()
            )));
        }
        let hwm = db.hwm();
        let mut g = Graph {
            s: self,
            hwm,
            reached: PageSet::new(hwm),
            budget: db.region_len() / 16 + 1024,
        };
        g.reached.mark(0);
        g.reached.mark(1);
        // The freelist is not read: the data does not depend on it, and the full walk
        // reports a stale one as a warning, never as unsound.
        g.page(db.meta().root, &Bounds { lo: None, hi: None }, 0, 0, visit)?;
        Ok(())
    }

    fn key_bytes(&self, k: KeyRef) -> &[u8] {
        let a = k.off as usize;
        self.arena.get(a..a + k.len as usize).unwrap_or_default()
    }
}

impl<D: LeafDigest> Graph<'_, D> {
    /// The walk's element budget: overlapping elements in a crafted file stay bounded.
    fn spend(&mut self, n: u64) -> Result<(), StreamError> {
        self.budget = self
            .budget
            .checked_sub(n)
            .ok_or_else(|| unsound(0, "more elements than the file can hold"))?;
        Ok(())
    }

    /// Every key of `rec` within `[lo, hi)`; keys within the page were checked in order.
    fn in_bounds(&self, rec: &Rec, b: &Bounds) -> bool {
        if rec.count == 0 {
            return true;
        }
        let s = self.s;
        let lo_ok =
            b.lo.is_none_or(|lo| s.key_bytes(rec.first) >= s.key_bytes(lo));
        let hi_ok =
            b.hi.is_none_or(|hi| s.key_bytes(rec.last) < s.key_bytes(hi));
        lo_ok && hi_ok
    }

    fn page(
        &mut self,
        pgid: u64,
        bounds: &Bounds,
        depth: usize,
        nesting: usize,
        visit: &mut dyn FnMut(Segment<'_, D::Summary>),
    ) -> Result<(), StreamError> {
        if depth >= MAX_DEPTH {
            return Err(unsound(pgid, "tree too deep"));
        }
        if pgid >= self.hwm {
            return Err(unsound(pgid, "beyond the high-water mark"));
        }
        let s = self.s;
        let rec = usize::try_from(pgid)
            .ok()
            .and_then(|i| s.recs.get(i))
            .copied()
            .unwrap_or_default();
        match rec.status {
            Status::Ok => {}
            Status::Bad => return Err(unsound(pgid, "elements run past the page or out of order")),
            Status::Missing => return Err(unsound(pgid, "page never completed")),
            Status::TooBig => {
                return Err(StreamError::Unsupported(format!(
                    "page {pgid}'s overflow did not fit the window"
                )));
            }
        }
        if u64::from(rec.overflow) >= self.hwm - pgid {
            return Err(unsound(pgid, "overflow beyond the high-water mark"));
        }
        if rec.id != pgid {
            return Err(unsound(pgid, format!("header says id {}", rec.id)));
        }
        for p in pgid..=pgid + u64::from(rec.overflow) {
            if !self.reached.mark(p) {
                return Err(unsound(p, "referenced more than once"));
            }
        }
        if !self.in_bounds(&rec, bounds) {
            return Err(unsound(pgid, "a key is outside its parent's separators"));
        }
        self.spend(u64::from(rec.count))?;
        match rec.flags {
            BRANCH => self.branch(&rec, pgid, bounds, depth, nesting, visit),
            LEAF => self.leaf(&rec, pgid, depth, nesting, visit),
            f => Err(unsound(
                pgid,
                format!("flags {f:#06x}, expected branch or leaf"),
            )),
        }
    }

    fn branch(
        &mut self,
        rec: &Rec,
        pgid: u64,
        bounds: &Bounds,
        depth: usize,
        nesting: usize,
        visit: &mut dyn FnMut(Segment<'_, D::Summary>),
    ) -> Result<(), StreamError> {
        let s = self.s;
        let kids = s
            .branch_kids
            .get(rec.kids.0 as usize..rec.kids.1 as usize)
            .unwrap_or_default();
        if kids.is_empty() {
            return Err(unsound(pgid, "branch page with no elements"));
        }
        for (i, &(child, key)) in kids.iter().enumerate() {
            let hi = kids.get(i + 1).map(|k| k.1).or(bounds.hi);
            let b = Bounds { lo: Some(key), hi };
            self.page(child, &b, depth + 1, nesting, visit)?;
        }
        Ok(())
    }

    fn leaf(
        &mut self,
        rec: &Rec,
        pgid: u64,
        depth: usize,
        nesting: usize,
        visit: &mut dyn FnMut(Segment<'_, D::Summary>),
    ) -> Result<(), StreamError> {
        let s = self.s;
        let summary = s
            .summaries
            .get(rec.summary as usize)
            .ok_or_else(|| unsound(pgid, "leaf without a digest"))?;
        let count = usize::from(rec.count);
        let kids = s
            .bucket_kids
            .get(rec.kids.0 as usize..rec.kids.1 as usize)
            .unwrap_or_default();
        if nesting == 0 && kids.len() != count {
            return Err(unsound(pgid, ROOT_PLAIN));
        }
        let mut from = 0;
        for kid in kids {
            let to = kid.index as usize + 1;
            visit(Segment {
                depth: nesting,
                summary,
                entries: from..to,
                page_entries: count,
            });
            from = to;
            match kid.target {
                Target::Page(p) => self.page(
                    p,
                    &Bounds { lo: None, hi: None },
                    depth + 1,
                    nesting + 1,
                    visit,
                )?,
                Target::Inline(i) => self.inline(i, depth + 1, nesting + 1, visit)?,
                Target::Bad => return Err(unsound(pgid, "bad nested bucket header")),
            }
        }
        if from < count {
            visit(Segment {
                depth: nesting,
                summary,
                entries: from..count,
                page_entries: count,
            });
        }
        Ok(())
    }

    fn inline(
        &mut self,
        i: u32,
        depth: usize,
        nesting: usize,
        visit: &mut dyn FnMut(Segment<'_, D::Summary>),
    ) -> Result<(), StreamError> {
        let s = self.s;
        let rec = s
            .inline
            .get(i as usize)
            .copied()
            .ok_or_else(|| unsound(0, "inline bucket never scanned"))?;
        if rec.status != Status::Ok {
            return Err(unsound(
                0,
                "inline bucket elements run past its page or out of order",
            ));
        }
        if rec.flags & LEAF == 0 || rec.flags & BRANCH != 0 {
            return Err(unsound(0, "inline bucket page is not a leaf"));
        }
        self.spend(u64::from(rec.count))?;
        self.leaf(&rec, 0, depth, nesting, visit)
    }
}
