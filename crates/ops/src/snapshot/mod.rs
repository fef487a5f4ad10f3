//! Snapshots taken from a live member: streamed to a `.part` file, proven sound (SHA-256
//! trailer, bbolt structure, etcd schema) before they get their final name, with a manifest
//! beside them and optional retention.

mod retain;
mod save;

pub use retain::{is_managed_name, managed_name, prune};
pub use save::{Manifest, SaveOutcome, SaveRequest, SaveTarget, save};
