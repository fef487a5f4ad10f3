//! `lifeboat policy check --observed`: the Hubble corpus against the lockout CCNP from the
//! binary, as JSON and as a table; unreadable inputs.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod common;

use common::lifeboat;

const LOCKOUT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../policy/tests/fixtures/lockout-ccnp.yaml"
);
const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/hubble/incident.jsonl"
);

fn check(extra: &[&str]) -> std::process::Output {
    lifeboat()
        .args(["policy", "check", "-f", LOCKOUT, "--observed", CORPUS])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn json_has_the_check_and_the_observed_groups() {
    let out = check(&["-o", "json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // The check report keeps its shape; `observed` is added beside it.
    assert!(json["flows"].as_array().is_some_and(|f| !f.is_empty()));
    let o = &json["observed"];
    assert_eq!(o["lines"], 17);
    assert_eq!(o["replies_skipped"], 1);
    assert_eq!(o["malformed"], 2);
    assert_eq!(o["malformed_lines"][0]["line"], 12);
    let drops = o["would_drop"].as_array().unwrap();
    let etcd = drops
        .iter()
        .find(|g| g["port"] == 2379 && g["src_workload"] == "node/cp-1")
        .expect("etcd client flow would be dropped");
    assert_eq!(etcd["dst_workload"], "node/cp-2");
    assert_eq!(etcd["protocol"], "TCP");
    assert_eq!(etcd["count"], 3);
    assert_eq!(etcd["first_seen"], "2026-12-01T02:59:59.9Z");
    for port in [2380, 6443] {
        assert!(
            drops.iter().any(|g| g["port"] == port),
            "{port} in {drops:?}"
        );
    }
    assert_eq!(o["would_allow"][0]["port"], 9100);
    assert_eq!(o["not_evaluated"].as_array().unwrap().len(), 2);
}

#[test]
fn table_names_the_groups_the_skipped_and_the_malformed() {
    let out = check(&[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Forwarded flows the policies would DROP"),
        "{text}"
    );
    assert!(text.contains("node/worker-1"), "{text}");
    assert!(text.contains("TCP/6443"), "{text}");
    assert!(text.contains("1 replies skipped"), "{text}");
    assert!(
        text.contains("NOT EVALUATED pod not in the inventory"),
        "{text}"
    );
    assert!(text.contains("line 12:"), "{text}");
}

#[test]
fn a_missing_or_non_regular_observed_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    // A device never ends: it must be refused before a single read.
    let devices = [std::path::PathBuf::from("/dev/zero")];
    let paths = [dir.path().join("absent.jsonl"), dir.path().to_path_buf()];
    for path in paths.into_iter().chain(devices) {
        let out = lifeboat()
            .args(["policy", "check", "-f", LOCKOUT, "--observed"])
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert_ne!(out.status.code(), Some(2), "not a verdict: {stderr}");
        assert!(stderr.contains("Hubble flow export"), "{stderr}");
        assert!(out.stdout.is_empty(), "no report on a refused input");
    }
}
