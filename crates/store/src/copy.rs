//! Copying an etcd backend while appending to its `key` bucket: the one walk that offline
//! edits ([`crate::edit`]) and replays of a delta log ([`crate::replay`]) share. Every bucket,
//! key and value is copied in order by bbolt's compact writer; new revisions are appended at
//! the end of the `key` bucket, after the newest revision already there.

use std::io::{Seek, Write};
use std::ops::ControlFlow;

use bolt::{Db, Writer};

use crate::mvcc::Revision;

/// Why a backend could not be copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CopyProblem {
    /// The source's tree is unsound (the first problem, naming the page).
    Structure(String),
    /// No `key` bucket: the file is bbolt but not an etcd backend.
    NoKeyBucket,
}

impl std::fmt::Display for CopyProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CopyProblem::Structure(p) => write!(f, "bbolt structure: {p}"),
            CopyProblem::NoKeyBucket => f.write_str("no key bucket: not an etcd backend"),
        }
    }
}

/// Copies `db` into `w`; when the `key` bucket's own entries end, calls `append(w, last)`
/// with the newest main revision found there, and returns what it returned with that
/// revision. The writer is left with every bucket closed, ready for `finish`.
pub(crate) fn copy_appending_to_key<W, T, E>(
    db: &Db,
    w: &mut Writer<W>,
    mut append: impl FnMut(&mut Writer<W>, i64) -> Result<T, E>,
) -> Result<(T, i64), E>
where
    W: Write + Seek,
    E: From<bolt::WriteError> + From<CopyProblem>,
{
    let mut last_main = 0i64;
    let mut in_key = false;
    let mut appended: Option<T> = None;
    let mut failed: Option<E> = None;
    let report = db.walk(1, &mut |e| {
        let step = (|| -> Result<(), E> {
            let depth = e.path.len();
            while w.depth() > depth {
                if w.depth() == 1 && in_key {
                    appended = Some(append(w, last_main)?);
                    in_key = false;
                }
                w.end_bucket()?;
            }
            if depth == 1
                && in_key
                && let Some(m) = Revision::main_of(e.key)
            {
                last_main = last_main.max(m);
            }
            if e.is_bucket {
                // A bucket's header: root page (8 bytes), then its sequence.
                let seq = e
                    .value
                    .get(8..16)
                    .and_then(|s| <[u8; 8]>::try_from(s).ok())
                    .map_or(0, u64::from_le_bytes);
                w.begin_bucket(e.key, seq)?;
                if depth == 0 {
                    in_key = e.key == b"key";
                }
            } else {
                w.put(e.key, e.value)?;
            }
            Ok(())
        })();
        match step {
            Ok(()) => ControlFlow::Continue(()),
            Err(err) => {
                failed = Some(err);
                ControlFlow::Break(())
            }
        }
    });
    if let Some(err) = failed {
        return Err(err);
    }
    if let Some(p) = report.problems.into_iter().next() {
        return Err(CopyProblem::Structure(p.to_string()).into());
    }
    while w.depth() > 0 {
        if w.depth() == 1 && in_key {
            appended = Some(append(w, last_main)?);
            in_key = false;
        }
        w.end_bucket()?;
    }
    match appended {
        Some(t) => Ok((t, last_main)),
        None => Err(CopyProblem::NoKeyBucket.into()),
    }
}
