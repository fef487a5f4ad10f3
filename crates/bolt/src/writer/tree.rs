//! One bucket's B+tree, built bottom-up while its sorted keys stream in: each level keeps only
//! the page it is filling; a full page is written at once and its (first key, pgid) goes up a
//! level. Memory is one page per level, whatever the bucket size.

use super::page::{Elem, content_size};

/// bbolt's element count is a u16.
const MAX_COUNT: usize = u16::MAX as usize;

pub(crate) struct Level {
    pub elems: Vec<Elem>,
    pub size: usize,
    /// A page of this level was already written: the level cannot be the root.
    pub flushed: bool,
}

impl Level {
    fn new() -> Level {
        Level {
            elems: Vec::new(),
            size: content_size(&[]),
            flushed: false,
        }
    }
}

/// Where full pages go: the writer assigns page ids and writes the bytes.
pub(crate) trait PageSink {
    fn write_page(&mut self, elems: &[Elem]) -> std::io::Result<u64>;
    fn page_size(&self) -> usize;
}

pub(crate) struct Tree {
    /// `levels[0]` are leaves; higher levels are branches.
    pub levels: Vec<Level>,
    pub sequence: u64,
    pub has_child_bucket: bool,
    pub last_key: Option<Vec<u8>>,
}

impl Tree {
    pub fn new(sequence: u64) -> Tree {
        Tree {
            levels: vec![Level::new()],
            sequence,
            has_child_bucket: false,
            last_key: None,
        }
    }

    /// Adds an element at `level`, writing the level's page first if the element would not fit.
    /// A page holds at least one element, so an oversized one gets overflow pages of its own.
    pub fn push(&mut self, sink: &mut dyn PageSink, level: usize, e: Elem) -> std::io::Result<()> {
        if self.levels.len() <= level {
            self.levels.push(Level::new());
        }
        let ps = sink.page_size();
        let l = &self.levels[level];
        if !l.elems.is_empty() && (l.size + e.size() > ps || l.elems.len() >= MAX_COUNT) {
            self.flush(sink, level)?;
        }
        let l = &mut self.levels[level];
        l.size += e.size();
        l.elems.push(e);
        Ok(())
    }

    /// Writes the page `level` is filling and hands its separator to the level above.
    fn flush(&mut self, sink: &mut dyn PageSink, level: usize) -> std::io::Result<()> {
        let elems = std::mem::take(&mut self.levels[level].elems);
        self.levels[level].size = content_size(&[]);
        self.levels[level].flushed = true;
        let Some(first) = elems.first() else {
            return Ok(());
        };
        let key = first.key().to_vec();
        let pgid = sink.write_page(&elems)?;
        self.push(sink, level + 1, Elem::Branch { key, pgid })
    }

    /// The bucket's contents fit in one unwritten leaf: the caller may store it inline.
    pub fn single_leaf(&self) -> Option<&[Elem]> {
        (self.levels.len() == 1 && !self.levels[0].flushed).then(|| self.levels[0].elems.as_slice())
    }

    /// Writes what is pending, level by level, and returns the root page id. The first level
    /// that never had to write a page holds everything above the written ones: it is the root.
    pub fn finish(&mut self, sink: &mut dyn PageSink) -> std::io::Result<u64> {
        let mut level = 0;
        loop {
            let top = level + 1 == self.levels.len();
            if top && !self.levels[level].flushed {
                let elems = std::mem::take(&mut self.levels[level].elems);
                return sink.write_page(&elems);
            }
            if !self.levels[level].elems.is_empty() {
                self.flush(sink, level)?;
            }
            level += 1;
        }
    }
}
