//! Two `lifeboat agent` processes against one real etcd: exactly one writes; the leader is
//! killed (SIGKILL) and the standby takes over within the lease TTL, resuming the delta log
//! where the store ends: `backup verify` finds no gap and no overlap, and `backup restore
//! --latest` equals the live state.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod backup_common;
mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use backup::agent::leader;
use backup::remote::Store;
use backup_common::{key_bucket, key_bucket_upto, save, writes};
use common::lifeboat;
use etcd_client::Client;
use testkit::TestCluster;

fn agent(tc: &TestCluster, url: &str, work: &std::path::Path) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin("lifeboat"))
        .args(["agent", "--store", url, "--lease-ttl", "3s", "-o", "json"])
        .arg("--work-dir")
        .arg(work)
        .args(tc.cli_args())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("agent starts")
}

/// Waits until the election names a leader other than `not`; returns its process ID.
async fn leader_pid(c: &mut Client, not: Option<u32>) -> u32 {
    for _ in 0..300 {
        if let Some(value) = leader::current(c).await.expect("leader") {
            let pid: u32 = value.rsplit('/').next().unwrap().parse().unwrap();
            if Some(pid) != not {
                return pid;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no new leader within 30 s");
}

async fn revision(c: &mut Client) -> i64 {
    c.get("/", None).await.unwrap().header().unwrap().revision()
}

async fn wait_store_reaches(store: &Store, end: i64) {
    for _ in 0..300 {
        let contents = store.contents().await.expect("list");
        if contents
            .deltas
            .last()
            .is_some_and(|(d, _)| d.last_revision >= end)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no segment reached revision {end} within 30 s");
}

#[tokio::test]
async fn one_agent_writes_and_the_standby_takes_over_without_a_gap() {
    let tc = TestCluster::plain(1).await;
    let mut c = tc.any_client().await.expect("client");
    writes(&mut c, 0).await.expect("writes");
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("store");
    std::fs::create_dir(&root).expect("mkdir");
    let url = format!("file://{}", root.display());
    let store = Store::open(&url).expect("store");

    let mut agents = vec![agent(&tc, &url, dir.path()), agent(&tc, &url, dir.path())];
    let first = leader_pid(&mut c, None).await;
    writes(&mut c, 1).await.expect("writes");
    let end = revision(&mut c).await;
    wait_store_reaches(&store, end).await;
    assert_eq!(
        store.contents().await.expect("list").fulls.len(),
        1,
        "only the leader takes a full"
    );

    let i = agents
        .iter()
        .position(|a| a.id() == first)
        .expect("a child");
    let mut killed = agents.remove(i);
    killed.kill().expect("SIGKILL");
    killed.wait().expect("reaped");
    // Writes while nobody leads: the next leader must pick them up from the store's end.
    writes(&mut c, 2).await.expect("writes");
    let second = leader_pid(&mut c, Some(first)).await;
    let survivor = agents.pop().expect("the standby");
    assert_eq!(survivor.id(), second);
    writes(&mut c, 3).await.expect("writes");
    let end = revision(&mut c).await;
    wait_store_reaches(&store, end).await;
    // Saved before the stop: the survivor's lease revocation is a write of its own.
    let live = dir.path().join("live.db");
    assert_eq!(save(&tc, &live), end);

    let term = Command::new("kill")
        .args(["-TERM", &second.to_string()])
        .status()
        .expect("kill");
    assert!(term.success());
    let out = tokio::task::spawn_blocking(move || survivor.wait_with_output())
        .await
        .expect("joins")
        .expect("agent ran");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(summary["last_revision"], end, "{summary:#} {stderr}");
    // It resumed the delta log after the dead leader's last segment instead of a new full.
    assert_eq!(summary["fulls"], serde_json::json!([]), "{stderr}");
    assert_eq!(summary["terms_led"], 1, "{summary:#}");
    assert_eq!(store.contents().await.expect("list").fulls.len(), 1);

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
    assert_eq!(key_bucket(&restored), key_bucket(&live));
}

fn signal(sig: &str, pid: u32) {
    let status = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill {sig} {pid}");
}

async fn candidates(c: &mut Client) -> usize {
    let prefix = format!("{}/", leader::ELECTION);
    let opts = etcd_client::GetOptions::new()
        .with_prefix()
        .with_count_only();
    c.get(prefix, Some(opts)).await.unwrap().count() as usize
}

/// Every segment object in the store, in revision order.
async fn segments(store: &Store) -> Vec<(i64, i64)> {
    let contents = store.contents().await.expect("list");
    contents
        .deltas
        .iter()
        .map(|(d, _)| (d.first_revision, d.last_revision))
        .collect()
}

/// After the newest full at or before the first segment, segments follow each other with no
/// revision missing and none twice: the one writer at a time the election promises.
fn assert_one_chain(full: i64, segs: &[(i64, i64)]) {
    let mut cursor = full;
    for &(first, last) in segs.iter().filter(|(_, last)| *last > full) {
        assert!(
            first <= cursor + 1,
            "revisions {}..{} missing before segment {first}-{last}: {segs:?}",
            cursor + 1,
            first - 1
        );
        assert!(
            first > cursor || cursor == full,
            "segment {first}-{last} covers revisions already stored (up to {cursor}): \
             two writers: {segs:?}"
        );
        cursor = last;
    }
}

/// The leader agent's node cut off (SIGSTOP: it answers nothing and keeps its lease until
/// the TTL runs out) with writes buffered and a flush due. The standby leads within the TTL
/// plus a bound, and resumes where the store ends. When the old leader wakes (SIGCONT) it
/// finds its lease gone before it uploads anything: the objects it could have written would
/// cover revisions the new leader already stored, and there are none; it stands by.
///
/// Checked able to fail: with the fence check before each PUT in `uploader.rs` disabled, the
/// woken leader may upload its buffered segment before its keeper notices the lost lease (a
/// race: seen in one run of two), and "a segment appeared" fails; an overlap would also fail
/// `assert_one_chain` and `backup verify`.
#[tokio::test]
async fn a_leader_paused_past_its_lease_writes_nothing_when_it_wakes() {
    let tc = TestCluster::plain(1).await;
    let mut c = tc.any_client().await.expect("client");
    writes(&mut c, 0).await.expect("writes");
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("store");
    std::fs::create_dir(&root).expect("mkdir");
    let url = format!("file://{}", root.display());
    let store = Store::open(&url).expect("store");
    // Each agent its own work directory (spool), as on two nodes.
    let (work_a, work_b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir(&work_a).expect("mkdir");
    std::fs::create_dir(&work_b).expect("mkdir");

    let agents = vec![agent(&tc, &url, &work_a), agent(&tc, &url, &work_b)];
    let first = leader_pid(&mut c, None).await;
    writes(&mut c, 1).await.expect("writes");
    let end = revision(&mut c).await;
    wait_store_reaches(&store, end).await;
    // Written right before the pause: still in the leader's buffer (flushed every second).
    writes(&mut c, 2).await.expect("writes");
    signal("-STOP", first);
    // The lease TTL is 3 s; 10 s more for a loaded machine (polls of 100 ms, counted).
    let mut second = None;
    for _ in 0..130 {
        let now = leader::current(&mut c).await.expect("leader");
        if let Some(pid) = now.and_then(|v| v.rsplit('/').next()?.parse::<u32>().ok())
            && pid != first
        {
            second = Some(pid);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let second = second.expect("the standby leads within the lease TTL plus 10 s");
    writes(&mut c, 3).await.expect("writes");
    let end = revision(&mut c).await;
    wait_store_reaches(&store, end).await;
    let before = segments(&store).await;
    signal("-CONT", first);
    // The old leader campaigns again (a second candidate key) only once it stopped writing.
    for _ in 0..300 {
        if candidates(&mut c).await == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        candidates(&mut c).await,
        2,
        "the old leader did not stand by"
    );
    let woken = segments(&store).await;
    assert_eq!(
        woken, before,
        "a segment appeared between the old leader's wake-up and its standing by"
    );
    writes(&mut c, 4).await.expect("writes");
    let end = revision(&mut c).await;
    wait_store_reaches(&store, end).await;
    let live = dir.path().join("live.db");
    assert_eq!(save(&tc, &live), end);

    // The standby first: stopping the leader first would hand it the lead.
    let (mut leader_agent, mut standby): (Vec<_>, Vec<_>) =
        agents.into_iter().partition(|a| a.id() == second);
    for a in standby.iter().chain(&leader_agent) {
        signal("-TERM", a.id());
    }
    for a in standby.drain(..).chain(leader_agent.drain(..)) {
        let out = a.wait_with_output().expect("agent ran");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let contents = store.contents().await.expect("list");
    assert_eq!(
        contents.fulls.len(),
        1,
        "one full, taken by the first leader"
    );
    let full = contents.fulls[0].0.revision;
    let segs = segments(&store).await;
    assert_one_chain(full, &segs);
    assert!(
        segs.last().is_some_and(|s| s.1 >= end),
        "the chain reaches {end}: {segs:?}"
    );

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
    assert_eq!(key_bucket_upto(&restored, end), key_bucket(&live));
}
