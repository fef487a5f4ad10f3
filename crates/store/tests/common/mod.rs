//! Fixture helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn fixtures() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/etcd-3.4.23"
    ))
}

pub fn snapshot() -> PathBuf {
    fixtures().join("snapshot.db")
}

/// Extract a fixture tarball into a fresh temp dir (kept alive by the returned guard).
pub fn extract(tarball: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(fixtures().join(tarball))
        .arg("-C")
        .arg(dir.path())
        .status()
        .expect("run tar");
    assert!(status.success(), "tar failed for {tarball}");
    dir
}

pub fn join(dir: &Path, rel: &str) -> PathBuf {
    dir.join(rel)
}
