//! Object names in a backup store, below an optional prefix:
//!
//! ```text
//! PREFIX/full/<revision, 20 digits>-<UTC, 20261122T031500Z>.db[.age]   the snapshot file
//! PREFIX/full/<same>.db[.age].json                                       its manifest
//! PREFIX/delta/<first revision, 20 digits>-<last revision, 20 digits>.seg
//! ```
//!
//! Zero-padded revisions make the store's lexical listing order the revision order. A full
//! counts only once its manifest exists: the manifest is uploaded after the snapshot, so a
//! reader never takes a half-finished full for a backup.

use serde::{Deserialize, Serialize};

use crate::time;

pub const FULL_DIR: &str = "full";
pub const DELTA_DIR: &str = "delta";
/// A manifest is small; anything larger is not ours.
pub const MAX_MANIFEST_BYTES: usize = 1 << 20;

/// What one object name says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Object {
    Full(FullName),
    Manifest(FullName),
    Delta(DeltaName),
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct FullName {
    pub revision: i64,
    /// When the snapshot was taken, whole seconds (ms since the epoch).
    pub taken_ms: i64,
    pub encrypted: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct DeltaName {
    pub first_revision: i64,
    pub last_revision: i64,
}

fn join(prefix: &str, dir: &str, file: &str) -> String {
    let prefix = prefix.trim_matches('/');
    if prefix.is_empty() {
        format!("{dir}/{file}")
    } else {
        format!("{prefix}/{dir}/{file}")
    }
}

impl FullName {
    pub fn file_name(&self) -> String {
        format!(
            "{:020}-{}.db{}",
            self.revision,
            time::compact(self.taken_ms),
            if self.encrypted { ".age" } else { "" }
        )
    }
    pub fn object(&self, prefix: &str) -> String {
        join(prefix, FULL_DIR, &self.file_name())
    }
    pub fn manifest_object(&self, prefix: &str) -> String {
        format!("{}.json", self.object(prefix))
    }
}

impl DeltaName {
    pub fn file_name(&self) -> String {
        format!("{:020}-{:020}.seg", self.first_revision, self.last_revision)
    }
    pub fn object(&self, prefix: &str) -> String {
        join(prefix, DELTA_DIR, &self.file_name())
    }
}

fn revision(digits: &str) -> Option<i64> {
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|r: &i64| *r >= 1)
}

fn parse_full(file: &str) -> Option<FullName> {
    let (stem, encrypted) = match file.strip_suffix(".db.age") {
        Some(s) => (s, true),
        None => (file.strip_suffix(".db")?, false),
    };
    let (rev, stamp) = stem.split_once('-')?;
    Some(FullName {
        revision: revision(rev)?,
        taken_ms: time::parse_compact(stamp)?,
        encrypted,
    })
}

fn parse_delta(file: &str) -> Option<DeltaName> {
    let (first, last) = file.strip_suffix(".seg")?.split_once('-')?;
    let d = DeltaName {
        first_revision: revision(first)?,
        last_revision: revision(last)?,
    };
    (d.first_revision <= d.last_revision).then_some(d)
}

/// Reads an object name (relative to the store root); `None` for anything not ours (other
/// files under the prefix are left alone and not listed).
pub fn parse(prefix: &str, name: &str) -> Option<Object> {
    let prefix = prefix.trim_matches('/');
    let rest = if prefix.is_empty() {
        name
    } else {
        name.strip_prefix(prefix)?.strip_prefix('/')?
    };
    let (dir, file) = rest.split_once('/')?;
    match dir {
        FULL_DIR => match file.strip_suffix(".json") {
            Some(full) => parse_full(full).map(Object::Manifest),
            None => parse_full(file).map(Object::Full),
        },
        DELTA_DIR => parse_delta(file).map(Object::Delta),
        _ => None,
    }
}

/// The manifest uploaded beside each full snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FullManifest {
    pub format: u32,
    pub revision: i64,
    pub cluster_id: String,
    pub member_id: String,
    pub taken_at: String,
    /// Size and SHA-256 of the object as stored (ciphertext when encrypted): what a reader
    /// checks the download against before anything else.
    pub object_size: u64,
    pub object_sha256: String,
    /// Size and SHA-256 of the snapshot file itself (with its etcd trailer).
    pub snapshot_size: u64,
    pub snapshot_sha256: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub encrypted_to: Vec<String>,
    pub lifeboat_version: String,
}

pub const MANIFEST_FORMAT: u32 = 1;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sort_by_revision() {
        let f = FullName {
            revision: 42,
            taken_ms: 1_795_000_000_000,
            encrypted: true,
        };
        let name = f.object("backups/prod/");
        assert_eq!(
            name,
            "backups/prod/full/00000000000000000042-20261118T110640Z.db.age"
        );
        assert_eq!(parse("/backups/prod", &name), Some(Object::Full(f.clone())));
        assert_eq!(
            parse("backups/prod", &f.manifest_object("backups/prod")),
            Some(Object::Manifest(f))
        );
        let d = DeltaName {
            first_revision: 9,
            last_revision: 10,
        };
        assert_eq!(parse("", &d.object("")), Some(Object::Delta(d)));
        let later = DeltaName {
            first_revision: 100,
            last_revision: 100,
        };
        assert!(d.object("") < later.object(""));
    }

    #[test]
    fn foreign_names_are_ignored() {
        for name in [
            "delta/1-2.seg",
            "delta/00000000000000000002-00000000000000000001.seg",
            "full/00000000000000000001-20261118T082640Z.txt",
            "other/00000000000000000001-00000000000000000002.seg",
            "p/delta/00000000000000000001-00000000000000000002.seg",
            "delta/00000000000000000000-00000000000000000002.seg",
        ] {
            assert_eq!(parse("", name), None, "{name}");
        }
    }
}

/// Names for the unit tests of the chain and of retention (plain fulls, no manifest).
#[cfg(test)]
pub(crate) mod test_names {
    use super::{DeltaName, FullName};

    pub(crate) fn full(revision: i64, taken_ms: i64) -> FullName {
        FullName {
            revision,
            taken_ms,
            encrypted: false,
        }
    }

    pub(crate) fn delta(first: i64, last: i64) -> DeltaName {
        DeltaName {
            first_revision: first,
            last_revision: last,
        }
    }
}
