//! Reader for bbolt database files (the storage engine under etcd), and a compact writer
//! that produces fresh ones (restore never edits a file in place).
//!
//! Knows nothing of etcd: pages, meta, buckets, an in-order walk and a structural check.
//! Only the tree reachable from the chosen meta page is read, so stale copies of old
//! leaves in freed pages are never mistaken for data.
//!
//! # Layout
//! - [`source`]: where bytes come from (`pread` on a file, or memory for tests).
//! - [`meta`]: meta pages: decoding, FNV-1a checksum, endianness detection.
//! - `page`: bounds-checked views of page headers and branch/leaf elements.
//! - `pageset`: the bitset of reached pages (every page referenced once).
//! - [`db`]: opening a file: page-size discovery, meta choice, page reads, point lookups.
//! - [`bucket`]: bucket handles (page-rooted or inline).
//! - [`stream`]: the same check done on bytes as they stream in, in file order.
//! - [`walk`]: in-order traversal of all buckets with the `Tx.Check` rules applied on the way.
//! - `freelist`: the persisted freelist, when there is one (never needed for reading).
//! - [`warning`]: findings that leave the data readable (freelist, meta twins, past the mark).
//! - [`error`]: typed errors naming bucket, page and file offset.
//! - [`writer`]: a compact writer: a fresh file streamed from sorted key/values.

pub mod bucket;
pub mod db;
pub mod error;
mod freelist;
pub mod meta;
mod page;
mod pageset;
pub mod source;
pub mod stream;
pub mod walk;
pub mod warning;
pub mod writer;

pub use bucket::BucketRef;
pub use db::Db;
pub use error::{Error, MetaProblem, Where};
pub use meta::{Meta, NO_FREELIST};
pub use source::{FileSource, Source};
pub use walk::{Entry, Report, Stats, show_key};
pub use warning::Warning;
pub use writer::{WriteError, Writer, Written};
