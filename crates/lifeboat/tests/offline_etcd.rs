//! Fresh data from a real etcd 3.4 (10,000 keys with transactions, deletes, a lease and a
//! compaction): `lifeboat snapshot inspect` reports exactly what `etcdctl snapshot status`
//! reports for the same file, `verify` calls it sound, and `datadir inspect` sees the live
//! member's lock.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod common;

use std::process::Command as Std;

use serde_json::Value;
use testkit::TestCluster;

/// etcdutl 3.6 on counts distinct live keys in `totalKey` (lifeboat's `live_keys`); 3.4 and
/// 3.5 count every k/v pair (lifeboat's `totalKey`). See docs/json/snapshot-inspect.md.
fn total_key_field() -> &'static str {
    let v = std::env::var("LIFEBOAT_ETCD_VERSION").unwrap_or_default();
    let minor = v
        .strip_prefix("3.")
        .and_then(|r| r.split('.').next()?.parse::<u32>().ok());
    if minor.is_some_and(|m| m >= 6) {
        "live_keys"
    } else {
        "totalKey"
    }
}

fn etcdctl() -> Std {
    let bin = std::env::var("LIFEBOAT_ETCDCTL_BIN").unwrap_or_else(|_| "etcdctl".into());
    let mut c = Std::new(bin);
    c.env("ETCDCTL_API", "3");
    c
}

/// `snapshot status` is etcdutl's from etcd 3.5 on (etcdctl 3.6 has only `snapshot save`).
fn snapshot_status_tool() -> Std {
    match std::env::var_os("LIFEBOAT_ETCDUTL_BIN") {
        Some(bin) => Std::new(bin),
        None => etcdctl(),
    }
}

fn lifeboat_json(args: &[&str]) -> (i32, Value) {
    let out = common::lifeboat()
        .args(args)
        .args(["-o", "json"])
        .output()
        .expect("lifeboat runs");
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), v)
}

#[tokio::test]
async fn inspect_matches_etcdctl_snapshot_status_on_fresh_data() {
    let tc = TestCluster::plain(1).await;
    let mut client = tc.client(0).await.expect("client");
    let live =
        testkit::data::mixed_history(&mut client, "/registry/configmaps/default/cm-", 10_000)
            .await
            .expect("write history");
    // mixed_history compacts only when its midpoint write is a plain put; make sure there
    // is a compaction whatever the count.
    let head = client.get("/", None).await.expect("get");
    let rev = head.header().map(|h| h.revision()).unwrap_or(0);
    assert!(rev > 10_000, "revision {rev}");
    client.compact(rev * 3 / 4, None).await.expect("compact");

    let dir = tempfile::tempdir().expect("tmp");
    let snap = dir.path().join("fresh.db");
    let path = snap.to_str().expect("utf-8 path");
    // etcd records the compaction in its backend asynchronously (batched commits): take
    // snapshots until one carries it, so the test also proves the compaction is read.
    for attempt in 0..20 {
        let saved = etcdctl()
            .args(tc.cli_args())
            .args(["snapshot", "save"])
            .arg(&snap)
            .output()
            .expect("etcdctl runs");
        assert!(
            saved.status.success(),
            "snapshot save: {}",
            String::from_utf8_lossy(&saved.stderr)
        );
        let (_, v) = lifeboat_json(&["snapshot", "inspect", path]);
        if v["compact_revision"].as_i64().unwrap_or(0) > 0 || attempt == 19 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }

    let status = snapshot_status_tool()
        .args(["snapshot", "status", "-w", "json"])
        .arg(&snap)
        .output()
        .expect("etcdctl runs");
    assert!(
        status.status.success(),
        "snapshot status: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    let want: Value = serde_json::from_slice(&status.stdout).expect("etcdctl JSON");

    let (code, got) = lifeboat_json(&["snapshot", "inspect", "--check-sha256", path]);
    assert_eq!(code, 0);
    for field in ["hash", "revision", "totalKey", "totalSize"] {
        let ours = if field == "totalKey" {
            total_key_field()
        } else {
            field
        };
        assert_eq!(
            got[ours], want[field],
            "{field}: lifeboat {} vs etcdctl {}",
            got[ours], want[field]
        );
    }
    assert_eq!(got["sha256"]["status"], "ok");
    assert_eq!(
        got["live_keys"].as_u64(),
        Some(live.len() as u64),
        "live keys (3.6 counting)"
    );
    assert!(
        got["compact_revision"].as_i64().unwrap_or(0) > 0,
        "the compaction is visible"
    );
    assert_eq!(got["kubernetes"]["resources"][0]["resource"], "configmaps");

    let (code, v) = lifeboat_json(&["snapshot", "verify", path]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["sound"], true);

    // The member is running: its files are locked, and reading them takes no lock of ours.
    let data_dir = tc.cluster.members()[0]
        .data_dir
        .to_str()
        .expect("utf-8 path")
        .to_string();
    let (code, d) = lifeboat_json(&["datadir", "inspect", &data_dir]);
    assert!(code == 0 || code == 1, "{d}");
    assert_eq!(d["live"]["locked"], true, "{}", d["live"]);
    assert!(
        d["committed"].as_u64().unwrap_or(0) >= 10_000,
        "{}",
        d["committed"]
    );
}
