//! Snapshots taken from a live member: streamed to a `.part` file, proven sound (SHA-256
//! trailer, bbolt structure, etcd schema) before they get their final name, with a manifest
//! beside them, optional retention, and optional age encryption on the way to disk.

mod encrypt;
mod part;
mod prove;
mod readback;
mod retain;
mod save;

pub use encrypt::Encryption;
pub use retain::{is_managed_name, managed_name, prune};
pub use save::{Manifest, SaveOutcome, SaveRequest, SaveTarget, save, save_with};
