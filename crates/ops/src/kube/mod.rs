//! Kubernetes objects through etcd, for when the API server cannot be used: read them, delete
//! one with a backup of what was removed, put a backup back. Online only here (a live etcd with
//! a leader); the offline counterparts read and write snapshots (`store::objects`, `store::edit`).
//!
//! Every write is a transaction that compares revisions, so a concurrent writer (the API server
//! coming back, a controller) makes it fail instead of being overwritten.

mod backup;
mod online;
pub mod sample;

pub use backup::{Backup, write_backup, write_backup_sealed};
pub use online::{
    DeleteOutcome, PutOutcome, connect_any, delete_if_unchanged, digests, get, list, put_backup,
};
