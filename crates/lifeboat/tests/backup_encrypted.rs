//! `lifeboat agent --encrypt-to` end to end against a real S3 server (moto): fulls are
//! age-encrypted before they are stored; restore needs the identity. (Its own test binary:
//! it points the process's AWS_* variables at its moto.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod backup_common;
mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use backup::remote::Store;
use backup_common::{current_revision, key_bucket_upto, save, writes};
use common::lifeboat;
use testkit::TestCluster;

fn agent(
    tc: &TestCluster,
    url: &str,
    work: &Path,
    extra: &[&str],
    env: &[(&str, String)],
) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin("lifeboat"))
        .args([
            "agent",
            "--store",
            url,
            "--flush-every",
            "200ms",
            "--lease-ttl",
            "4s",
        ])
        .args(["-o", "json", "--work-dir"])
        .arg(work)
        .args(extra)
        .args(tc.cli_args())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("agent starts")
}

async fn stop(agent: Child) -> std::process::Output {
    let ok = Command::new("kill")
        .args(["-TERM", &agent.id().to_string()])
        .status()
        .expect("kill runs")
        .success();
    assert!(ok);
    tokio::task::spawn_blocking(move || agent.wait_with_output())
        .await
        .expect("joins")
        .expect("agent ran")
}

/// Polls (every 100 ms, at most 60 s) until `done` holds.
async fn until<F: Fn() -> Fut, Fut: std::future::Future<Output = bool>>(what: &str, done: F) {
    for _ in 0..600 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: not within 60 s");
}

async fn has_full(url: &str) -> bool {
    let Ok(store) = Store::open(url) else {
        return false;
    };
    store.contents().await.is_ok_and(|c| !c.fulls.is_empty())
}

async fn store_reaches(url: &str, end: i64) -> bool {
    let Ok(store) = Store::open(url) else {
        return false;
    };
    store.contents().await.is_ok_and(|c| {
        !c.fulls.is_empty() && c.deltas.last().is_some_and(|(d, _)| d.last_revision >= end)
    })
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// `lifeboat agent --encrypt-to` against S3 (moto): the full is age-encrypted before it is
/// stored, so no object holds the marker written before it (raw bytes of every object
/// searched); `backup restore --latest --identity` brings every key back, and without the
/// identity the restore refuses and says to pass it. Delta segments are not encrypted (a
/// known gap): the marker is written before the agent starts, so only the full holds it.
/// Checked able to fail: without `--encrypt-to` the raw-byte search fails on the full.
#[tokio::test]
async fn encrypted_fulls_hold_no_plaintext_and_restore_with_the_identity() {
    let tc = TestCluster::plain(1).await;
    let mut c = tc.any_client().await.expect("client");
    let marker = "marker-4f1c9e0b-plaintext";
    c.put("/secret/marker", marker, None).await.expect("put");
    c.put(format!("/secret/{marker}-key"), "v", None)
        .await
        .expect("put");
    let (moto, port) = backup_common::start_moto("enc-test");
    let env = backup_common::moto_env(port);
    let url = "s3://enc-test/agent";
    let dir = tempfile::tempdir().expect("tempdir");
    let work = dir.path().join("work");
    std::fs::create_dir(&work).expect("mkdir");
    let identity = dir.path().join("identity.txt");
    let keygen = Command::new("age-keygen")
        .arg("-o")
        .arg(&identity)
        .output()
        .expect("age-keygen runs (Debian package age)");
    assert!(keygen.status.success());
    let public = Command::new("age-keygen")
        .arg("-y")
        .arg(&identity)
        .output()
        .expect("age-keygen -y");
    let recipient = String::from_utf8(public.stdout).expect("utf-8");
    let recipient = recipient.trim();
    assert!(recipient.starts_with("age1"), "{recipient}");

    // SAFETY: this test's own store reads; set before any of its threads read the environment.
    for (k, v) in &env {
        unsafe { std::env::set_var(k, v) };
    }
    let a = agent(&tc, url, &work, &["--encrypt-to", recipient], &env);
    until("a full", || has_full(url)).await;
    writes(&mut c, 0).await.expect("writes");
    let end = current_revision(&mut c).await;
    until("segments stored", || store_reaches(url, end)).await;
    let out = stop(a).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let store = Store::open(url).expect("store");
    let contents = store.contents().await.expect("list");
    let mut objects: Vec<String> = contents
        .fulls
        .iter()
        .map(|(_, e)| e.object.clone())
        .collect();
    objects.extend(
        contents
            .fulls
            .iter()
            .map(|(f, _)| f.manifest_object(store.prefix())),
    );
    objects.extend(contents.deltas.iter().map(|(_, e)| e.object.clone()));
    for object in &objects {
        let bytes = store.get(object, 1 << 30).await.expect("get");
        assert!(
            !contains(&bytes, marker.as_bytes()),
            "{object} holds the marker in plaintext"
        );
    }
    assert!(
        contents.fulls.iter().all(|(f, _)| f.encrypted),
        "every full is encrypted: {:?}",
        contents.fulls
    );

    let restored = dir.path().join("restored.db");
    let without = lifeboat()
        .args(["backup", "restore", "--latest", "--store", url, "--out"])
        .arg(&restored)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&without.stderr);
    assert!(!without.status.success(), "restored without the identity");
    assert!(stderr.contains("--identity"), "{stderr}");
    assert!(!restored.exists(), "no file left by the refused restore");

    let live = dir.path().join("live.db");
    assert!(save(&tc, &live) >= end);
    let with = lifeboat()
        .args([
            "backup",
            "restore",
            "--latest",
            "--store",
            url,
            "--identity",
        ])
        .arg(&identity)
        .arg("--out")
        .arg(&restored)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("runs");
    assert!(
        with.status.success(),
        "{}",
        String::from_utf8_lossy(&with.stderr)
    );
    let keys = key_bucket_upto(&restored, end);
    assert_eq!(keys, key_bucket_upto(&live, end));
    assert!(
        keys.iter().any(|(_, v)| contains(v, marker.as_bytes())),
        "the marker is restored"
    );
    drop(moto);
}
