//! etcd's on-disk schema: snapshot files, buckets, revisions, members, WAL and snap files.
//!
//! Everything here reads files only; nothing needs a running etcd.
//!
//! # Layout
//! Snapshot files and backends:
//! - [`snapshot`]: snapshot files and their SHA-256 trailer.
//! - [`encrypted`]: age-encrypted snapshot files, decrypted on the fly.
//! - [`report`]: what `snapshot verify` and `snapshot inspect` print (hashing beside the walk).
//! - [`stream`]: the same proof and numbers, computed while a snapshot streams in (save).
//! - [`analyze`]: one pass over a backend: `snapshot status` numbers, live keys, Kubernetes view.
//! - [`keys`]: live keys under a prefix, metadata only.
//! - [`objects`]: latest values (or value digests) under a prefix; [`diff`]: two keyspaces compared.
//! - [`schema`]: the small buckets (`meta`, `members`, `cluster`, `alarm`, `auth`).
//! - [`mvcc`]: revision keys and `mvccpb.KeyValue`.
//! - [`k8s`]: Kubernetes key layout and value encodings.
//!
//! Member data dirs:
//! - [`wal`]: WAL segments: framing, CRC chain, torn tails, replay summary.
//! - [`snap`]: `.snap` files.
//! - [`raftpb`]: the raft messages inside them.
//! - [`datadir`]: one member dir summarised; [`rank`]: survivors ordered for recovery.
//! - [`live`]: whether a process holds the files (from `/proc/locks`).
//!
//! Writers (a new file each time, the source untouched):
//! - [`restore`]: new member data dirs from a snapshot: backend rewrite, WAL, snap.
//! - [`edit`]: a new snapshot with keys deleted (offline `kube delete`).
//!
//! Shared: [`proto`] (bounds-checked protobuf wire decoding), `crc` (CRC-32C combine), [`error`].

pub mod analyze;
mod copy;
mod crc;
pub mod datadir;
pub mod diff;
pub mod edit;
pub mod encrypted;
pub mod error;
pub mod k8s;
pub mod keys;
pub mod live;
pub mod mvcc;
pub mod objects;
pub mod part;
pub mod proto;
pub mod raftpb;
pub mod rank;
pub mod replay;
pub mod report;
pub mod restore;
pub mod schema;
pub mod snap;
pub mod snapshot;
pub mod stream;
pub mod wal;

pub use error::{Error, Result};

/// Member and cluster IDs as 16 lowercase hex digits, the form the rest of lifeboat's JSON
/// uses (the `members` bucket itself keys them unpadded).
pub fn hex_id(id: u64) -> String {
    format!("{id:016x}")
}
