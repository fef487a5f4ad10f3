//! What the leading `lifeboat agent` does besides writing, against a real etcd and a
//! `file://` store: the scheduled restore test (`--restore-test-every`) reaches success 1 on
//! a sound store and 0 on a corrupt full, with the reason in the log; retention
//! (`--keep-last`) after each full deletes old fulls and counts them.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod backup_common;
mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use backup::remote::Store;
use backup_common::writes;
use testkit::TestCluster;

fn scrape(port: u16) -> Option<BTreeMap<String, f64>> {
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(conn, "GET /metrics HTTP/1.1\r\nhost: test\r\n\r\n").ok()?;
    let mut answer = String::new();
    conn.read_to_string(&mut answer).ok()?;
    let (_, body) = answer.split_once("\r\n\r\n")?;
    Some(
        body.lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .filter_map(|l| {
                let (name, value) = l.rsplit_once(' ')?;
                Some((name.to_string(), value.parse().ok()?))
            })
            .collect(),
    )
}

/// Scrapes every 100 ms until `done` holds (at most 90 s); the last scrape either way.
async fn poll(port: u16, done: impl Fn(&BTreeMap<String, f64>) -> bool) -> BTreeMap<String, f64> {
    let mut last = BTreeMap::new();
    for _ in 0..900 {
        if let Ok(Some(m)) = tokio::task::spawn_blocking(move || scrape(port)).await {
            last = m;
            if done(&last) {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    last
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn agent(tc: &TestCluster, url: &str, work: &Path, port: u16, extra: &[&str], log: &Path) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin("lifeboat"))
        .args(["agent", "--store", url, "--metrics-listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--work-dir")
        .arg(work)
        .args(extra)
        .args(tc.cli_args())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("agent starts")
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn get(m: &BTreeMap<String, f64>, name: &str) -> f64 {
    m.get(name).copied().unwrap_or(-1.0)
}

#[tokio::test]
async fn restore_tests_pass_and_retention_prunes_old_fulls() {
    let tc = TestCluster::plain(1).await;
    let mut c = tc.any_client().await.expect("client");
    writes(&mut c, 0).await.expect("writes");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    std::fs::create_dir(&root).unwrap();
    let url = format!("file://{}", root.display());
    let store = Store::open(&url).unwrap();
    // Not ours: retention must leave it.
    std::fs::write(root.join("README.txt"), "someone else's").unwrap();
    let port = free_port();
    let log = dir.path().join("agent.log");
    let child = agent(
        &tc,
        &url,
        dir.path(),
        port,
        &[
            "--restore-test-every",
            "1s",
            "--full-every",
            "2s",
            "--keep-last",
            "1",
        ],
        &log,
    );
    let m = poll(port, |m| {
        get(m, "lifeboat_backup_restore_test_success") == 1.0
            && get(m, "lifeboat_backup_restore_test_timestamp_seconds") > 0.0
            && get(m, r#"lifeboat_backup_pruned_objects_total{kind="full"}"#) >= 2.0
    })
    .await;
    writes(&mut c, 1).await.expect("writes");
    let end = c.get("/", None).await.unwrap().header().unwrap().revision();
    // A restore test after these writes rebuilds a revision that holds them.
    let passed_at = get(&m, "lifeboat_backup_restore_test_timestamp_seconds");
    let later = poll(port, |m| {
        get(m, "lifeboat_backup_restore_test_timestamp_seconds") > passed_at + 1.0
            && get(m, "lifeboat_backup_delta_revision") >= end as f64
    })
    .await;
    stop(child);
    let log = std::fs::read_to_string(&log).unwrap();

    assert_eq!(
        get(&m, "lifeboat_backup_restore_test_success"),
        1.0,
        "{m:#?}\n{log}"
    );
    assert!(get(&m, "lifeboat_backup_restore_test_duration_seconds") > 0.0);
    assert_eq!(
        get(&m, "lifeboat_backup_restore_test_interval_seconds"),
        1.0
    );
    assert!(
        get(&m, r#"lifeboat_backup_pruned_objects_total{kind="full"}"#) >= 2.0,
        "{m:#?}"
    );
    assert_eq!(
        get(&m, r#"lifeboat_backup_pruned_objects_total{kind="full"}"#),
        get(
            &m,
            r#"lifeboat_backup_pruned_objects_total{kind="manifest"}"#
        ),
        "each full went with its manifest"
    );
    assert_eq!(
        get(&later, "lifeboat_backup_restore_test_success"),
        1.0,
        "{log}"
    );
    assert!(log.contains("agent: restore test passed"), "{log}");
    assert!(!log.contains("FAILED"), "{log}");
    assert!(
        root.join("README.txt").exists(),
        "a foreign object survives"
    );
    // What is left is one sound chain: a full or two (one may have arrived since the last
    // prune) and the segments after the oldest; `--latest` rebuilds the newest write.
    let contents = store.contents().await.unwrap();
    assert!(
        (1..=2).contains(&contents.fulls.len()),
        "{:?}",
        contents.fulls
    );
    let out = dir.path().join("latest.db");
    let restored = common::lifeboat()
        .args(["backup", "restore", "--latest", "--store", &url, "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    let verify = common::lifeboat()
        .args(["backup", "verify", "--store", &url, "--work-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
}

#[tokio::test]
async fn a_corrupt_full_fails_the_restore_test_with_the_reason_logged() {
    let tc = TestCluster::plain(1).await;
    let mut c = tc.any_client().await.expect("client");
    writes(&mut c, 0).await.expect("writes");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    std::fs::create_dir(&root).unwrap();
    let url = format!("file://{}", root.display());
    let store = Store::open(&url).unwrap();
    let port = free_port();
    // A first run leaves a full (and no restore test).
    let first = agent(
        &tc,
        &url,
        dir.path(),
        port,
        &[],
        &dir.path().join("first.log"),
    );
    for _ in 0..600 {
        if !store.contents().await.unwrap().fulls.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop(first);
    let contents = store.contents().await.unwrap();
    let (_, entry) = contents.fulls.last().expect("a full");
    let path = root.join(&entry.object);
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();

    // The next leader finds the full recent (no new one for an hour) and tests it at once.
    let port = free_port();
    let log = dir.path().join("agent.log");
    let child = agent(
        &tc,
        &url,
        dir.path(),
        port,
        &["--restore-test-every", "1h", "--full-every", "1h"],
        &log,
    );
    let m = poll(port, |m| {
        get(m, "lifeboat_backup_restore_test_timestamp_seconds") > 0.0
    })
    .await;
    stop(child);
    let log = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        get(&m, "lifeboat_backup_restore_test_success"),
        0.0,
        "{m:#?}\n{log}"
    );
    assert_eq!(
        get(&m, r#"lifeboat_backup_failures_total{kind="restore_test"}"#),
        1.0
    );
    let line = log
        .lines()
        .find(|l| l.contains("restore test FAILED"))
        .unwrap_or_else(|| panic!("no failure logged:\n{log}"));
    assert!(
        line.contains(&entry.object) && line.contains("SHA-256"),
        "{line}"
    );
    assert!(line.contains("lifeboat backup verify"), "{line}");
    // The temporary directory went with the failed test.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("restore-test"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

fn with_config(yaml: &str) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("agent.yaml");
    std::fs::write(&file, yaml).unwrap();
    common::lifeboat()
        .args(["agent", "--config"])
        .arg(&file)
        // Nothing may connect: a refused file stops the agent first.
        .args(["--endpoints", "http://127.0.0.1:1"])
        .env_remove("LIFEBOAT_BACKUP_STORE")
        .output()
        .unwrap()
}

fn refused(out: &std::process::Output, code: i32, words: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for w in words {
        assert!(stderr.contains(w), "stderr lacks {w:?}: {stderr}");
    }
}

/// The config's `retention:` section and `restore-test-every` are checked like every key.
#[test]
fn retention_and_restore_test_settings_are_checked() {
    let out = with_config("store: file:///tmp/x\nretention:\n  keep-last: 2\n  montly: 3\n");
    refused(&out, 3, &["line 4", "montly"]);
    let out = with_config("store: file:///tmp/x\nretention:\n  daily: many\n");
    refused(&out, 3, &["line 3"]);
    let out = with_config("store: file:///tmp/x\nretention: 3\n");
    refused(&out, 3, &["line 2"]);
    let out = with_config("store: file:///tmp/x\nrestore-test-every: weekly\n");
    refused(&out, 3, &["line 2", "\"weekly\" is not a duration"]);
    let out = with_config("store: file:///tmp/x\nrestore_test_every: 10ms\n");
    refused(&out, 64, &["--restore-test-every", "too short"]);
}

/// `backup prune` without a policy is a usage error, before the store is touched.
#[test]
fn prune_without_a_policy_is_refused() {
    let out = common::lifeboat()
        .args([
            "backup",
            "prune",
            "--store",
            "file:///nonexistent/store",
            "--yes",
        ])
        .output()
        .unwrap();
    refused(&out, 64, &["--keep-last"]);
}
