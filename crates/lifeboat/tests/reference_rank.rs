//! `lifeboat datadir rank` on the data dirs of a cluster caught mid rolling upgrade: two etcd
//! 3.5 members and one already on 3.6 (as crates/testkit/tests/rolling_upgrade.rs makes it),
//! stopped one by one while writes go on, so they hold different amounts of committed data.
//! The ranking must agree with etcd: each member's committed index is at least what the member
//! itself reported (`Status.raftIndex`) just before it stopped, the revision is what that
//! release's `etcdutl snapshot status` reads from `member/snap/db`, and when the best and the
//! worst member start again together, raft elects the best one (a less up-to-date log cannot
//! win a vote). Needs both 3.5 and 3.6 (`scripts/etcd-versions.sh install 3.5 3.6`); skips
//! with the reason otherwise, whatever release the suite runs for.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::cargo::cargo_bin;
use common::lifeboat;
use serde_json::Value;
use testkit::reference::{assert_inspect_matches_tool, run_json};
use testkit::{LocalClusterSpec, TestCluster, data};

/// The directory of an installed etcd release, or why there is none.
fn release_dir(version: &str) -> Result<PathBuf, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/etcd-versions.sh");
    let out = Command::new(&script)
        .args(["dir", version])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    for bin in ["etcd", "etcdutl"] {
        if !dir.join(bin).is_file() {
            return Err(format!(
                "no {bin} {version} in {}: run scripts/etcd-versions.sh install {version}",
                dir.display()
            ));
        }
    }
    Ok(dir)
}

/// (member ID as lifeboat prints it, committed raft index) from the member itself.
async fn live_status(tc: &TestCluster, i: usize) -> (String, u64) {
    let mut c = tc.client(i).await.unwrap();
    let st = c.status().await.unwrap();
    let id = st.header().expect("a header").member_id();
    (format!("{id:016x}"), st.raft_index())
}

#[tokio::test]
async fn rank_agrees_with_etcd_when_a_35_member_lags() {
    rank_of_mixed_35_and_36_dirs(0).await;
}

#[tokio::test]
async fn rank_agrees_with_etcd_when_the_36_member_lags() {
    rank_of_mixed_35_and_36_dirs(2).await;
}

/// m1 and m2 run 3.5, m3 runs 3.6; member `lagging` stops first and misses half the writes.
async fn rank_of_mixed_35_and_36_dirs(lagging: usize) {
    let (old, new) = match (release_dir("3.5"), release_dir("3.6")) {
        (Ok(o), Ok(n)) => (o, n),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("skipped: needs etcd 3.5 and 3.6 installed side by side: {e}");
            return;
        }
    };
    let mut tc = TestCluster::start(LocalClusterSpec {
        members: 3,
        tls: true,
        etcd_bin: old.join("etcd"),
        extra_args: vec!["--snapshot-count=10".into()],
        ..LocalClusterSpec::default()
    })
    .await;
    // m3 is upgraded first, as a rolling upgrade would.
    tc.cluster.stop(2);
    tc.cluster.set_member_binary(2, &new.join("etcd")).unwrap();
    tc.cluster.restart(2).unwrap();
    tc.wait_leader(testkit::STARTUP_TIMEOUT).await;
    let utl = [
        old.join("etcdutl"),
        old.join("etcdutl"),
        new.join("etcdutl"),
    ];

    let writer = (lagging + 1) % 3;
    let mut c = tc.client(writer).await.unwrap();
    data::put_keys(&mut c, "/registry/configmaps/a/k", 50)
        .await
        .unwrap();
    // The lagging member goes first and misses what follows; the other two keep committing.
    let mut seen = vec![(String::new(), 0); 3];
    seen[lagging] = live_status(&tc, lagging).await;
    tc.cluster.stop(lagging);
    data::put_keys(&mut c, "/registry/configmaps/b/k", 50)
        .await
        .unwrap();
    drop(c);
    let others = [writer, (lagging + 2) % 3];
    for i in others {
        seen[i] = live_status(&tc, i).await;
    }
    for i in others {
        tc.cluster.stop(i);
    }

    let dirs: Vec<PathBuf> = tc
        .cluster
        .members()
        .iter()
        .map(|m| m.data_dir.clone())
        .collect();
    let out = lifeboat()
        .args(["datadir", "rank", "-o", "json"])
        .args(&dirs)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let ranked: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = ranked["ranking"].as_array().expect("ranking");
    assert_eq!(rows.len(), 3, "{ranked:#}");
    let member_of = |row: &Value| {
        dirs.iter()
            .position(|d| row["dir"] == d.display().to_string())
            .unwrap_or_else(|| panic!("unknown dir in {row}"))
    };

    for row in rows {
        let i = member_of(row);
        let (id, raft_index) = &seen[i];
        assert_eq!(row["member_id"], id.as_str(), "m{} member ID", i + 1);
        let committed = row["committed"].as_u64().unwrap();
        assert!(
            committed >= *raft_index,
            "m{}: ranked with committed {committed}, but it reported raft index {raft_index} \
             before it stopped: {ranked:#}",
            i + 1
        );
        let db = dirs[i].join("member/snap/db");
        let reference = run_json(
            &utl[i],
            &["snapshot", "status", "-w", "json", &db.to_string_lossy()],
        )
        .unwrap();
        assert_eq!(
            row["revision"],
            reference["revision"],
            "m{} revision",
            i + 1
        );
        // Mid-upgrade, either release's etcdutl may be the one at hand: both read every dir
        // as lifeboat does.
        for (tool, minor) in [(old.join("etcdutl"), 5), (new.join("etcdutl"), 6)] {
            assert_inspect_matches_tool(&cargo_bin("lifeboat"), &db, &tool, minor);
        }
    }
    let worst = member_of(&rows[2]);
    assert_eq!(
        worst,
        lagging,
        "m{} stopped before the second half of the writes: {ranked:#}",
        lagging + 1
    );
    assert!(rows[2]["committed"].as_u64() < rows[0]["committed"].as_u64());

    // What etcd itself picks: the best and the worst together are a quorum of 3, and raft's
    // vote only goes to a log at least as up-to-date, so the best one must lead.
    let best = member_of(&rows[0]);
    tc.cluster.restart(best).unwrap();
    tc.cluster.restart(worst).unwrap();
    tc.wait_leader(testkit::STARTUP_TIMEOUT).await;
    let mut c = tc.client(worst).await.unwrap();
    let st = c.status().await.unwrap();
    assert_eq!(
        format!("{:016x}", st.leader()),
        seen[best].0,
        "etcd elected another member than lifeboat's first: {ranked:#}"
    );
    let found = data::read_prefix(&mut c, "/registry/configmaps/b/")
        .await
        .unwrap();
    assert_eq!(
        found.len(),
        50,
        "the best member kept every acknowledged write"
    );
}
