//! Which etcd the restored files are for, and whether that etcd can run them.
//!
//! The target comes from `--etcd-version`, else the etcd installed here (`etcd --version`), else
//! the snapshot (its `meta/storageVersion`, else `cluster/clusterVersion`). What differs per
//! target is small (docs/etcd-formats.md §5.5): 3.4 writes no `meta/term` and no ConfState in
//! the WAL snapshot record; 3.6+ count one failed v2 get in the `.snap`'s store stats; 3.7
//! encodes raft messages without zero defaults. A snapshot whose storage version is newer than
//! the target is refused before anything is written: etcd 3.6+ refuse it at start ("version
//! ... is not supported"), and 3.4/3.5 predate the check and would run a schema they do not
//! know; etcd's own way down is its downgrade procedure, not a restore.

use std::fmt;
use std::path::PathBuf;
use std::process::Command;

use bolt::Db;
use serde::Serialize;

use super::RestoreError;

/// An etcd minor release (3.x).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct EtcdVersion {
    pub major: u32,
    pub minor: u32,
}

/// The releases whose restore output lifeboat knows byte for byte.
pub const SUPPORTED: [EtcdVersion; 4] = [
    EtcdVersion::new(3, 4),
    EtcdVersion::new(3, 5),
    EtcdVersion::new(3, 6),
    EtcdVersion::new(3, 7),
];

impl EtcdVersion {
    pub const fn new(major: u32, minor: u32) -> EtcdVersion {
        EtcdVersion { major, minor }
    }

    /// `3.6`, `3.6.17`, `v3.6.0`, `3.6.0-rc.1`: major and minor only.
    pub fn parse(raw: &str) -> Option<EtcdVersion> {
        let s = raw.trim().trim_start_matches('v');
        let mut parts = s.split(['.', '-', '+']);
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        Some(EtcdVersion { major, minor })
    }

    /// Parses a `--etcd-version` value and checks lifeboat can write for it.
    pub fn from_flag(raw: &str) -> Result<EtcdVersion, RestoreError> {
        let v = EtcdVersion::parse(raw).ok_or_else(|| {
            RestoreError::Flags(format!(
                "--etcd-version {raw:?} is not a version like 3.5 (major.minor)"
            ))
        })?;
        v.check_supported("--etcd-version")?;
        Ok(v)
    }

    fn check_supported(self, from: &str) -> Result<(), RestoreError> {
        if SUPPORTED.contains(&self) {
            return Ok(());
        }
        let known: Vec<String> = SUPPORTED.iter().map(|v| v.to_string()).collect();
        Err(RestoreError::Flags(format!(
            "etcd {self} ({from}) is not one lifeboat restores for (it knows {}); restore with \
             that release's own `etcdutl snapshot restore`, or pass --etcd-version with the \
             closest known release only if you have checked it writes the same",
            known.join(", ")
        )))
    }

    /// 3.5 on: `meta/term` and a ConfState in the WAL's snapshot record.
    pub fn writes_term(self) -> bool {
        self >= EtcdVersion::new(3, 5)
    }

    /// 3.6 on: the restore reads the (empty) v2 store once before saving it, which etcd
    /// counts as a failed get in the saved stats.
    pub fn counts_v2_get(self) -> bool {
        self >= EtcdVersion::new(3, 6)
    }

    /// 3.7 on: raft messages omit `ConfChange.ID = 0` and `ConfState.auto_leave = false`.
    pub fn omits_raft_defaults(self) -> bool {
        self >= EtcdVersion::new(3, 7)
    }
}

impl fmt::Display for EtcdVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl Serialize for EtcdVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The versions a snapshot carries.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SnapshotVersions {
    /// `meta/storageVersion` as stored (3.6+), e.g. `3.6.0`.
    pub storage_version: Option<String>,
    /// `cluster/clusterVersion` as stored, e.g. `3.5.0`.
    pub cluster_version: Option<String>,
}

impl SnapshotVersions {
    pub fn read(db: &Db) -> Result<SnapshotVersions, RestoreError> {
        let get = |bucket: &[u8], key: &[u8]| -> Result<Option<String>, RestoreError> {
            let err = |e: bolt::Error| RestoreError::Source(e.to_string());
            let Some(b) = db.bucket(bucket).map_err(err)? else {
                return Ok(None);
            };
            Ok(b.get(db, key)
                .map_err(err)?
                .map(|v| String::from_utf8_lossy(&v).into_owned()))
        };
        Ok(SnapshotVersions {
            storage_version: get(b"meta", b"storageVersion")?,
            cluster_version: get(b"cluster", b"clusterVersion")?,
        })
    }

    fn storage(&self) -> Option<EtcdVersion> {
        self.storage_version.as_deref().and_then(EtcdVersion::parse)
    }

    /// The release that wrote the snapshot, as far as it says.
    fn written_by(&self) -> Option<EtcdVersion> {
        self.storage()
            .or_else(|| self.cluster_version.as_deref().and_then(EtcdVersion::parse))
    }
}

/// Where the target version came from.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum TargetSource {
    /// `--etcd-version`.
    Flag,
    /// `etcd --version` of this binary.
    Installed { binary: PathBuf, version: String },
    /// Nothing installed: the snapshot's own version.
    Snapshot,
}

#[derive(Debug, Clone, Serialize)]
pub struct TargetVersion {
    pub version: EtcdVersion,
    pub source: TargetSource,
    pub snapshot: SnapshotVersions,
    /// With `--etcd-version`: the installed etcd's version when it is another release (etcd
    /// started here on these files would not be the one they were written for).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub installed_differs: Option<String>,
}

impl TargetVersion {
    /// One phrase for people: `3.6 (etcd --version of /usr/bin/etcd: 3.6.17)`.
    pub fn describe(&self) -> String {
        match &self.source {
            TargetSource::Flag => format!("{} (--etcd-version)", self.version),
            TargetSource::Installed { binary, version } => format!(
                "{} (`{} --version`: {version})",
                self.version,
                binary.display()
            ),
            TargetSource::Snapshot => format!(
                "{} (read from the snapshot; no etcd installed here)",
                self.version
            ),
        }
    }
}

/// The etcd lifeboat would run here: `LIFEBOAT_ETCD_BIN` (as `lifeboat drill` and `recover
/// run` start it), else `etcd` on PATH.
fn etcd_binary() -> PathBuf {
    std::env::var_os("LIFEBOAT_ETCD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("etcd"))
}

/// `etcd --version` of the installed etcd: None when there is none (a kubeadm node runs etcd
/// in a container); an error when it runs but says nothing we can read.
pub fn installed() -> Result<Option<(PathBuf, String)>, RestoreError> {
    let bin = etcd_binary();
    let out = match Command::new(&bin).arg("--version").output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(RestoreError::Flags(format!(
                "cannot run `{} --version` to learn the target etcd version: {e}; pass \
                 --etcd-version X.Y",
                bin.display()
            )));
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("etcd Version:"))
        .map(|v| v.trim().to_string());
    match version {
        Some(v) if out.status.success() && EtcdVersion::parse(&v).is_some() => Ok(Some((bin, v))),
        _ => Err(RestoreError::Flags(format!(
            "`{} --version` printed no \"etcd Version: X.Y.Z\" line; pass --etcd-version X.Y",
            bin.display()
        ))),
    }
}

/// Decides the target: the flag, else the installed etcd, else the snapshot.
pub fn resolve(
    flag: Option<EtcdVersion>,
    snapshot: SnapshotVersions,
) -> Result<TargetVersion, RestoreError> {
    let mut installed_differs = None;
    let (version, source) = match flag {
        Some(v) => {
            // Only a remark: the restored dirs may well be meant for another node.
            if let Ok(Some((_, raw))) = installed()
                && EtcdVersion::parse(&raw).is_some_and(|i| i != v)
            {
                installed_differs = Some(raw);
            }
            (v, TargetSource::Flag)
        }
        None => match installed()? {
            Some((binary, raw)) => {
                let v = EtcdVersion::parse(&raw).unwrap_or(EtcdVersion::new(0, 0));
                v.check_supported(&format!("`{} --version`", binary.display()))?;
                (
                    v,
                    TargetSource::Installed {
                        binary,
                        version: raw,
                    },
                )
            }
            None => {
                let v = snapshot.written_by().ok_or_else(|| {
                    RestoreError::Flags(
                        "no etcd is installed here and the snapshot names no version \
                         (meta/storageVersion, cluster/clusterVersion): pass --etcd-version X.Y, \
                         the release the restored members will run"
                            .into(),
                    )
                })?;
                v.check_supported("the snapshot's version")?;
                (v, TargetSource::Snapshot)
            }
        },
    };
    Ok(TargetVersion {
        version,
        source,
        snapshot,
        installed_differs,
    })
}

/// Refuses a storage version newer than the target: etcd 3.6+ would not start on it, and
/// 3.4/3.5 cannot check it. `None` when the target can run it.
pub fn downgrade_refusal(target: &TargetVersion) -> Option<String> {
    let stored = target.snapshot.storage()?;
    if stored <= target.version {
        return None;
    }
    let refuses = if target.version >= EtcdVersion::new(3, 6) {
        format!(
            "etcd {} refuses it at start (\"version {stored}.0 is not supported\")",
            target.version
        )
    } else {
        format!(
            "etcd {} predates storage versions and would run a schema it does not know",
            target.version
        )
    };
    Some(format!(
        "the snapshot's storage version is {} (written by etcd {stored}) and the target is etcd \
         {}: {refuses}. Restore it for etcd {stored} or newer (install it, or pass \
         --etcd-version {stored} if the restored members will run it); to go down to {}, \
         downgrade the live cluster first with etcd's own procedure (`etcdctl downgrade enable \
         {}`, then `etcdutl migrate --target-version {}` per member) and take a new snapshot",
        target
            .snapshot
            .storage_version
            .as_deref()
            .unwrap_or_default(),
        target.describe(),
        target.version,
        target.version,
        target.version,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(v: EtcdVersion, storage: Option<&str>) -> TargetVersion {
        TargetVersion {
            version: v,
            source: TargetSource::Flag,
            snapshot: SnapshotVersions {
                storage_version: storage.map(String::from),
                cluster_version: None,
            },
            installed_differs: None,
        }
    }

    #[test]
    fn parses_what_etcd_prints_and_stores() {
        assert_eq!(EtcdVersion::parse("3.6.17"), Some(EtcdVersion::new(3, 6)));
        assert_eq!(EtcdVersion::parse("3.6.0"), Some(EtcdVersion::new(3, 6)));
        assert_eq!(EtcdVersion::parse("v3.5"), Some(EtcdVersion::new(3, 5)));
        assert_eq!(
            EtcdVersion::parse("3.7.0-alpha.0"),
            Some(EtcdVersion::new(3, 7))
        );
        assert_eq!(EtcdVersion::parse("3"), None);
        assert_eq!(EtcdVersion::parse("x.y"), None);
        assert!(EtcdVersion::from_flag("3.8").is_err());
        assert!(EtcdVersion::from_flag("banana").is_err());
        assert_eq!(
            EtcdVersion::from_flag("3.4").unwrap().to_string(),
            "3.4".to_string()
        );
    }

    #[test]
    fn only_a_newer_storage_version_is_refused() {
        let v35 = EtcdVersion::new(3, 5);
        let v36 = EtcdVersion::new(3, 6);
        let v37 = EtcdVersion::new(3, 7);
        assert!(downgrade_refusal(&target(v35, Some("3.6.0"))).is_some());
        assert!(downgrade_refusal(&target(v36, Some("3.7.0"))).is_some());
        assert!(downgrade_refusal(&target(v36, Some("3.6.0"))).is_none());
        assert!(downgrade_refusal(&target(v37, Some("3.6.0"))).is_none());
        assert!(downgrade_refusal(&target(v35, None)).is_none());
        let why = downgrade_refusal(&target(v36, Some("3.7.0"))).unwrap();
        assert!(why.contains("not supported") && why.contains("--etcd-version 3.7"));
    }
}
