//! `lifeboat datadir inspect` and `rank` on data dirs written by the etcd under test (whatever
//! `LIFEBOAT_ETCD_BIN` runs: 3.4 to 3.7, see scripts/test-etcd-versions.sh), not on a fixture:
//! the membership, the commit index and the ranking must be read right from every version's
//! storage (3.6 keeps the membership in the db, not in the v2 store).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod common;

use std::time::Duration;

use serde_json::Value;
use testkit::{TestCluster, data};

fn json(args: &[String]) -> (Value, i32) {
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
    (v, out.status.code().unwrap_or(-1))
}

#[tokio::test]
async fn inspect_and_rank_read_this_versions_data_dirs() {
    let mut tc = TestCluster::plain(3).await;
    let mut c = tc.client(0).await.unwrap();
    data::put_keys(&mut c, "/registry/configmaps/a/k", 100)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    // m3 falls behind for good: killed, then the others commit more without it.
    tc.cluster.kill(2);
    // It may have been the leader: writes wait for the next one.
    tc.wait_leader(testkit::STARTUP_TIMEOUT).await;
    data::put_keys(&mut c, "/registry/configmaps/b/k", 200)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    tc.cluster.stop(0);
    tc.cluster.stop(1);

    let dirs: Vec<String> = tc
        .cluster
        .members()
        .iter()
        .map(|m| m.data_dir.display().to_string())
        .collect();
    let mut committed = Vec::new();
    for d in &dirs {
        let (v, code) = json(&["datadir".into(), "inspect".into(), d.clone()]);
        assert_eq!(code, 0, "{v:#}");
        let members = v["db"]["members"].as_array().expect("db members");
        assert_eq!(members.len(), 3, "membership read from {d}: {v:#}");
        assert_eq!(
            v["db"]["problems"].as_array().map(Vec::len),
            Some(0),
            "{v:#}"
        );
        assert_eq!(v["wal"]["crc_ok"], true, "{v:#}");
        committed.push(v["committed"].as_u64().expect("committed"));
    }
    assert!(
        committed[2] + 200 <= committed[0].min(committed[1]),
        "m3 missed 200 writes: {committed:?}"
    );

    let mut args = vec!["datadir".to_string(), "rank".to_string()];
    args.extend(dirs.iter().cloned());
    let (r, code) = json(&args);
    assert_eq!(code, 0, "{r:#}");
    let rows = r["ranking"].as_array().expect("ranking");
    assert_eq!(rows.len(), 3, "{r:#}");
    assert_eq!(
        rows[2]["dir"],
        dirs[2].as_str(),
        "the laggard ranks last: {r:#}"
    );
}
