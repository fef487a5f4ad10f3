//! The persisted freelist, when there is one. etcd runs with NoFreelistSync on Linux, so
//! usually there is none and unreachable pages are simply free. Reading never needs it (a
//! read-only bbolt open does not load it); only the full check compares it with the tree.

use std::collections::HashSet;

use crate::db::{Db, ReadError};
use crate::meta::NO_FREELIST;
use crate::page::{self, FREELIST, HEADER, u64_at};

pub(crate) struct Freelist {
    pub page: u64,
    overflow: u64,
    free: HashSet<u64>,
    /// Ids listed more than once.
    pub double_freed: u64,
    /// Ids outside `[2, hwm)`.
    pub out_of_range: u64,
}

impl Freelist {
    /// The freelist the meta names, or why the page named is not one.
    pub fn load(db: &Db) -> Result<Option<Freelist>, String> {
        let pgid = db.meta().freelist;
        if pgid == NO_FREELIST {
            return Ok(None);
        }
        if pgid < 2 {
            return Err(format!("page {pgid} is a meta page"));
        }
        let mut buf = Vec::new();
        match db.read_page(pgid, &mut buf) {
            Ok(()) => {}
            Err(ReadError::OutOfBounds(t)) => {
                return Err(format!(
                    "page {t} is past the high-water mark {}",
                    db.meta().pgid
                ));
            }
            Err(ReadError::Io(e)) => return Err(e.to_string()),
        }
        let h = page::header(&buf).ok_or("short page")?;
        if h.id != pgid {
            return Err(format!("page header says id {}", h.id));
        }
        if h.flags != FREELIST {
            return Err(format!(
                "flags {:#06x}, expected freelist 0x0010 (the page was reused since the meta was written)",
                h.flags
            ));
        }
        // count 0xFFFF means the real count is the first u64 after the header.
        let (count, start) = if h.count == 0xFFFF {
            (
                u64_at(&buf, HEADER).ok_or("missing extended count")?,
                HEADER + 8,
            )
        } else {
            (u64::from(h.count), HEADER)
        };
        let avail = (buf.len() - start.min(buf.len())) as u64 / 8;
        if count > avail {
            return Err(format!(
                "{count} ids do not fit in the page ({avail} would)"
            ));
        }
        let mut fl = Freelist {
            page: pgid,
            overflow: u64::from(h.overflow),
            free: HashSet::with_capacity(count as usize),
            double_freed: 0,
            out_of_range: 0,
        };
        for i in 0..count as usize {
            let id = u64_at(&buf, start + i * 8).unwrap_or(0);
            if id < 2 || id >= db.meta().pgid {
                fl.out_of_range += 1;
            } else if !fl.free.insert(id) {
                fl.double_freed += 1;
            }
        }
        Ok(Some(fl))
    }

    /// Pages holding the freelist itself.
    pub fn own_pages(&self) -> impl Iterator<Item = u64> + use<> {
        self.page..=self.page + self.overflow
    }

    pub fn contains(&self, p: u64) -> bool {
        self.free.contains(&p)
    }
}
