//! The persisted freelist, when there is one. etcd runs with NoFreelistSync on Linux, so
//! usually there is none and unreachable pages are simply free.

use std::collections::HashSet;

use crate::db::{Db, ReadError};
use crate::error::Error;
use crate::meta::NO_FREELIST;
use crate::page::{self, FREELIST, HEADER, u64_at};

pub(crate) struct Freelist {
    page: u64,
    overflow: u64,
    free: HashSet<u64>,
    pub problems: Vec<Error>,
}

impl Freelist {
    pub fn load(db: &Db) -> Result<Option<Freelist>, Error> {
        let pgid = db.meta().freelist;
        if pgid == NO_FREELIST {
            return Ok(None);
        }
        let bad = |what: String| Error::Freelist { page: pgid, what };
        let mut buf = Vec::new();
        match db.read_page(pgid, &mut buf) {
            Ok(()) => {}
            Err(ReadError::OutOfBounds(t)) => {
                return Err(bad(format!("page {t} is past the high-water mark")));
            }
            Err(ReadError::Io(e)) => return Err(e),
        }
        let h = page::header(&buf).ok_or_else(|| bad("short page".into()))?;
        if h.id != pgid {
            return Err(bad(format!("page header says id {}", h.id)));
        }
        if h.flags != FREELIST {
            return Err(bad(format!(
                "flags {:#06x}, expected freelist 0x0010",
                h.flags
            )));
        }
        // count 0xFFFF means the real count is the first u64 after the header.
        let (count, start) = if h.count == 0xFFFF {
            (
                u64_at(&buf, HEADER).ok_or_else(|| bad("missing extended count".into()))?,
                HEADER + 8,
            )
        } else {
            (u64::from(h.count), HEADER)
        };
        let avail = (buf.len() - start.min(buf.len())) as u64 / 8;
        if count > avail {
            return Err(bad(format!(
                "{count} ids do not fit in the page ({avail} would)"
            )));
        }
        let mut free = HashSet::with_capacity(count as usize);
        let mut problems = Vec::new();
        for i in 0..count as usize {
            let id = u64_at(&buf, start + i * 8).unwrap_or(0);
            if id < 2 || id >= db.meta().pgid {
                problems.push(bad(format!(
                    "free page id {id} outside [2, {})",
                    db.meta().pgid
                )));
            } else if !free.insert(id) {
                problems.push(Error::AlreadyFreed { page: id });
            }
        }
        Ok(Some(Freelist {
            page: pgid,
            overflow: u64::from(h.overflow),
            free,
            problems,
        }))
    }

    /// Pages holding the freelist itself.
    pub fn own_pages(&self) -> impl Iterator<Item = u64> + use<> {
        self.page..=self.page + self.overflow
    }

    pub fn contains(&self, p: u64) -> bool {
        self.free.contains(&p)
    }
}
