//! Managed backup names in a directory, `etcd-<cluster-id>-<UTC time>-rev<revision>.db`, and
//! pruning beyond the newest N. Only files with exactly that shape (and their `.json` manifests)
//! are ever removed: a hand-made file in the same directory is never touched.

use std::path::{Path, PathBuf};

use crate::OpsError;

pub fn managed_name(cluster_id: &str, stamp: &str, revision: i64) -> String {
    format!("etcd-{cluster_id}-{stamp}-rev{revision}.db")
}

/// The cluster ID of a managed name, or `None` when the name is not one of ours.
pub fn is_managed_name(name: &str) -> Option<&str> {
    let rest = name.strip_prefix("etcd-")?;
    let rest = rest
        .strip_suffix(".db.age")
        .or_else(|| rest.strip_suffix(".db"))?;
    let (cluster, rest) = rest.split_once('-')?;
    let (stamp, rev) = rest.split_once("-rev")?;
    let hex = cluster.len() == 16 && cluster.bytes().all(|b| b.is_ascii_hexdigit());
    let stamp_ok = stamp.len() == 16
        && stamp.as_bytes()[8] == b'T'
        && stamp.ends_with('Z')
        && stamp[..8].bytes().all(|b| b.is_ascii_digit())
        && stamp[9..15].bytes().all(|b| b.is_ascii_digit());
    let rev_ok = !rev.is_empty() && rev.bytes().all(|b| b.is_ascii_digit());
    (hex && stamp_ok && rev_ok).then_some(cluster)
}

/// Removes managed backups of `cluster_id` in `dir` beyond the newest `keep` (by the time in the
/// name), with their manifests. Returns what was removed.
pub fn prune(dir: &Path, cluster_id: &str, keep: usize) -> Result<Vec<PathBuf>, OpsError> {
    let io = |source| OpsError::LocalIo {
        path: dir.to_path_buf(),
        source,
    };
    let mut ours: Vec<(String, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_managed_name(&name) == Some(cluster_id) && entry.path().is_file() {
            // The name after the cluster ID starts with the timestamp: it sorts by time.
            ours.push((name, entry.path()));
        }
    }
    ours.sort();
    let excess = ours.len().saturating_sub(keep);
    let mut removed = Vec::new();
    for (_, path) in ours.into_iter().take(excess) {
        std::fs::remove_file(&path).map_err(|source| OpsError::LocalIo {
            path: path.clone(),
            source,
        })?;
        let manifest = crate::files::with_suffix(&path, ".json");
        if manifest.is_file() {
            let _ = std::fs::remove_file(&manifest);
        }
        removed.push(path);
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_strangers_are_rejected() {
        let n = managed_name("a30a42b1dc45e821", "20261122T031500Z", 37);
        assert_eq!(n, "etcd-a30a42b1dc45e821-20261122T031500Z-rev37.db");
        assert_eq!(is_managed_name(&n), Some("a30a42b1dc45e821"));
        assert_eq!(
            is_managed_name(&format!("{n}.age")),
            Some("a30a42b1dc45e821")
        );
        for stranger in [
            "etcd-backup.db",
            "etcd-a30a42b1dc45e821-yesterday-rev37.db",
            "etcd-a30a42b1dc45e821-20261122T031500Z-rev.db",
            "etcd-xyz-20261122T031500Z-rev37.db",
            "my-etcd-a30a42b1dc45e821-20261122T031500Z-rev37.db",
        ] {
            assert_eq!(is_managed_name(stranger), None, "{stranger}");
        }
    }

    #[test]
    fn prune_keeps_the_newest_and_never_touches_other_files() {
        let dir = tempfile::tempdir().unwrap();
        let c = "a30a42b1dc45e821";
        for (i, stamp) in ["20260101T000000Z", "20260102T000000Z", "20260103T000000Z"]
            .iter()
            .enumerate()
        {
            let p = dir.path().join(managed_name(c, stamp, i as i64 + 1));
            std::fs::write(&p, b"x").unwrap();
            std::fs::write(crate::files::with_suffix(&p, ".json"), b"{}").unwrap();
        }
        let other_cluster =
            dir.path()
                .join(managed_name("00000000000000ff", "20250101T000000Z", 1));
        let hand_made = dir.path().join("etcd-before-upgrade.db");
        std::fs::write(&other_cluster, b"x").unwrap();
        std::fs::write(&hand_made, b"x").unwrap();
        let removed = prune(dir.path(), c, 2).unwrap();
        assert_eq!(removed.len(), 1);
        assert!(removed[0].to_string_lossy().contains("20260101T000000Z"));
        assert!(other_cluster.exists() && hand_made.exists());
        let left = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(left, 2 * 2 + 2);
    }
}
