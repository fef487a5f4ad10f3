//! In-order traversal of every bucket with the structural checks of bbolt's `Tx.Check`
//! done on the way, so one pass both reads the data and proves the tree sound.

use std::ops::ControlFlow;

use crate::bucket::BucketRef;
use crate::db::{Db, MAX_DEPTH, ReadError};
use crate::error::{Error, Where};
use crate::freelist::Freelist;
use crate::page::{self, BRANCH, BUCKET_LEAF, LEAF, PageView};

/// One key/value seen by a walk.
pub struct Entry<'a> {
    /// Names of the enclosing buckets, outermost first (empty for top-level bucket names).
    pub path: &'a [Vec<u8>],
    pub key: &'a [u8],
    pub value: &'a [u8],
    /// The value is a nested bucket header; its contents follow as entries with a longer path.
    pub is_bucket: bool,
}

/// Counters gathered by a walk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub branch_pages: u64,
    pub leaf_pages: u64,
    pub overflow_pages: u64,
    pub buckets: u64,
    pub inline_buckets: u64,
    pub entries: u64,
    /// Pages in `[2, hwm)` not reachable from the root and not holding the freelist.
    pub free_pages: u64,
}

/// Result of a walk: problems found (empty when sound) and counters.
#[derive(Debug)]
pub struct Report {
    pub problems: Vec<Error>,
    /// The walk ended early (problem cap reached or the visitor asked to stop).
    pub stopped: bool,
    pub stats: Stats,
}

impl Report {
    /// First problem as an error, for callers that want all-or-nothing.
    pub fn into_result(mut self) -> Result<Stats, Error> {
        if self.problems.is_empty() {
            Ok(self.stats)
        } else {
            Err(self.problems.swap_remove(0))
        }
    }
}

/// Printable form of a key: text when it is printable ASCII, hex otherwise.
pub fn show_key(k: &[u8]) -> String {
    if !k.is_empty() && k.iter().all(|&b| (0x20..0x7f).contains(&b)) {
        String::from_utf8_lossy(k).into_owned()
    } else {
        format!(
            "0x{}",
            k.iter().map(|b| format!("{b:02x}")).collect::<String>()
        )
    }
}

/// Internal early exit: a visitor stop or the problem cap.
struct Halt;

type Visit<'v> = dyn FnMut(&Entry<'_>) -> ControlFlow<()> + 'v;

struct Bounds<'a> {
    lo: Option<&'a [u8]>,
    hi: Option<&'a [u8]>,
}

pub(crate) struct Walker<'d> {
    db: &'d Db,
    reached: Vec<u64>,
    freelist: Option<Freelist>,
    path: Vec<Vec<u8>>,
    problems: Vec<Error>,
    max_problems: usize,
    /// Elements still allowed: a sound file cannot hold more than len/16, so overlapping
    /// elements in a crafted file cannot make the walk explode.
    budget: u64,
    budget_limit: u64,
    recurse: bool,
    pool: Vec<Vec<u8>>,
    stats: Stats,
}

impl<'d> Walker<'d> {
    pub(crate) fn new(db: &'d Db, max_problems: usize, recurse: bool) -> Self {
        let hwm = db.hwm();
        let words = hwm.div_ceil(64) as usize;
        let limit = db.region_len() / 16 + 1024;
        let mut w = Walker {
            db,
            reached: vec![0; words],
            freelist: None,
            path: Vec::new(),
            problems: Vec::new(),
            max_problems: max_problems.max(1),
            budget: limit,
            budget_limit: limit,
            recurse,
            pool: Vec::new(),
            stats: Stats::default(),
        };
        w.mark(0);
        w.mark(1);
        match Freelist::load(db) {
            Ok(Some(mut fl)) => {
                for p in fl.own_pages() {
                    w.mark(p);
                }
                w.problems.append(&mut fl.problems);
                w.freelist = Some(fl);
            }
            Ok(None) => {}
            Err(e) => w.problems.push(e),
        }
        w
    }

    fn mark(&mut self, p: u64) -> bool {
        let (i, bit) = ((p / 64) as usize, 1u64 << (p % 64));
        match self.reached.get_mut(i) {
            Some(word) => {
                let was = *word & bit != 0;
                *word |= bit;
                !was
            }
            None => false,
        }
    }

    fn is_reached(&self, p: u64) -> bool {
        self.reached
            .get((p / 64) as usize)
            .is_some_and(|w| w & (1u64 << (p % 64)) != 0)
    }

    fn at(&self, page: u64, inline: bool, offset: u64) -> Where {
        let bucket = self
            .path
            .iter()
            .map(|k| show_key(k))
            .collect::<Vec<_>>()
            .join("/");
        Where {
            bucket,
            page,
            inline,
            offset,
        }
    }

    fn problem(&mut self, e: Error) -> Result<(), Halt> {
        self.problems.push(e);
        if self.problems.len() >= self.max_problems {
            Err(Halt)
        } else {
            Ok(())
        }
    }

    pub(crate) fn run(mut self, root: &BucketRef, visit: &mut Visit<'_>) -> Report {
        let stopped = if self.problems.len() >= self.max_problems {
            true
        } else {
            self.bucket(root, 0, visit).is_err()
        };
        if !stopped && self.recurse {
            self.finish();
        }
        Report {
            problems: self.problems,
            stopped,
            stats: self.stats,
        }
    }

    /// Pages below the high-water mark that nothing references: free (no freelist
    /// persisted, bbolt rebuilds it this way) or an error (`unreachable unfreed`).
    fn finish(&mut self) {
        let hwm = self.db.hwm();
        let persisted = self.freelist.is_some();
        for p in 2..hwm {
            if self.is_reached(p) {
                continue;
            }
            let freed = self.freelist.as_ref().is_some_and(|f| f.contains(p));
            self.stats.free_pages += 1;
            if persisted && !freed && self.problem(Error::UnreachableUnfreed { page: p }).is_err() {
                return;
            }
        }
    }

    fn bucket(&mut self, b: &BucketRef, depth: usize, visit: &mut Visit<'_>) -> Result<(), Halt> {
        self.stats.buckets += 1;
        match b {
            BucketRef::Page(p) => self.page(*p, Bounds { lo: None, hi: None }, depth, visit),
            BucketRef::Inline { page, base } => {
                self.stats.inline_buckets += 1;
                let view = PageView {
                    bytes: page,
                    base: *base,
                };
                match page::header(page) {
                    Some(h) if h.flags & LEAF != 0 && h.flags & BRANCH == 0 => self.leaf(
                        view,
                        0,
                        true,
                        usize::from(h.count),
                        Bounds { lo: None, hi: None },
                        depth,
                        visit,
                    ),
                    Some(h) => {
                        let at = self.at(0, true, *base);
                        self.problem(Error::PageType {
                            at,
                            flags: h.flags,
                            expected: "leaf (inline bucket)",
                        })
                    }
                    None => {
                        let at = self.at(0, true, *base);
                        self.problem(Error::Element {
                            at,
                            index: 0,
                            what: "inline page shorter than its header".into(),
                        })
                    }
                }
            }
        }
    }

    fn page(
        &mut self,
        pgid: u64,
        bounds: Bounds<'_>,
        depth: usize,
        visit: &mut Visit<'_>,
    ) -> Result<(), Halt> {
        let ps = u64::from(self.db.page_size());
        let base = pgid.saturating_mul(ps);
        if depth >= MAX_DEPTH {
            let at = self.at(pgid, false, base);
            return self.problem(Error::TooDeep {
                at,
                limit: MAX_DEPTH,
            });
        }
        let mut buf = self.pool.pop().unwrap_or_default();
        let r = self.page_in(pgid, base, &mut buf, bounds, depth, visit);
        self.pool.push(buf);
        r
    }

    fn page_in(
        &mut self,
        pgid: u64,
        base: u64,
        buf: &mut Vec<u8>,
        bounds: Bounds<'_>,
        depth: usize,
        visit: &mut Visit<'_>,
    ) -> Result<(), Halt> {
        match self.db.read_page(pgid, buf) {
            Ok(()) => {}
            Err(ReadError::OutOfBounds(target)) => {
                let at = self.at(pgid, false, base);
                let hwm = self.db.hwm();
                return self.problem(Error::OutOfBounds { at, target, hwm });
            }
            Err(ReadError::Io(e)) => return self.problem(e),
        }
        let Some(h) = page::header(buf) else {
            let at = self.at(pgid, false, base);
            return self.problem(Error::Element {
                at,
                index: 0,
                what: "short page".into(),
            });
        };
        if h.id != pgid {
            let at = self.at(pgid, false, base);
            return self.problem(Error::IdMismatch { at, found: h.id });
        }
        for p in pgid..=pgid + u64::from(h.overflow) {
            if !self.mark(p) {
                let at = self.at(p, false, p * u64::from(self.db.page_size()));
                return self.problem(Error::MultipleReferences { at });
            }
        }
        if self.freelist.as_ref().is_some_and(|f| f.contains(pgid)) {
            self.problem(Error::ReachableFreed { page: pgid })?;
        }
        self.stats.overflow_pages += u64::from(h.overflow);
        let view = PageView { bytes: buf, base };
        let count = usize::from(h.count);
        match h.flags {
            BRANCH => {
                self.stats.branch_pages += 1;
                self.branch(view, pgid, count, bounds, depth, visit)
            }
            LEAF => {
                self.stats.leaf_pages += 1;
                self.leaf(view, pgid, false, count, bounds, depth, visit)
            }
            flags => {
                let at = self.at(pgid, false, base);
                self.problem(Error::PageType {
                    at,
                    flags,
                    expected: "branch or leaf",
                })
            }
        }
    }

    fn spend(&mut self) -> Result<(), Halt> {
        if self.budget == 0 {
            let limit = self.budget_limit;
            self.problems.push(Error::WorkBudget { limit });
            return Err(Halt);
        }
        self.budget -= 1;
        Ok(())
    }

    fn branch(
        &mut self,
        view: PageView<'_>,
        pgid: u64,
        count: usize,
        bounds: Bounds<'_>,
        depth: usize,
        visit: &mut Visit<'_>,
    ) -> Result<(), Halt> {
        if count == 0 {
            let at = self.at(pgid, false, view.base);
            return self.problem(Error::Element {
                at,
                index: 0,
                what: "branch page with no elements".into(),
            });
        }
        let mut prev: Option<&[u8]> = None;
        for i in 0..count {
            self.spend()?;
            let e = match view.branch(i) {
                Ok(e) => e,
                Err(what) => {
                    let at = self.at(pgid, false, view.base);
                    return self.problem(Error::Element { at, index: i, what });
                }
            };
            if let Some(what) = order_problem(i, e.key, prev, &bounds) {
                let at = self.at(pgid, false, view.base);
                return self.problem(Error::KeyOrder { at, index: i, what });
            }
            let hi = if i + 1 < count {
                match view.branch(i + 1) {
                    Ok(next) => Some(next.key),
                    Err(what) => {
                        let at = self.at(pgid, false, view.base);
                        return self.problem(Error::Element {
                            at,
                            index: i + 1,
                            what,
                        });
                    }
                }
            } else {
                bounds.hi
            };
            self.page(
                e.pgid,
                Bounds {
                    lo: Some(e.key),
                    hi,
                },
                depth + 1,
                visit,
            )?;
            prev = Some(e.key);
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn leaf(
        &mut self,
        view: PageView<'_>,
        pgid: u64,
        inline: bool,
        count: usize,
        bounds: Bounds<'_>,
        depth: usize,
        visit: &mut Visit<'_>,
    ) -> Result<(), Halt> {
        let mut prev: Option<&[u8]> = None;
        for i in 0..count {
            self.spend()?;
            let e = match view.leaf(i) {
                Ok(e) => e,
                Err(what) => {
                    let at = self.at(pgid, inline, view.base);
                    return self.problem(Error::Element { at, index: i, what });
                }
            };
            if let Some(what) = order_problem(i, e.key, prev, &bounds) {
                let at = self.at(pgid, inline, view.base);
                return self.problem(Error::KeyOrder { at, index: i, what });
            }
            prev = Some(e.key);
            self.stats.entries += 1;
            let is_bucket = e.flags & BUCKET_LEAF != 0;
            let entry = Entry {
                path: &self.path,
                key: e.key,
                value: e.value,
                is_bucket,
            };
            if visit(&entry).is_break() {
                return Err(Halt);
            }
            if is_bucket && self.recurse {
                let value_base = view.base + e.value_off as u64;
                match BucketRef::from_value(e.value, value_base) {
                    Ok(child) => {
                        self.path.push(e.key.to_vec());
                        let r = self.bucket(&child, depth + 1, visit);
                        self.path.pop();
                        r?;
                    }
                    Err(what) => {
                        let at = self.at(pgid, inline, view.base);
                        self.problem(Error::BucketHeader {
                            at,
                            key: show_key(e.key),
                            what,
                        })?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// bbolt's order rules: strictly increasing within a page, and every key of a child
/// within `[separator, next separator)` of its parent.
fn order_problem(i: usize, key: &[u8], prev: Option<&[u8]>, b: &Bounds<'_>) -> Option<String> {
    if i == 0
        && let Some(lo) = b.lo
        && key < lo
    {
        return Some(format!(
            "{} is below the parent's separator {}",
            show_key(key),
            show_key(lo)
        ));
    }
    if let Some(p) = prev
        && key <= p
    {
        return Some(format!("{} does not follow {}", show_key(key), show_key(p)));
    }
    if let Some(hi) = b.hi
        && key >= hi
    {
        return Some(format!(
            "{} is not below the next separator {}",
            show_key(key),
            show_key(hi)
        ));
    }
    None
}

impl Db {
    /// Walk every bucket from the root, nested ones included, in key order, checking the
    /// structure as `Tx.Check` does. Stops after `max_problems` problems or when `visit`
    /// breaks. Top-level bucket names arrive as entries with an empty path.
    pub fn walk(
        &self,
        max_problems: usize,
        visit: &mut dyn FnMut(&Entry<'_>) -> ControlFlow<()>,
    ) -> Report {
        Walker::new(self, max_problems, true).run(&self.root(), visit)
    }

    /// The structural check alone (bbolt `Tx.Check`), collecting up to 100 problems.
    pub fn check(&self) -> Report {
        self.walk(100, &mut |_| ControlFlow::Continue(()))
    }

    /// Visit the entries of one bucket (not descending into nested buckets), failing on the
    /// first structural problem. Entries have an empty path.
    pub fn for_each(
        &self,
        bucket: &BucketRef,
        visit: &mut dyn FnMut(&Entry<'_>) -> ControlFlow<()>,
    ) -> Result<(), Error> {
        Walker::new(self, 1, false)
            .run(bucket, visit)
            .into_result()
            .map(|_| ())
    }
}
