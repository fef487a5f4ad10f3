//! `lifeboat snapshot verify/inspect` and `datadir inspect/rank` on the real etcd 3.4.23
//! fixtures, through the binary: exit codes, JSON shapes, and one-line errors.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

use std::path::{Path, PathBuf};
use std::process::Command as Std;

use assert_cmd::Command;
use serde_json::Value;

fn fixtures() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/etcd-3.4.23"
    ))
}

fn lifeboat() -> Command {
    Command::cargo_bin("lifeboat").expect("binary")
}

fn extract(tarball: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tmp");
    let ok = Std::new("tar")
        .arg("-xzf")
        .arg(fixtures().join(tarball))
        .arg("-C")
        .arg(dir.path())
        .status()
        .expect("tar")
        .success();
    assert!(ok, "extract {tarball}");
    dir
}

fn json(args: &[&str], dir: Option<&Path>) -> (Value, i32) {
    let mut c = lifeboat();
    if let Some(d) = dir {
        c.current_dir(d);
    }
    let out = c.args(args).args(["-o", "json"]).output().expect("run");
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: bad JSON ({e}): {out:?}"));
    (v, out.status.code().unwrap_or(-1))
}

#[test]
fn verify_exit_codes() {
    let snap = fixtures().join("snapshot.db");
    lifeboat()
        .args(["snapshot", "verify"])
        .arg(&snap)
        .assert()
        .code(0)
        .stdout(predicates::str::contains("SOUND"));
    let dir = tempfile::tempdir().expect("tmp");
    let mut bytes = std::fs::read(&snap).expect("read");
    bytes[3 * 4096 + 600] ^= 0x10;
    let bad = dir.path().join("bad.db");
    std::fs::write(&bad, &bytes).expect("write");
    let (v, code) = json(&["snapshot", "verify", bad.to_str().expect("utf8")], None);
    assert_eq!(code, 1);
    assert_eq!(v["sound"], false);
    assert!(
        v["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .any(|c| c["name"] == "sha256" && c["ok"] == false)
    );
}

#[test]
fn bad_input_is_one_line_and_nonzero() {
    for path in ["/nonexistent/snap.db", "/etc/hostname"] {
        let out = lifeboat()
            .args(["snapshot", "verify", path])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(3), "{path}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.starts_with("lifeboat: "), "{err}");
        let out = lifeboat()
            .args(["snapshot", "inspect", path])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(3), "{path}");
    }
    lifeboat()
        .args(["datadir", "inspect", "/nonexistent"])
        .assert()
        .code(3);
}

#[test]
fn inspect_json_has_etcdctl_status_fields() {
    let (v, code) = json(
        &[
            "snapshot",
            "inspect",
            fixtures().join("snapshot.db").to_str().expect("utf8"),
        ],
        None,
    );
    assert_eq!(code, 0);
    assert_eq!(v["hash"], 2_275_284_803u32);
    assert_eq!(v["revision"], 37);
    assert_eq!(v["totalKey"], 42);
    assert_eq!(v["totalSize"], 24_576);
    assert_eq!(v["live_keys"], 33);
    assert_eq!(v["members"][0]["id"], "e17fdf966dadd245");
    assert_eq!(
        v["kubernetes"]["largest"][0]["key"],
        "/registry/cilium.io/ciliumnetworkpolicies/demo/allow-dns"
    );
}

#[test]
fn key_listing_prints_no_values() {
    let snap = fixtures().join("snapshot.db");
    let (v, _) = json(
        &[
            "snapshot",
            "inspect",
            snap.to_str().expect("utf8"),
            "--keys",
            "/registry/cilium.io/",
        ],
        None,
    );
    assert_eq!(v["count"], 2);
    let text = serde_json::to_string(&v).expect("json");
    // The policy body (JSON with "spec") must not appear anywhere.
    assert!(!text.contains("spec"), "{text}");
    lifeboat()
        .args(["snapshot", "inspect"])
        .arg(&snap)
        .args(["--keys", "/registry/namespaces/"])
        .assert()
        .code(0)
        .stdout(predicates::str::contains("/registry/namespaces/demo"));
}

#[test]
fn datadir_inspect_and_rank_cluster3() {
    let t = extract("cluster3-stopped-3.4.23.tar.gz");
    let (c1, code) = json(&["datadir", "inspect", "c1"], Some(t.path()));
    assert_eq!(code, 0);
    assert_eq!(c1["hard_state"]["term"], 5);
    assert_eq!(c1["hard_state"]["commit"], 16);
    assert_eq!(c1["last_entry"]["index"], 16);
    assert_eq!(c1["committed"], 16);
    let report = t.path().join("c1.json");
    std::fs::write(&report, serde_json::to_vec(&c1).expect("json")).expect("write");
    let (r, code) = json(&["datadir", "rank", "c3", "c1.json", "c2"], Some(t.path()));
    assert_eq!(code, 0);
    let rows = r["ranking"].as_array().expect("ranking");
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[2]["dir"], "c3");
    let top: Vec<&str> = rows[..2]
        .iter()
        .map(|x| x["dir"].as_str().unwrap_or_default())
        .collect();
    assert!(top.contains(&"c1") && top.contains(&"c2"), "{top:?}");
    for row in rows {
        for field in [
            "dir",
            "member_id",
            "committed",
            "last_term",
            "last_index",
            "reason",
        ] {
            assert!(!row[field].is_null(), "{field} missing in {row}");
        }
    }
    assert!(
        r["warnings"]
            .as_array()
            .expect("warnings")
            .iter()
            .any(|w| w.as_str().unwrap_or_default().contains("tie"))
    );
}

#[test]
fn inspect_exits_1_when_it_shows_a_failed_check() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut bytes = std::fs::read(fixtures().join("snapshot.db")).expect("read");
    bytes[24_600] ^= 0x01;
    let bad = dir.path().join("trailer.db");
    std::fs::write(&bad, &bytes).expect("write");
    lifeboat()
        .args(["snapshot", "inspect", "--check-sha256"])
        .arg(&bad)
        .assert()
        .code(1)
        .stdout(predicates::str::contains("MISMATCH"))
        .stdout(predicates::str::contains("UNSOUND"));
    let (v, code) = json(
        &[
            "snapshot",
            "inspect",
            "--check-sha256",
            bad.to_str().expect("utf8"),
        ],
        None,
    );
    assert_eq!((code, &v["sound"]), (1, &Value::Bool(false)));
    assert_eq!(v["sha256"]["status"], "mismatch");
}

/// Like `etcdutl snapshot status`, inspect does not hash the image unless asked; it must
/// say so (in the table and in JSON) and name the command that checks, never imply a
/// check it did not make. A damaged trailer then goes unseen by inspect, and is caught
/// by `--check-sha256` (above) and `snapshot verify`.
#[test]
fn inspect_says_the_trailer_was_not_checked_unless_asked() {
    let dir = tempfile::tempdir().expect("tmp");
    let good = fixtures().join("snapshot.db");
    let mut bytes = std::fs::read(&good).expect("read");
    let trailer = hex(&bytes[24_576..]);
    bytes[24_600] ^= 0x01;
    let bad = dir.path().join("trailer.db");
    std::fs::write(&bad, &bytes).expect("write");
    for (file, trailer) in [(&good, trailer.clone()), (&bad, hex(&bytes[24_576..]))] {
        let f = file.to_str().expect("utf8");
        let (v, code) = json(&["snapshot", "inspect", f], None);
        assert_eq!(code, 0, "{v}");
        assert_eq!(v["sha256"]["status"], "not_checked", "{v}");
        assert_eq!(v["sha256"]["trailer"], trailer.as_str());
        let next = v["sha256"]["next_step"].as_str().expect("next_step");
        assert!(
            next.contains(&format!("lifeboat snapshot verify {f}"))
                && next.contains("--check-sha256"),
            "{next}"
        );
        lifeboat()
            .args(["snapshot", "inspect"])
            .arg(file)
            .assert()
            .code(0)
            .stdout(predicates::str::contains("not checked"))
            .stdout(predicates::str::contains("lifeboat snapshot verify"));
    }
    let (v, code) = json(
        &[
            "snapshot",
            "inspect",
            "--check-sha256",
            good.to_str().expect("utf8"),
        ],
        None,
    );
    assert_eq!((code, &v["sha256"]["status"]), (0, &Value::from("ok")));
    let (v, code) = json(&["snapshot", "verify", bad.to_str().expect("utf8")], None);
    assert_eq!((code, &v["sound"]), (1, &Value::Bool(false)));
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn verify_calls_padded_and_appended_files_unsound() {
    let dir = tempfile::tempdir().expect("tmp");
    let snap = fixtures().join("snapshot.db");
    let padded = dir.path().join("padded.db");
    std::fs::copy(&snap, &padded).expect("copy");
    // 20 GiB of zeros after the snapshot, sparse: no disk space, and not hashed.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&padded)
        .and_then(|f| f.set_len(20 << 30))
        .expect("sparse");
    let mut appended = std::fs::read(&snap).expect("read");
    appended.extend_from_slice(b"garbage");
    let app = dir.path().join("appended.db");
    std::fs::write(&app, &appended).expect("write");
    for f in [&padded, &app] {
        let (v, code) = json(&["snapshot", "verify", f.to_str().expect("utf8")], None);
        assert_eq!(code, 1, "{v}");
        assert_eq!(v["sound"], false);
        let length = v["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .find(|c| c["name"] == "length")
            .cloned()
            .expect("length check");
        assert_eq!(length["ok"], false, "{length}");
        lifeboat()
            .args(["snapshot", "restore", "--skip-hash-check", "--data-dir"])
            .arg(dir.path().join("out"))
            .arg(f)
            .assert()
            .failure();
        assert!(!dir.path().join("out").exists());
    }
}

#[test]
fn diff_refuses_an_unsound_snapshot() {
    let dir = tempfile::tempdir().expect("tmp");
    let snap = fixtures().join("snapshot.db");
    let mut bytes = std::fs::read(&snap).expect("read");
    bytes.extend_from_slice(b"appended");
    let bad = dir.path().join("appended.db");
    std::fs::write(&bad, &bytes).expect("write");
    for (a, b) in [(&bad, &snap), (&snap, &bad)] {
        let out = lifeboat()
            .args(["snapshot", "diff"])
            .arg(a)
            .arg(b)
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{err}");
        assert!(err.contains("unsound") && err.contains("length"), "{err}");
    }
}
