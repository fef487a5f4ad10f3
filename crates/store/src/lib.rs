//! etcd's on-disk schema: snapshot files, buckets, revisions, members, WAL and snap files.
//!
//! Everything here reads files only; nothing needs a running etcd.
//!
//! # Layout
//! - [`snapshot`]: snapshot files and their SHA-256 trailer.
//! - [`analyze`]: one pass over a backend: `snapshot status` numbers, live keys, Kubernetes view.
//! - [`schema`]: the small buckets (`meta`, `members`, `cluster`, `alarm`, `auth`).
//! - [`mvcc`]: revision keys and `mvccpb.KeyValue`.
//! - [`kube`]: Kubernetes key layout and value encodings.
//! - [`proto`]: bounds-checked protobuf wire decoding.
//! - [`error`]: errors naming the file.

pub mod analyze;
pub mod error;
pub mod kube;
pub mod mvcc;
pub mod proto;
pub mod schema;
pub mod snapshot;

pub use error::{Error, Result};

/// Member and cluster IDs as 16 lowercase hex digits, the form the rest of lifeboat's JSON
/// uses (the `members` bucket itself keys them unpadded).
pub fn hex_id(id: u64) -> String {
    format!("{id:016x}")
}
pub mod datadir;
pub mod keys;
pub mod live;
pub mod raftpb;
pub mod rank;
pub mod report;
pub mod snap;
pub mod wal;
