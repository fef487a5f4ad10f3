use std::fmt;

/// Where in the file a problem sits: bucket path, page id and absolute byte offset.
///
/// Inline buckets live inside a parent's value, so their page id is 0 and `inline` is set;
/// the offset still points into the file so a hex dump finds the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Where {
    pub bucket: String,
    pub page: u64,
    pub inline: bool,
    pub offset: u64,
}

impl fmt::Display for Where {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = if self.bucket.is_empty() {
            "<root>"
        } else {
            &self.bucket
        };
        if self.inline {
            write!(f, "bucket {b:?}, inline page at offset {}", self.offset)
        } else {
            write!(
                f,
                "bucket {b:?}, page {}, offset {}",
                self.page, self.offset
            )
        }
    }
}

/// Why a meta page was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MetaProblem {
    #[error("file too short to hold this meta page")]
    Short,
    #[error("bad magic {0:#010x} (want 0xed0cdaed)")]
    Magic(u32),
    #[error(
        "big-endian bbolt file (written on s390x or similar); only little-endian files are supported"
    )]
    BigEndian,
    #[error("unsupported version {0} (want 2)")]
    Version(u32),
    #[error("checksum mismatch: stored {stored:#018x}, computed {computed:#018x}")]
    Checksum { stored: u64, computed: u64 },
}

/// Everything that can go wrong while reading a bbolt file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("read of {len} bytes at offset {offset} failed: {source}")]
    Io {
        offset: u64,
        len: usize,
        #[source]
        source: std::io::Error,
    },
    #[error("not a bbolt file: neither meta page is valid (meta 0: {meta0}; meta 1: {meta1})")]
    NotBolt {
        meta0: MetaProblem,
        meta1: MetaProblem,
    },
    #[error(
        "big-endian bbolt file (written on s390x or similar); only little-endian files are supported"
    )]
    BigEndian,
    #[error("meta page {meta}: unsupported page size {page_size}")]
    PageSize { meta: u8, page_size: u32 },
    #[error("meta page {meta} is invalid: {problem}")]
    Meta { meta: u8, problem: MetaProblem },
    #[error("meta page {meta}: {what}")]
    MetaField { meta: u8, what: String },
    #[error(
        "truncated: meta says {hwm} pages of {page_size} bytes ({need} bytes), but only {have} bytes are there"
    )]
    Truncated {
        hwm: u64,
        page_size: u32,
        need: u64,
        have: u64,
    },
    #[error("{at}: page id {target} is out of bounds (high-water mark {hwm})")]
    OutOfBounds { at: Where, target: u64, hwm: u64 },
    #[error("{at}: page header says id {found}")]
    IdMismatch { at: Where, found: u64 },
    #[error("{at}: unexpected page type (flags {flags:#06x}), expected {expected}")]
    PageType {
        at: Where,
        flags: u16,
        expected: &'static str,
    },
    #[error("{at}: element {index}: {what}")]
    Element {
        at: Where,
        index: usize,
        what: String,
    },
    #[error("{at}: key {index} is not in order: {what}")]
    KeyOrder {
        at: Where,
        index: usize,
        what: String,
    },
    #[error("{at}: key {key}: bad bucket header: {what}")]
    BucketHeader {
        at: Where,
        key: String,
        what: String,
    },
    #[error("{at}: page referenced more than once (cycle or shared subtree)")]
    MultipleReferences { at: Where },
    #[error("{at}: tree deeper than {limit} levels")]
    TooDeep { at: Where, limit: usize },
    #[error("walk visited more elements than the file can hold ({limit}); elements overlap")]
    WorkBudget { limit: u64 },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
