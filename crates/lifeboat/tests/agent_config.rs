//! `lifeboat agent --config FILE`: settings from YAML, flags winning over the file; an unknown
//! key, a wrong type or a bad value refused with its line, before anything connects.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod common;

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::lifeboat;
use testkit::TestCluster;

fn with_config(yaml: &str, extra: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("agent.yaml");
    std::fs::write(&file, yaml).unwrap();
    lifeboat()
        .arg("agent")
        .arg("--config")
        .arg(&file)
        .args(extra)
        // Nothing may connect: a refused file stops the agent first.
        .args(["--endpoints", "http://127.0.0.1:1"])
        .env_remove("LIFEBOAT_BACKUP_STORE")
        .output()
        .unwrap()
}

fn refused(out: &Output, code: i32, words: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for w in words {
        assert!(stderr.contains(w), "stderr lacks {w:?}: {stderr}");
    }
}

#[test]
fn an_unknown_key_is_refused_with_its_line() {
    let out = with_config("store: file:///tmp/x\nfull-evry: 1h\n", &[]);
    refused(&out, 3, &["line 2", "full-evry", "full-every"]);
}

#[test]
fn a_wrong_type_is_refused_with_its_line() {
    let out = with_config("store: file:///tmp/x\n\nlease-ttl: [10s]\n", &[]);
    refused(&out, 3, &["line 3", "agent.yaml"]);
    let out = with_config("store: file:///tmp/x\nfull-every: soon\n", &[]);
    refused(&out, 3, &["line 2", "\"soon\" is not a duration"]);
    let out = with_config("metrics-listen: everywhere\n", &[]);
    refused(&out, 3, &["line 1", "socket address"]);
}

#[test]
fn a_missing_file_and_a_missing_store_are_refused() {
    let out = lifeboat()
        .args(["agent", "--config", "/nonexistent/agent.yaml"])
        .output()
        .unwrap();
    refused(&out, 3, &["/nonexistent/agent.yaml"]);
    let out = with_config("full-every: 1h\n", &[]);
    refused(&out, 64, &["no backup store", "--store"]);
    let out = with_config("store: file:///tmp/x\nlease-ttl: 1s\n", &[]);
    refused(&out, 64, &["too short"]);
}

/// The file's settings are used; a flag on the command line wins over the file.
#[tokio::test]
async fn the_file_is_used_and_flags_win() {
    let tc = TestCluster::plain(1).await;
    let dir = tempfile::tempdir().unwrap();
    let from_file = dir.path().join("file-store");
    let from_flag = dir.path().join("flag-store");
    std::fs::create_dir(&from_file).unwrap();
    std::fs::create_dir(&from_flag).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let yaml = format!(
        "store: file://{}\nfull-every: 1h\nlease-ttl: 3s\nwork-dir: {}\nmetrics-listen: 127.0.0.1:{port}\n",
        from_file.display(),
        dir.path().display()
    );
    let file = dir.path().join("agent.yaml");
    std::fs::write(&file, yaml).unwrap();
    let run = |extra: Vec<String>| {
        Command::new(assert_cmd::cargo::cargo_bin("lifeboat"))
            .arg("agent")
            .arg("--config")
            .arg(&file)
            .args(extra)
            .args(tc.cli_args())
            .env_remove("LIFEBOAT_BACKUP_STORE")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut agent = run(vec![]);
    // The metrics listener comes from the file too.
    let mut listening = false;
    for _ in 0..300 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            listening = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let wait_full = |root: std::path::PathBuf| async move {
        for _ in 0..300 {
            if std::fs::read_dir(root.join("full")).is_ok_and(|mut d| d.next().is_some()) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    };
    let full_in_file_store = wait_full(from_file.clone()).await;
    agent.kill().unwrap();
    agent.wait().unwrap();
    assert!(listening, "no metrics listener on the file's address");
    assert!(full_in_file_store, "no full in the file's store");

    let mut agent = run(vec![
        "--store".into(),
        format!("file://{}", from_flag.display()),
    ]);
    let full_in_flag_store = wait_full(from_flag.clone()).await;
    agent.kill().unwrap();
    agent.wait().unwrap();
    assert!(
        full_in_flag_store,
        "the --store flag did not win over the file"
    );
}

#[test]
fn flush_every_from_the_file_is_checked() {
    let out = with_config("store: file:///tmp/x\nflush-every: often\n", &[]);
    refused(&out, 3, &["line 2", "\"often\" is not a duration"]);
    let out = with_config("store: file:///tmp/x\nflush-every: 1ms\n", &[]);
    refused(&out, 64, &["--flush-every", "too short"]);
}

/// Encrypted fulls cannot be restore-tested by an agent that holds no identity: refused at
/// start instead of a restore test that could only fail and an alert that would cry wolf.
#[test]
fn restore_tests_of_encrypted_fulls_are_refused() {
    let out = with_config(
        "store: file:///tmp/x\nrestore-test-every: 1h\n",
        &["--encrypt-to", "/etc/lifeboat/recipients.txt"],
    );
    refused(
        &out,
        64,
        &["--restore-test-every", "--encrypt-to", "--identity"],
    );
}
