//! Continuous backup of an etcd cluster to object storage (docs/backup.md).
//!
//! # Layout
//! - [`layout`]: object names of full snapshots, their manifests and delta segments.
//! - [`segment`]: the delta segment format: header, events, SHA-256 trailer; strict decoding.
//! - [`chain`]: which full and which segments rebuild a revision or a time; gaps and overlaps.
//! - [`rebuild`]: a full plus segments replayed into one verified snapshot file.
//! - [`time`]: UTC times as object names and RFC 3339 use them.
//!
//! Synchronous; only [`rebuild`] touches files.

pub mod chain;
pub mod layout;
pub mod rebuild;
pub mod segment;
pub mod time;
