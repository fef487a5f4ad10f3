//! The agent's pieces against a real etcd: a full snapshot uploaded, then the delta log from a
//! live watch while writes go on (flushed every second, so several segments), then a clean
//! stop: `backup verify` is sound and `backup restore --latest` equals the live snapshot.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod backup_common;
mod common;

use std::time::Duration;

use backup::agent::deltas::{self, DeltaConfig, Stopped};
use backup::agent::full;
use backup::remote::Store;
use backup_common::{current_revision, key_bucket, key_bucket_upto, save, writes};
use common::lifeboat;
use testkit::TestCluster;

#[tokio::test]
async fn agent_full_and_delta_log_restore_to_the_live_state() {
    let tc = TestCluster::tls(1).await;
    let mut c = tc.any_client().await.expect("client");
    writes(&mut c, 0).await.expect("writes");
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("store");
    let work = dir.path().join("work");
    std::fs::create_dir(&root).expect("mkdir");
    std::fs::create_dir(&work).expect("mkdir");
    let url = format!("file://{}", root.display());
    let store = Store::open(&url).expect("store");

    let settings = tc.cluster.settings_for(&[0]);
    let tls = settings.validate().expect("tls");
    let (name, manifest) = full::take(&settings, tls.as_ref(), &store, &work, None)
        .await
        .expect("full uploaded");
    assert_eq!(name.revision, manifest.revision);
    assert_eq!(
        std::fs::read_dir(&work).expect("dir").count(),
        0,
        "staging copy removed"
    );

    let cluster_id = u64::from_str_radix(&manifest.cluster_id, 16).expect("hex");
    let mut cfg = DeltaConfig::new(cluster_id, 1);
    cfg.flush_every = Duration::from_millis(300);
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let mut watch_client = tc.client(0).await.expect("client");
    let log_store = Store::open(&url).expect("store");
    let log = tokio::spawn(async move {
        deltas::run(
            &mut watch_client,
            &log_store,
            manifest.revision,
            &cfg,
            &mut stop_rx,
        )
        .await
    });
    for round in 1..4 {
        writes(&mut c, round).await.expect("writes");
        // Let a flush happen between rounds: several segments, not one.
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    let end = current_revision(&mut c).await;
    // The log has seen everything once a segment ending at `end` is in the store.
    let mut seen = false;
    for _ in 0..200 {
        let contents = store.contents().await.expect("list");
        if contents
            .deltas
            .last()
            .is_some_and(|(d, _)| d.last_revision == end)
        {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(seen, "no segment reached revision {end} within 20 s");
    stop_tx.send(true).expect("stop");
    let stopped = log.await.expect("joins").expect("log ran");
    assert_eq!(stopped, Stopped::Shutdown { last_revision: end });
    let segments = store.contents().await.expect("list").deltas.len();
    assert!(segments >= 3, "{segments} segments");

    let live = dir.path().join("live.db");
    assert_eq!(save(&tc, &live), end);
    let verify = lifeboat()
        .args(["backup", "verify", "--store", &url, "--work-dir"])
        .arg(dir.path())
        .output()
        .expect("runs");
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    let out = dir.path().join("restored.db");
    let restore = lifeboat()
        .args(["backup", "restore", "--latest", "--store", &url, "--out"])
        .arg(&out)
        .output()
        .expect("runs");
    assert!(
        restore.status.success(),
        "{}",
        String::from_utf8_lossy(&restore.stderr)
    );
    assert_eq!(key_bucket(&out), key_bucket(&live));
}

#[tokio::test]
async fn delta_log_behind_a_compaction_stops_and_says_so() {
    let tc = TestCluster::plain(1).await;
    let mut c = tc.any_client().await.expect("client");
    writes(&mut c, 0).await.expect("writes");
    let end = current_revision(&mut c).await;
    c.compact(end, None).await.expect("compact");
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("file://{}", dir.path().display());
    let store = Store::open(&url).expect("store");
    let (_stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let cfg = DeltaConfig::new(1, 1);
    // Resuming from revision 2 is impossible: etcd has compacted it away.
    let stopped = deltas::run(&mut c, &store, 2, &cfg, &mut stop_rx)
        .await
        .expect("a clean stop");
    assert_eq!(
        stopped,
        Stopped::Compacted {
            compact_revision: end,
            last_revision: 2
        }
    );
    assert!(store.contents().await.expect("list").deltas.is_empty());
}

#[tokio::test]
async fn agent_command_backs_up_until_it_is_told_to_stop() {
    let tc = TestCluster::tls(1).await;
    let mut c = tc.any_client().await.expect("client");
    writes(&mut c, 0).await.expect("writes");
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("store");
    std::fs::create_dir(&root).expect("mkdir");
    let url = format!("file://{}", root.display());
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("lifeboat"));
    cmd.args([
        "agent",
        "--store",
        &url,
        "--full-every",
        "1500ms",
        "--run-for",
        "5s",
        "-o",
        "json",
    ])
    .arg("--work-dir")
    .arg(dir.path())
    .args(tc.cli_args())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped());
    let agent = cmd.spawn().expect("agent starts");
    // Writes while the agent runs; the last well before it stops.
    for round in 1..3 {
        tokio::time::sleep(Duration::from_millis(800)).await;
        writes(&mut c, round).await.expect("writes");
    }
    let end = current_revision(&mut c).await;
    let out = tokio::task::spawn_blocking(move || agent.wait_with_output())
        .await
        .expect("joins")
        .expect("agent ran");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(summary["last_revision"], end, "{summary:#} {stderr}");
    assert!(
        summary["fulls"].as_array().is_some_and(|f| f.len() >= 2),
        "{summary:#}"
    );

    // The agent revokes its election lease once it has uploaded everything: that deletion is
    // a revision after `end`, left out of the comparison.
    let live = dir.path().join("live.db");
    assert_eq!(save(&tc, &live), end + 1);
    let restored = dir.path().join("restored.db");
    let restore = lifeboat()
        .args(["backup", "restore", "--latest", "--store", &url, "--out"])
        .arg(&restored)
        .output()
        .expect("runs");
    assert!(
        restore.status.success(),
        "{}",
        String::from_utf8_lossy(&restore.stderr)
    );
    assert_eq!(key_bucket(&restored), key_bucket_upto(&live, end));
}

/// A term that fails (here: the full cannot be staged: the work directory is a file) does not end the agent: it hands the
/// lead over, campaigns again, and at its stop says what failed, with exit 1.
#[tokio::test]
async fn a_failing_term_is_retried_and_reported() {
    let tc = TestCluster::plain(1).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("file://{}", dir.path().join("store").display());
    std::fs::create_dir(dir.path().join("store")).expect("mkdir");
    // A file where the work directory should be.
    std::fs::write(dir.path().join("not-a-dir"), b"").expect("write");
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("lifeboat"))
        .args(["agent", "--store", &url, "--run-for", "8s", "-o", "json"])
        .arg("--work-dir")
        .arg(dir.path().join("not-a-dir"))
        .args(tc.cli_args())
        .output()
        .expect("agent ran");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(
        summary["failed_terms"].as_u64().is_some_and(|n| n >= 2),
        "retried: {summary:#} {stderr}"
    );
    assert_eq!(summary["terms_led"], summary["failed_terms"]);
    assert!(
        summary["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("not-a-dir")),
        "{summary:#}"
    );
}

/// A store that holds another cluster's backups is not written to: the term fails and says so.
#[tokio::test]
async fn a_store_of_another_cluster_is_refused() {
    let first = TestCluster::plain(1).await;
    let other = TestCluster::plain(1).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("store");
    std::fs::create_dir(&root).expect("mkdir");
    let url = format!("file://{}", root.display());
    let run = |tc: &TestCluster, run_for: &str| {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("lifeboat"))
            .args(["agent", "--store", &url, "--run-for", run_for, "-o", "json"])
            .arg("--work-dir")
            .arg(dir.path())
            .args(tc.cli_args())
            .output()
            .expect("agent ran")
    };
    let out = run(&first, "2s");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let before = Store::open(&url)
        .expect("store")
        .contents()
        .await
        .expect("list");
    let out = run(&other, "3s");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(
        summary["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("give each cluster its own --store")),
        "{summary:#}"
    );
    let after = Store::open(&url)
        .expect("store")
        .contents()
        .await
        .expect("list");
    assert_eq!(after.fulls.len(), before.fulls.len(), "nothing written");
    assert_eq!(after.deltas.len(), before.deltas.len(), "nothing written");
}

/// `--flush-every` sets how often the delta log is sealed: with 1h nothing is sealed before
/// the stop (one segment holds every write); with 300ms each round of writes reaches the
/// store while the agent still runs.
#[tokio::test]
async fn flush_every_sets_how_often_segments_are_sealed() {
    let tc = TestCluster::plain(1).await;
    let mut c = tc.any_client().await.expect("client");
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |root: &std::path::Path, flush: &str| {
        std::fs::create_dir(root).expect("mkdir");
        std::process::Command::new(assert_cmd::cargo::cargo_bin("lifeboat"))
            .args(["agent", "--flush-every", flush, "--full-every", "1h"])
            .arg("--store")
            .arg(format!("file://{}", root.display()))
            .arg("--work-dir")
            .arg(dir.path())
            .args(tc.cli_args())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("agent starts")
    };
    let revision = |c: &mut etcd_client::Client| {
        let mut c = c.clone();
        async move { current_revision(&mut c).await }
    };
    // Waits (bounded) until the store's segments reach `end`.
    let reached = |url: String, end: i64| async move {
        let store = Store::open(&url).expect("store");
        for _ in 0..200 {
            let contents = store.contents().await.expect("list");
            if contents
                .deltas
                .last()
                .is_some_and(|(d, _)| d.last_revision >= end)
            {
                return contents.deltas.len();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no segment reached revision {end} within 20 s");
    };
    let full_done = |root: std::path::PathBuf| async move {
        for _ in 0..300 {
            if std::fs::read_dir(root.join("full")).is_ok_and(|d| d.count() >= 2) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no full within 30 s");
    };
    let stop = |agent: std::process::Child| async move {
        let pid = agent.id().to_string();
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        let out = tokio::task::spawn_blocking(move || agent.wait_with_output())
            .await
            .expect("joins")
            .expect("ran");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };

    let fast = dir.path().join("fast");
    let agent = run(&fast, "300ms");
    full_done(fast.clone()).await;
    let url = format!("file://{}", fast.display());
    let mut seen = 0;
    for round in 0..3 {
        writes(&mut c, round).await.expect("writes");
        let end = revision(&mut c).await;
        seen = reached(url.clone(), end).await;
    }
    stop(agent).await;
    assert!(seen >= 3, "{seen} segments sealed while the agent ran");

    let slow = dir.path().join("slow");
    let agent = run(&slow, "1h");
    full_done(slow.clone()).await;
    for round in 3..6 {
        writes(&mut c, round).await.expect("writes");
    }
    stop(agent).await;
    let contents = Store::open(&format!("file://{}", slow.display()))
        .expect("store")
        .contents()
        .await
        .expect("list");
    assert_eq!(contents.deltas.len(), 1, "sealed only at the stop");
}
