//! Every file named by a flag is read with a bound: a device, a FIFO or a huge file given by
//! mistake is refused with its kind named, never read until memory runs out (`status --key
//! /dev/zero` once grew to 23 GB) nor waited on forever.
//!
//! The cases use a FIFO with no writer and a sparse file over the limit rather than
//! `/dev/zero`: on a build without the bound they fail by timing out, not by eating memory.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod common;

use std::path::Path;

use common::lifeboat;

fn refused(args: &[&str], kind: &str) {
    let out = lifeboat().args(args).output().expect("lifeboat runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{args:?} accepted");
    assert!(err.contains(kind), "{args:?}: {err}");
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8 path")
}

#[test]
fn devices_fifos_and_huge_files_given_as_inputs_are_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let snap = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/etcd-3.4.23/snapshot.db"
    );
    let out = dir.path().join("x.db");
    let huge = dir.path().join("huge.pem");
    std::fs::File::create(&huge)
        .and_then(|f| f.set_len(3 << 30))
        .expect("sparse file");
    let fifo = dir.path().join("fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.is_ok_and(|st| st.success()), "mkfifo");

    let tls = ["status", "--endpoints", "https://127.0.0.1:9", "--cacert"];
    refused(&[&tls[..], &[s(&huge)]].concat(), "larger than");
    refused(&[&tls[..], &[s(&fifo)]].concat(), "a FIFO");
    refused(&["snapshot", "verify", "/dev/zero"], "not a regular file");
    refused(
        &["snapshot", "verify", snap, "--identity", s(&fifo)],
        "a FIFO",
    );
    refused(
        &["snapshot", "verify", snap, "--identity", "/dev/zero"],
        "character device",
    );
    refused(
        &[
            "kube",
            "put",
            "-f",
            s(&fifo),
            "--snapshot",
            snap,
            "--out",
            s(&out),
        ],
        "a FIFO",
    );
    refused(
        &[
            "kube",
            "put",
            "-f",
            s(&huge),
            "--snapshot",
            snap,
            "--out",
            s(&out),
        ],
        "larger than",
    );
    let bk = dir.path().join("bk");
    refused(
        &[
            "kube",
            "delete",
            "ns",
            "demo",
            "--snapshot",
            snap,
            "--out",
            s(&out),
            "--yes",
            "--encrypt-to",
            s(&fifo),
            "--backup-dir",
            s(&bk),
        ],
        "a FIFO",
    );
    // Refused before anything was written, the object's backup included.
    assert!(!bk.exists() && !out.exists());
}
