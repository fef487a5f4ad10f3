//! In-order traversal of every bucket with the structural checks of bbolt's `Tx.Check`
//! done on the way, so one pass both reads the data and proves the tree sound.

use std::ops::ControlFlow;

use crate::bucket::BucketRef;
use crate::db::{Db, MAX_DEPTH, ReadError};
use crate::error::{Error, Where};
use crate::freelist::Freelist;
use crate::page::{self, BRANCH, BUCKET_LEAF, FREELIST, LEAF, PageView};
use crate::pageset::PageSet;
use crate::source::ReadAhead;
use crate::warning::Warning;

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

/// Result of a walk: problems found (empty when sound), findings that leave the data
/// readable, and counters.
#[derive(Debug)]
pub struct Report {
    /// The tree from the meta in use breaks a `Tx.Check` rule: the data is unsound.
    pub problems: Vec<Error>,
    /// Freelist, spare meta and past-the-mark findings (full walks only).
    pub warnings: Vec<Warning>,
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
    reached: PageSet,
    freelist: Option<Freelist>,
    stale: Stale,
    path: Vec<Vec<u8>>,
    problems: Vec<Error>,
    warnings: Vec<Warning>,
    max_problems: usize,
    /// Elements still allowed: a sound file cannot hold more than len/16, so overlapping
    /// elements in a crafted file cannot make the walk explode.
    budget: u64,
    budget_limit: u64,
    recurse: bool,
    /// The walk starts at the db's root bucket, where only buckets may live.
    from_db_root: bool,
    pool: Vec<Vec<u8>>,
    /// Pages come mostly in file order: read them in larger pieces.
    ahead: ReadAhead,
    stats: Stats,
}

impl<'d> Walker<'d> {
    pub(crate) fn new(db: &'d Db, max_problems: usize, recurse: bool) -> Self {
        let limit = db.region_len() / 16 + 1024;
        let mut w = Walker {
            db,
            reached: PageSet::new(db.hwm()),
            freelist: None,
            stale: Stale::default(),
            path: Vec::new(),
            problems: Vec::new(),
            warnings: Vec::new(),
            max_problems: max_problems.max(1),
            budget: limit,
            budget_limit: limit,
            recurse,
            from_db_root: false,
            pool: Vec::new(),
            ahead: ReadAhead::new(),
            stats: Stats::default(),
        };
        w.reached.mark(0);
        w.reached.mark(1);
        // Like a read-only bbolt open, only a full check looks at the freelist, and what it
        // finds there never makes the data unsound.
        if recurse {
            w.warnings.extend(db.meta_warnings().iter().cloned());
            match Freelist::load(db) {
                Ok(Some(fl)) => {
                    w.stale.out_of_range = fl.out_of_range;
                    w.stale.double_freed = fl.double_freed;
                    w.freelist = Some(fl);
                }
                Ok(None) => {}
                Err(what) => w.warnings.push(Warning::FreelistUnreadable {
                    page: db.meta().freelist,
                    what,
                }),
            }
        }
        w
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
        self.from_db_root = *root == self.db.root();
        let stopped = if self.problems.len() >= self.max_problems {
            true
        } else {
            self.bucket(root, 0, visit).is_err()
        };
        if self.recurse {
            if !stopped {
                self.finish();
            }
            if let Some(w) = past_high_water(self.db) {
                self.warnings.push(w);
            }
        }
        Report {
            problems: self.problems,
            warnings: self.warnings,
            stopped,
            stats: self.stats,
        }
    }

    /// Pages below the high-water mark that nothing references are free: with no freelist
    /// persisted bbolt rebuilds it this way; a persisted one must list them (`unreachable
    /// unfreed`), or it is stale.
    fn finish(&mut self) {
        let hwm = self.db.hwm();
        let own: Vec<u64> = self
            .freelist
            .as_ref()
            .map(|f| f.own_pages().collect())
            .unwrap_or_default();
        for &p in &own {
            if self.reached.contains(p) {
                self.stale.own_reached += 1;
                self.stale.first.get_or_insert(p);
            } else {
                self.reached.mark(p);
            }
        }
        for p in 2..hwm {
            if self.reached.contains(p) {
                continue;
            }
            self.stats.free_pages += 1;
            if self.freelist.as_ref().is_some_and(|f| !f.contains(p)) {
                self.stale.unreachable_unfreed += 1;
                self.stale.first.get_or_insert(p);
            }
        }
        if let Some(fl) = &self.freelist
            && let Some(what) = self.stale.describe()
        {
            self.warnings.push(Warning::FreelistStale {
                page: fl.page,
                what,
            });
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
        match self.db.read_page_ahead(pgid, buf, &mut self.ahead) {
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
            if !self.reached.mark(p) {
                let at = self.at(p, false, p * u64::from(self.db.page_size()));
                return self.problem(Error::MultipleReferences { at });
            }
        }
        if self.freelist.as_ref().is_some_and(|f| f.contains(pgid)) {
            self.stale.reachable_freed += 1;
            self.stale.first.get_or_insert(pgid);
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
            if !is_bucket && self.from_db_root && self.path.is_empty() {
                let at = self.at(pgid, inline, view.base);
                let what = crate::stream::ROOT_PLAIN.to_string();
                return self.problem(Error::Element { at, index: i, what });
            }
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

/// How a persisted freelist disagrees with the tree, counted rather than listed: a stale
/// freelist disagrees on many pages at once, and one finding says it all.
#[derive(Default)]
struct Stale {
    reachable_freed: u64,
    unreachable_unfreed: u64,
    own_reached: u64,
    double_freed: u64,
    out_of_range: u64,
    first: Option<u64>,
}

impl Stale {
    fn describe(&self) -> Option<String> {
        let parts: Vec<String> = [
            (self.reachable_freed, "reachable page(s) listed as free"),
            (self.unreachable_unfreed, "unreachable page(s) not listed"),
            (self.own_reached, "of its own page(s) also in the tree"),
            (self.double_freed, "page id(s) listed twice"),
            (self.out_of_range, "page id(s) outside [2, high-water mark)"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        if parts.is_empty() {
            return None;
        }
        let first = self
            .first
            .map_or(String::new(), |p| format!(" (first: page {p})"));
        Some(format!("{}{first}", parts.join(", ")))
    }
}

/// Bytes past the mark are only looked at this far: bbolt grows a file by at most 1 GiB
/// at a time, and a later transaction's pages sit right after the mark.
const PAST_HWM_SCAN: u64 = 256 << 20;

/// Pages past the high-water mark whose header names them (id == page number, branch,
/// leaf or freelist): written by a transaction newer than the meta in use. Zeros (bbolt
/// grows the file ahead of use) and anything else are ignored.
fn past_high_water(db: &Db) -> Option<Warning> {
    let ps = u64::from(db.page_size());
    let hwm = db.hwm();
    let start = hwm.checked_mul(ps)?;
    let end = db.region_len().min(start.saturating_add(PAST_HWM_SCAN));
    let pages_per_read = 64u64;
    let mut buf = Vec::new();
    let (mut count, mut first) = (0u64, None);
    let mut at = start;
    while at.saturating_add(ps) <= end {
        let n = ((end - at) / ps).min(pages_per_read);
        buf.resize((n * ps) as usize, 0);
        if db.read_raw(&mut buf, at).is_err() {
            break;
        }
        for i in 0..n {
            let pgid = at / ps + i;
            let named = page::header(&buf[(i * ps) as usize..])
                .is_some_and(|h| h.id == pgid && matches!(h.flags, BRANCH | LEAF | FREELIST));
            if named {
                count += 1;
                first.get_or_insert(pgid);
            }
        }
        at += n * ps;
    }
    first.map(|first| Warning::PastHighWater {
        hwm,
        pages: count,
        first,
        txid: db.meta().txid,
    })
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

    /// The findings that need no walk: the meta twins, a freelist page that is not one, and
    /// pages past the high-water mark. A stale but readable freelist needs [`Db::check`].
    pub fn quick_warnings(&self) -> Vec<Warning> {
        let mut out = self.meta_warnings().to_vec();
        if let Err(what) = Freelist::load(self) {
            out.push(Warning::FreelistUnreadable {
                page: self.meta().freelist,
                what,
            });
        }
        out.extend(past_high_water(self));
        out
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
