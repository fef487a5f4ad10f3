//! Every file named by a flag is read with a bound: a device, a FIFO or a huge file given by
//! mistake is refused with its kind named, never read until memory runs out.

mod common;

use common::lifeboat;

fn refused(args: &[&str], kind: &str) {
    let out = lifeboat().args(args).output().expect("lifeboat runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{args:?} accepted");
    assert!(err.contains(kind), "{args:?}: {err}");
}

#[test]
fn devices_given_as_files_are_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let snap = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/etcd-3.4.23/snapshot.db"
    );
    let out = dir.path().join("x.db");
    let out = out.to_str().expect("utf8");
    let dev = "/dev/zero";
    refused(
        &[
            "status",
            "--endpoints",
            "https://127.0.0.1:9",
            "--cacert",
            dev,
        ],
        "character device",
    );
    refused(&["snapshot", "verify", dev], "not a regular file");
    refused(
        &["snapshot", "verify", snap, "--identity", dev],
        "character device",
    );
    refused(
        &["kube", "put", "-f", dev, "--snapshot", snap, "--out", out],
        "character device",
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
            out,
            "--yes",
            "--encrypt-to",
            dev,
            "--backup-dir",
            bk.to_str().expect("utf8"),
        ],
        "character device",
    );
    // Refused before anything was written, the object's backup included.
    assert!(!bk.exists());
}
