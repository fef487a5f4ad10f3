//! Continuous backup of an etcd cluster to object storage (docs/backup.md).
//!
//! # Layout
//! - [`check`]: `backup list` and `backup verify`.
//! - [`layout`]: object names of full snapshots, their manifests and delta segments.
//! - [`segment`]: the delta segment format: header, events, SHA-256 trailer; strict decoding.
//! - [`agent`]: full snapshots and the delta log (disk spool, ordered uploads), written to the store.
//! - [`chain`]: which full and which segments rebuild a revision or a time; gaps and overlaps.
//! - [`rebuild`]: a full plus segments replayed into one verified snapshot file.
//! - [`publish`]: uploads of fulls (object, then manifest) and segments.
//! - [`remote`]: the object store (file://, s3://): listing, bounded downloads, atomic uploads.
//! - [`restore`]: `backup restore`: plan, download, check, rebuild.
//! - [`restore_full`]: a full fetched and checked (manifest and trailer) in one pass.
//! - [`retention`]: which fulls and segments `--keep-*` keeps (a pure selection).
//! - [`time`]: UTC times as object names and RFC 3339 use them.
//!
//! [`remote`] is async (tokio); the rest is synchronous.

pub mod agent;
pub mod chain;
pub mod check;
pub mod layout;
pub mod publish;
pub mod rebuild;
pub mod remote;
pub mod restore;
pub mod restore_full;
pub mod retention;
pub mod segment;
pub mod time;
