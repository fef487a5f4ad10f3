//! Findings that leave the data readable: the tree from the meta in use is what bbolt reads,
//! and a read-only open never looks at the freelist, the spare meta or the bytes past the
//! high-water mark. They still matter to whoever starts etcd on the file, so each says what
//! a read-write open would do with it.

/// Something wrong outside the tree the data comes from. Never "unsound data".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Warning {
    /// The meta names a freelist page that is not one (reused, overwritten or out of range).
    #[error(
        "freelist page {page} cannot be read: {what}; the data does not depend on it, but bbolt \
         would refuse the file (or allocate from garbage) when etcd opens it read-write: restore \
         from this file (`lifeboat snapshot restore` writes a fresh one) instead of starting etcd on it"
    )]
    FreelistUnreadable { page: u64, what: String },
    /// The freelist reads, but disagrees with the tree the meta names.
    #[error(
        "freelist page {page} is stale: {what}; the data does not depend on it, but a read-write \
         open would hand live pages out again: restore from this file instead of starting etcd on it"
    )]
    FreelistStale { page: u64, what: String },
    /// The two meta pages are not the two latest commits of one file.
    #[error("meta pages disagree: {what}")]
    MetaTwins { what: String },
    /// Pages past the high-water mark carry page headers: a later transaction wrote them, but
    /// its meta page is not in this file. That transaction may also have reused pages the
    /// tree read here still names, so the data shown can mix transactions.
    #[error(
        "{pages} page(s) past the high-water mark {hwm} hold page headers (first: page {first}): \
         a later transaction wrote them but its meta page is not in this file (copied while etcd \
         was writing, or the last commit was torn); the tree of txid {txid} is read, but pages it \
         freed may already hold newer data, so treat what is shown as possibly mixed and take a \
         consistent copy (`lifeboat snapshot save`, or copy with etcd stopped) if the member still runs"
    )]
    PastHighWater {
        hwm: u64,
        pages: u64,
        first: u64,
        txid: u64,
    },
}

impl Warning {
    /// Stable name for scripts (`-o json`).
    pub fn kind(&self) -> &'static str {
        match self {
            Warning::FreelistUnreadable { .. } => "freelist_unreadable",
            Warning::FreelistStale { .. } => "freelist_stale",
            Warning::MetaTwins { .. } => "meta_twins",
            Warning::PastHighWater { .. } => "past_high_water",
        }
    }
}
