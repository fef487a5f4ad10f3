//! etcd's own tools as the reference lifeboat's answers are checked against: `etcdutl snapshot
//! status` (etcdctl on 3.4, which has no etcdutl), `etcdctl endpoint status`, `bbolt check`.
//! The binaries are those of the etcd release under test: `LIFEBOAT_ETCDCTL_BIN`,
//! `LIFEBOAT_ETCDUTL_BIN`, else beside `LIFEBOAT_ETCD_BIN`, else PATH.
//!
//! What the reference reports differs by release, and each difference is named here once:
//! `totalKey` is every k/v pair of every bucket on 3.4/3.5 and the distinct live keys on 3.6+
//! (lifeboat prints both: `totalKey` and `live_keys`); `version` (the storage version) exists
//! from 3.6 on.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use ops::local::etcd_binary;

#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    #[error("cannot run {tool}: {source}")]
    Spawn {
        tool: String,
        source: std::io::Error,
    },
    #[error("{tool} {args} failed ({status}): {stderr}")]
    Failed {
        tool: String,
        args: String,
        status: String,
        stderr: String,
    },
    #[error("{tool} printed no JSON ({source}): {stdout}")]
    Json {
        tool: String,
        stdout: String,
        source: serde_json::Error,
    },
    #[error("{tool} JSON lacks {field}: {json}")]
    Field {
        tool: String,
        field: &'static str,
        json: String,
    },
}

/// `etcdutl snapshot status -w json` of one file, as etcd's release under test reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub hash: u64,
    pub revision: i64,
    pub total_key: u64,
    pub total_size: u64,
    /// The storage version (`meta/storageVersion`), printed from etcd 3.6 on.
    pub version: Option<String>,
}

/// (major, minor) of the etcd under test: `LIFEBOAT_ETCD_VERSION`, else `etcd --version`.
pub fn etcd_version() -> (u32, u32) {
    let text = std::env::var("LIFEBOAT_ETCD_VERSION").ok().or_else(|| {
        let out = Command::new(etcd_binary()).arg("--version").output().ok()?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let line = text.lines().find(|l| l.starts_with("etcd Version:"))?;
        Some(line.trim_start_matches("etcd Version:").trim().to_string())
    });
    let text = text.unwrap_or_default();
    let mut parts = text.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(3), parts.next().unwrap_or(4))
}

/// The minor release under test (4 for 3.4.23).
pub fn etcd_minor() -> u32 {
    etcd_version().1
}

/// A tool of the release under test: its env variable, else beside the etcd binary, else PATH.
fn tool_path(env: &str, name: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        return Some(PathBuf::from(p));
    }
    let beside = etcd_binary().parent().map(|d| d.join(name));
    if let Some(p) = beside.filter(|p| p.is_file()) {
        return Some(p);
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

pub fn etcdctl_bin() -> PathBuf {
    tool_path("LIFEBOAT_ETCDCTL_BIN", "etcdctl").unwrap_or_else(|| PathBuf::from("etcdctl"))
}

/// etcdutl exists from etcd 3.5 on.
pub fn etcdutl_bin() -> Option<PathBuf> {
    if etcd_minor() < 5 {
        return None;
    }
    tool_path("LIFEBOAT_ETCDUTL_BIN", "etcdutl")
}

/// `bbolt` (go.etcd.io/bbolt/cmd/bbolt): the release's own, else the one installed beside
/// another release in the same cache (scripts/etcd-versions.sh builds it for 3.6 and 3.7 only).
/// The bbolt file format has not changed across etcd 3.4 to 3.7, so any bbolt checks any.
pub fn bbolt_bin() -> Option<PathBuf> {
    tool_path("LIFEBOAT_BBOLT_BIN", "bbolt").or_else(|| {
        let cache = etcd_binary().parent()?.parent()?.to_path_buf();
        let mut found: Vec<PathBuf> = std::fs::read_dir(cache)
            .ok()?
            .filter_map(|e| Some(e.ok()?.path().join("bbolt")))
            .filter(|p| p.is_file())
            .collect();
        found.sort();
        found.pop()
    })
}

/// Runs `tool args`, which must succeed; its stdout.
pub fn run(tool: &Path, args: &[&str]) -> Result<Vec<u8>, ReferenceError> {
    let name = tool.display().to_string();
    let out = Command::new(tool)
        .env("ETCDCTL_API", "3")
        .env_remove("ETCDCTL_ENDPOINTS")
        .args(args)
        .output()
        .map_err(|source| ReferenceError::Spawn {
            tool: name.clone(),
            source,
        })?;
    if !out.status.success() {
        return Err(ReferenceError::Failed {
            tool: name,
            args: args.join(" "),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    Ok(out.stdout)
}

/// Runs `tool args` and parses its stdout as JSON.
pub fn run_json(tool: &Path, args: &[&str]) -> Result<Value, ReferenceError> {
    let stdout = run(tool, args)?;
    serde_json::from_slice(&stdout).map_err(|source| ReferenceError::Json {
        tool: tool.display().to_string(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        source,
    })
}

/// `etcdctl ARGS -w json` against a cluster (`cli_args` from [`crate::TestCluster::cli_args`]).
/// etcdctl exits 1 when an endpoint does not answer yet prints the others as JSON: that JSON is
/// returned whatever the exit status, with whether it was a success.
pub fn etcdctl_json(cli_args: &[String], args: &[&str]) -> Result<(bool, Value), ReferenceError> {
    let tool = etcdctl_bin();
    let name = tool.display().to_string();
    let out = Command::new(&tool)
        .env("ETCDCTL_API", "3")
        .env_remove("ETCDCTL_ENDPOINTS")
        .args(args)
        .args(["-w", "json", "--dial-timeout=2s", "--command-timeout=5s"])
        .args(cli_args)
        .output()
        .map_err(|source| ReferenceError::Spawn {
            tool: name.clone(),
            source,
        })?;
    let json = serde_json::from_slice(&out.stdout).map_err(|source| ReferenceError::Json {
        tool: format!(
            "{name} {} ({})",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        source,
    })?;
    Ok((out.status.success(), json))
}

/// etcd's own reading of a snapshot file or raw `member/snap/db`.
pub fn snapshot_status(path: &Path) -> Result<Status, ReferenceError> {
    snapshot_status_with(&etcdutl_bin().unwrap_or_else(etcdctl_bin), path)
}

/// `tool snapshot status` (an etcdutl, or etcdctl 3.4) of any release.
pub fn snapshot_status_with(tool: &Path, path: &Path) -> Result<Status, ReferenceError> {
    let file = path.to_string_lossy();
    let json = run_json(tool, &["snapshot", "status", "-w", "json", &file])?;
    let field = |field: &'static str| {
        json[field].as_u64().ok_or_else(|| ReferenceError::Field {
            tool: tool.display().to_string(),
            field,
            json: json.to_string(),
        })
    };
    Ok(Status {
        hash: field("hash")?,
        revision: field("revision")? as i64,
        total_key: field("totalKey")?,
        total_size: field("totalSize")?,
        // etcdutl 3.6+ prints "" for a db without a storage version (written by 3.5 or older).
        version: json["version"]
            .as_str()
            .filter(|v| !v.is_empty())
            .map(String::from),
    })
}

/// `lifeboat snapshot inspect -o json FILE`, which must succeed with a sound file.
pub fn inspect(lifeboat_bin: &Path, path: &Path) -> Value {
    let out = Command::new(lifeboat_bin)
        .args(["snapshot", "inspect", "-o", "json"])
        .arg(path)
        .output();
    let out = match out {
        Ok(out) => out,
        Err(e) => panic!("cannot run {}: {e}", lifeboat_bin.display()),
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "snapshot inspect {} failed: {stderr}",
        path.display()
    );
    match serde_json::from_slice(&out.stdout) {
        Ok(v) => v,
        Err(e) => panic!("snapshot inspect printed no JSON ({e}): {stderr}"),
    }
}

/// lifeboat's field for the `totalKey` of etcd 3.`minor`'s tool.
pub fn total_key_field_of(minor: u32) -> &'static str {
    if minor >= 6 { "live_keys" } else { "totalKey" }
}

/// lifeboat's field for the reference's `totalKey` on the release under test.
pub fn total_key_field() -> &'static str {
    total_key_field_of(etcd_minor())
}

/// Fails the test unless `lifeboat snapshot inspect` reports what etcd's own tool reports for
/// `path`: hash, revision, totalKey, totalSize, and the storage version where etcd prints it.
/// Returns lifeboat's JSON for further checks.
pub fn assert_inspect_matches_reference(lifeboat_bin: &Path, path: &Path) -> Value {
    let tool = etcdutl_bin().unwrap_or_else(etcdctl_bin);
    assert_inspect_matches_tool(lifeboat_bin, path, &tool, etcd_minor())
}

/// [`assert_inspect_matches_reference`] with the `snapshot status` of etcd 3.`minor`'s `tool`
/// (during an upgrade, either release's etcdutl may read either release's files).
pub fn assert_inspect_matches_tool(
    lifeboat_bin: &Path,
    path: &Path,
    tool: &Path,
    minor: u32,
) -> Value {
    let reference = match snapshot_status_with(tool, path) {
        Ok(s) => s,
        Err(e) => panic!("etcd's snapshot status refuses {}: {e}", path.display()),
    };
    let ours = inspect(lifeboat_bin, path);
    let what = format!(
        "{} by {}: etcd says {reference:?}, lifeboat says {ours:#}",
        path.display(),
        tool.display()
    );
    assert_eq!(
        ours["hash"].as_u64(),
        Some(reference.hash),
        "hash of {what}"
    );
    assert_eq!(
        ours["revision"].as_i64(),
        Some(reference.revision),
        "revision of {what}"
    );
    assert_eq!(
        ours[total_key_field_of(minor)].as_u64(),
        Some(reference.total_key),
        "totalKey of {what}"
    );
    assert_eq!(
        ours["totalSize"].as_u64(),
        Some(reference.total_size),
        "totalSize of {what}"
    );
    // etcdutl prints the storage version from 3.6 on ("" for none, lifeboat's null).
    if minor >= 6 {
        assert_eq!(
            ours["storage_version"].as_str(),
            reference.version.as_deref(),
            "storage version of {what}"
        );
    }
    ours
}
