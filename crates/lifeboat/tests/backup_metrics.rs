//! `lifeboat agent --metrics-listen`: /metrics scraped during a run against a real etcd and
//! parsed; the values match the store and the cluster. /healthz answers; other paths do not.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod backup_common;
mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use backup::remote::Store;
use backup_common::writes;
use testkit::TestCluster;

fn get(port: u16, path: &str) -> (String, String) {
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connects");
    write!(conn, "GET {path} HTTP/1.1\r\nhost: test\r\n\r\n").expect("sends");
    let mut answer = String::new();
    conn.read_to_string(&mut answer).expect("reads");
    let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    (head.lines().next().unwrap().to_string(), body.to_string())
}

/// Samples by their name with labels, e.g. `lifeboat_backup_uploaded_bytes_total{kind="delta"}`.
fn samples(body: &str) -> BTreeMap<String, f64> {
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (name, value) = l.rsplit_once(' ').expect("name value");
            (name.to_string(), value.parse().expect("a number"))
        })
        .collect()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn metrics_match_the_store_and_the_cluster() {
    let tc = TestCluster::plain(1).await;
    let mut c = tc.any_client().await.expect("client");
    writes(&mut c, 0).await.expect("writes");
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("store");
    std::fs::create_dir(&root).expect("mkdir");
    let url = format!("file://{}", root.display());
    let store = Store::open(&url).expect("store");
    let port = free_port();
    let mut agent = Command::new(assert_cmd::cargo::cargo_bin("lifeboat"))
        .args(["agent", "--store", &url, "--metrics-listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--work-dir")
        .arg(dir.path())
        .args(tc.cli_args())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("agent starts");

    // Written once the full is stored, so that the delta log carries them.
    for _ in 0..300 {
        if !store.contents().await.expect("list").fulls.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    writes(&mut c, 1).await.expect("writes");
    let end = c.get("/", None).await.unwrap().header().unwrap().revision();
    // Scraped until the agent has uploaded `end` and seen nothing newer.
    let mut m = BTreeMap::new();
    for _ in 0..300 {
        if let Ok(body) = tokio::task::spawn_blocking(move || get(port, "/metrics").1).await {
            m = samples(&body);
            if m.get("lifeboat_backup_delta_revision") == Some(&(end as f64))
                && m.get("lifeboat_backup_delta_lag_revisions") == Some(&0.0)
                && m.get("lifeboat_cluster_members") == Some(&1.0)
            {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let contents = store.contents().await.expect("list");
    let _ = agent.kill();
    let _ = agent.wait();

    assert_eq!(m["lifeboat_backup_delta_revision"], end as f64, "{m:#?}");
    assert_eq!(m["lifeboat_agent_leader"], 1.0);
    let (full, _) = contents.fulls.last().expect("a full");
    assert_eq!(m["lifeboat_backup_full_revision"], full.revision as f64);
    assert_eq!(
        m["lifeboat_backup_full_timestamp_seconds"],
        full.taken_ms as f64 / 1000.0
    );
    let segment_bytes: u64 = contents.deltas.iter().map(|(_, e)| e.size).sum();
    assert_eq!(
        m[r#"lifeboat_backup_uploaded_bytes_total{kind="delta"}"#],
        segment_bytes as f64
    );
    assert_eq!(
        m[r#"lifeboat_backup_uploaded_objects_total{kind="delta"}"#],
        contents.deltas.len() as f64
    );
    assert_eq!(
        m[r#"lifeboat_backup_uploaded_objects_total{kind="full"}"#],
        1.0
    );
    assert!(m["lifeboat_backup_age_seconds"] >= 0.0);
    assert_eq!(m["lifeboat_cluster_voting_members"], 1.0);
    assert_eq!(m["lifeboat_cluster_reachable_voters"], 1.0);
    assert_eq!(m["lifeboat_cluster_leader_present"], 1.0);
    assert_eq!(m["lifeboat_cluster_alarms"], 0.0);
    assert!(m["lifeboat_cluster_db_size_bytes"] > 0.0);
}

#[tokio::test]
async fn healthz_answers_and_unknown_paths_do_not() {
    let tc = TestCluster::plain(1).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("file://{}", dir.path().display());
    let port = free_port();
    let mut agent = Command::new(assert_cmd::cargo::cargo_bin("lifeboat"))
        .args(["agent", "--store", &url, "--metrics-listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--work-dir")
        .arg(dir.path())
        .args(tc.cli_args())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("agent starts");
    let mut health = None;
    for _ in 0..300 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            health = Some(get(port, "/healthz"));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let other = get(port, "/nothing");
    let _ = agent.kill();
    let _ = agent.wait();
    let (status, body) = health.expect("the listener came up");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(body, "ok\n");
    assert_eq!(other.0, "HTTP/1.1 404 Not Found");
}

/// The writes the watch delivered but no flush has sealed yet are not lost when etcd dies:
/// the agent seals and uploads them while its lease still fences other writers out. The lag
/// gauges show them waiting first (they follow every watch message, not only the flushes).
#[tokio::test]
async fn writes_buffered_when_etcd_dies_are_still_uploaded() {
    let mut tc = TestCluster::plain(1).await;
    let mut c = tc.any_client().await.expect("client");
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("store");
    std::fs::create_dir(&root).expect("mkdir");
    let url = format!("file://{}", root.display());
    let store = Store::open(&url).expect("store");
    let port = free_port();
    let mut agent = Command::new(assert_cmd::cargo::cargo_bin("lifeboat"))
        .args([
            "agent",
            "--store",
            &url,
            "--flush-every",
            "1h",
            "--lease-ttl",
            "30s",
        ])
        .arg("--metrics-listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--work-dir")
        .arg(dir.path())
        .args(tc.cli_args())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("agent starts");
    for _ in 0..300 {
        if !store.contents().await.expect("list").fulls.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    writes(&mut c, 1).await.expect("writes");
    let end = c.get("/", None).await.unwrap().header().unwrap().revision();
    // The agent has seen them (they wait, unsealed, for an hour-long flush).
    let mut waiting = 0.0;
    for _ in 0..300 {
        if let Ok(body) = tokio::task::spawn_blocking(move || get(port, "/metrics").1).await {
            waiting = samples(&body)
                .get("lifeboat_backup_delta_lag_revisions")
                .copied()
                .unwrap_or(0.0);
            if waiting > 0.0 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        waiting > 0.0,
        "the lag gauge never showed the buffered writes"
    );
    assert!(
        store.contents().await.expect("list").deltas.is_empty(),
        "nothing is sealed before the flush"
    );

    tc.cluster.kill(0);
    let mut reached = 0;
    for _ in 0..300 {
        reached = store
            .contents()
            .await
            .expect("list")
            .deltas
            .last()
            .map_or(0, |(d, _)| d.last_revision);
        if reached >= end {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = agent.kill();
    let _ = agent.wait();
    assert_eq!(reached, end, "the writes the agent held when etcd died");
}
