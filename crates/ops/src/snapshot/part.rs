//! The `.part` file a save streams into: `store::part` names it per process and removes the
//! leftovers of saves that are gone; here only its errors become [`OpsError`]s.

use std::path::{Path, PathBuf};

use crate::OpsError;

pub use store::part::part_name;

/// Parts of `stem` whose save is gone, removed; returns them (see `store::part::remove_stale`).
pub fn remove_stale(stem: &Path) -> Result<Vec<PathBuf>, OpsError> {
    store::part::remove_stale(stem).map_err(|e| OpsError::LocalIo {
        path: e.path,
        source: e.source,
    })
}
