//! `lifeboat recover run` on real local clusters: two of three members lost for good (process
//! and disk), the binary recovers the rest from the cluster's description file; and the same with
//! the binary SIGKILLed at several different steps and run again until it converges.
//!
//! Members that `recover run` starts outlive it by design; the test cluster's drop kills them
//! through their pid files and removes the dir.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::lifeboat;
use testkit::{TestCluster, data};

/// Writes keys, waits until the followers applied them, then loses m2 and m3 for good.
async fn break_cluster(tc: &mut TestCluster) -> BTreeMap<String, String> {
    let mut c = tc.client(0).await.unwrap();
    let acked = data::put_keys(&mut c, "/registry/configmaps/x/k", 300)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    for i in [1, 2] {
        tc.cluster.kill(i);
        let dir = tc.cluster.members()[i].data_dir.clone();
        std::fs::rename(&dir, dir.with_extension("lost")).unwrap();
    }
    acked
}

/// Every member answers with one leader, three voters, and every acknowledged key is there.
async fn assert_recovered(tc: &TestCluster, acked: &BTreeMap<String, String>) {
    let (code, json, stderr) = common::status_json(&tc.cli_args());
    assert_eq!(code, 0, "status after recovery: {json:#} {stderr}");
    let members = json["members"].as_array().unwrap();
    assert_eq!(members.len(), 3, "{json:#}");
    assert!(members.iter().all(|m| m["is_learner"] == false), "{json:#}");
    for i in 0..3 {
        let mut c = tc.client(i).await.unwrap();
        let found = data::read_prefix(&mut c, "/registry/").await.unwrap();
        for (k, v) in acked {
            assert_eq!(
                found.get(k),
                Some(v),
                "acknowledged key {k} lost on member {i}"
            );
        }
    }
}

fn names_starting(dir: &Path, prefix: &str) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .count()
}

#[tokio::test]
async fn recover_run_brings_every_member_back_and_loses_nothing() {
    let mut tc = TestCluster::tls(3).await;
    let acked = break_cluster(&mut tc).await;
    let root = tc.cluster.dir().to_path_buf();

    // A dry run plans from the data dirs and changes nothing.
    let out = lifeboat()
        .args([
            "recover",
            "run",
            "--dry-run",
            "-o",
            "json",
            "--strategy",
            "rebuild",
        ])
        .arg("--local-root")
        .arg(&root)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["plan"]["seed"], "m1", "{json:#}");
    // The dry run's output is a plan file `--plan` takes; one naming members this cluster
    // lacks is refused before anything is fenced.
    let plan_file = root.join("plan.json");
    std::fs::write(&plan_file, &out.stdout).unwrap();
    let stranger = root.join("stranger-plan.json");
    let renamed = String::from_utf8_lossy(&out.stdout).replace("\"m1\"", "\"m9\"");
    std::fs::write(&stranger, renamed).unwrap();
    let out = lifeboat()
        .args(["recover", "run", "-y", "--plan"])
        .arg(&stranger)
        .arg("--local-root")
        .arg(&root)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("m9"));
    assert_eq!(
        names_starting(&root, "m1.lifeboat-"),
        0,
        "nothing was touched"
    );
    assert!(
        !root.join("recover-state/recover-plan.json").exists(),
        "neither the dry run nor the refused plan journals anything"
    );
    assert_eq!(
        names_starting(&root, "m1.lifeboat-"),
        0,
        "a dry run backs up nothing"
    );

    // Not on a terminal and no --yes: refused, nothing touched.
    let out = lifeboat()
        .args(["recover", "run", "--local-root"])
        .arg(&root)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--yes"));

    let out = lifeboat()
        .args(["recover", "run", "-y", "-o", "json", "--plan"])
        .arg(&plan_file)
        .arg("--local-root")
        .arg(&root)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["members"].as_array().unwrap().len(), 3, "{json:#}");
    let steps = json["steps"].as_array().unwrap();
    assert!(
        steps
            .iter()
            .all(|s| s["seconds"].is_number() && s["ran"] == true)
    );
    assert!(json["hash_kv"].is_number() && json["revision"].as_i64() > Some(0));
    // The survivor's db held everything committed: the default rebuild restored from it.
    assert!(
        steps
            .iter()
            .any(|s| s["name"] == "restore every member's data dir from m1's db"),
        "{json:#}"
    );

    assert_recovered(&tc, &acked).await;
    assert!(
        names_starting(&root, "m1.lifeboat-") >= 1,
        "the seed was backed up"
    );
    assert_eq!(
        names_starting(&root, "recover-state.done-"),
        1,
        "the journal is closed"
    );

    // Run again on the recovered cluster: it has quorum, so it is refused.
    let out = lifeboat()
        .args(["recover", "run", "-y", "--local-root"])
        .arg(&root)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("has quorum"));
}

/// Starts `recover run` and SIGKILLs it once the journal holds `kill_at` finished steps.
/// Returns true when the run finished on its own first.
fn run_and_kill_at(root: &Path, strategy: &str, kill_at: usize) -> bool {
    let journal = root.join("recover-state").join("recover-journal.jsonl");
    let errors = root.join(format!("recover-run-{kill_at}.stderr"));
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("lifeboat"))
        .args(["recover", "run", "-y", "-o", "json", "--strategy", strategy])
        .arg("--local-root")
        .arg(root)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&errors).unwrap())
        .spawn()
        .unwrap();
    // A guard against a hang, not a measurement.
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(
                status.success(),
                "recover run failed: {status}: {}",
                std::fs::read_to_string(&errors).unwrap_or_default()
            );
            return true;
        }
        let done = std::fs::read_to_string(&journal)
            .map(|t| t.lines().count())
            .unwrap_or(0);
        if done >= kill_at {
            child.kill().unwrap();
            child.wait().unwrap();
            return false;
        }
        assert!(Instant::now() < deadline, "recover run hung");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Breaks a cluster, kills `recover run` once the journal holds each of `kill_points` steps
/// (after the kill numbered `power_cut`, every etcd dies too), then runs it to the end.
async fn killed_and_rerun(strategy: &str, kill_points: &[usize], power_cut: usize) {
    let mut tc = TestCluster::plain(3).await;
    let acked = break_cluster(&mut tc).await;
    let root = tc.cluster.dir().to_path_buf();

    let mut finished = false;
    let mut kills = 0;
    for (round, kill_at) in kill_points.iter().enumerate() {
        if run_and_kill_at(&root, strategy, *kill_at) {
            finished = true;
            break;
        }
        kills += 1;
        if round == power_cut {
            let mut opened = ops::local::LocalCluster::open(&root).unwrap();
            for i in 0..opened.members().len() {
                opened.kill(i);
            }
        }
    }
    // Each kill lands right after a step is journaled; the steps after it take seconds (etcd
    // starts), so the first kills cannot miss.
    assert!(kills >= 2, "recover run was killed only {kills} times");
    if !finished {
        let out = lifeboat()
            .args(["recover", "run", "-y", "-o", "json", "--strategy", strategy])
            .arg("--local-root")
            .arg(&root)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "the rerun converges: {stderr}");
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let skipped = json["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["ran"] == false)
            .count();
        assert!(
            skipped >= kill_points[1],
            "journaled steps are skipped: {json:#}"
        );
    }
    assert_recovered(&tc, &acked).await;
    assert!(
        names_starting(&root, "m1.lifeboat-") >= 1,
        "the seed's dir was kept"
    );
    assert!(
        !root.join("recover-state").exists(),
        "the journal is closed"
    );
}

#[tokio::test]
async fn rejoin_killed_at_every_step_resumes_and_converges() {
    // 13 steps: fence x3, back up m1, force, check, then add/start/promote m2, m3, verify.
    // Killed once after every step (a run that finds the journal at or past its kill point is
    // killed at once); after the kill with m2 started (promoting), every etcd dies too, as in
    // a power cut.
    let every: Vec<usize> = (1..=12).collect();
    killed_and_rerun("rejoin", &every, 7).await;
}

#[tokio::test]
async fn rebuild_killed_at_every_step_resumes_and_converges() {
    // 7 steps: fence x3, restore all from m1, start all, check m1's revision, verify. Killed
    // once after every step; after the start every etcd dies too.
    let every: Vec<usize> = (1..=6).collect();
    killed_and_rerun("rebuild", &every, 4).await;
}

/// Stops the members of a kept (detached) cluster and removes its dir, even if the test fails.
struct KeptCluster(std::path::PathBuf);

impl Drop for KeptCluster {
    fn drop(&mut self) {
        if let Ok(mut c) = ops::local::LocalCluster::open(&self.0) {
            for i in 0..c.members().len() {
                c.kill(i);
            }
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_drill_kept_broken_is_recovered_by_recover_run() {
    let out = lifeboat()
        .args(["drill", "--keep", "--keys", "60", "-o", "json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
    });
    let root = std::path::PathBuf::from(json["kept"].as_str().expect("the kept dir is reported"));
    let _cleanup = KeptCluster(root.clone());
    assert_eq!(out.status.code(), Some(0), "{json:#}");
    assert_eq!(json["verdict"], "kept");
    assert!(
        json["verdict_reason"]
            .as_str()
            .unwrap()
            .contains("lifeboat recover run --local-root")
    );

    let out = lifeboat()
        .args(["recover", "run", "-y", "--local-root"])
        .arg(&root)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The table for people: every step with its seconds, and the agreement found at the end.
    assert!(stdout.contains("SECONDS") && stdout.contains("force a new cluster on m1"));
    assert!(stdout.contains("RECOVERED  3 members"), "{stdout}");
}
