//! `lifeboat recover plan` on a real broken cluster: evidence from a live member, a local data
//! dir and a report made elsewhere; the lagging member is never the seed.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod common;

use std::time::Duration;

use common::lifeboat;
use testkit::{TestCluster, data};

#[tokio::test]
async fn plan_picks_a_fresh_survivor_never_the_laggard_and_prints_a_runbook() {
    let mut tc = TestCluster::tls(3).await;
    let mut c = tc.client(0).await.unwrap();
    data::put_keys(&mut c, "/registry/a/", 100).await.unwrap();
    // m3 freezes; m1 and m2 keep committing without it.
    tc.cluster.pause(2);
    // If m3 led, writes fail until m1 and m2 elect a new leader: retry each until acknowledged.
    for i in 0..200 {
        let mut tries = 0;
        while c
            .put(format!("/registry/b/{i:06}"), "v", None)
            .await
            .is_err()
        {
            tries += 1;
            assert!(tries < 20, "m1 and m2 never accepted writes");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    tc.cluster.kill(1);
    tc.cluster.kill(2);

    let m2_dir = tc.cluster.members()[1].data_dir.clone();
    let m3_dir = tc.cluster.members()[2].data_dir.clone();
    // m3's report is made "on its node" and carried over as a file.
    let out = lifeboat()
        .args(["datadir", "inspect", "-o", "json"])
        .arg(&m3_dir)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = tc.cluster.dir().join("m3-report.json");
    std::fs::write(&report, &out.stdout).unwrap();

    let mut args = vec![
        "recover".to_string(),
        "plan".into(),
        "-o".into(),
        "json".into(),
        "--data-dir".into(),
    ];
    args.push(m2_dir.display().to_string());
    args.push("--datadir-report".into());
    args.push(report.display().to_string());
    args.extend(tc.cli_args());
    args.extend([
        "--dial-timeout=1s".to_string(),
        "--command-timeout=2s".into(),
    ]);
    let out = lifeboat().args(&args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();

    let seed = json["plan"]["seed"].as_str().unwrap();
    assert!(
        seed == "m1" || seed == "m2",
        "the laggard must not seed: {json:#}"
    );
    let evidence = json["plan"]["evidence"].as_array().unwrap();
    assert_eq!(evidence.len(), 3, "{json:#}");
    let committed = |name: &str| {
        evidence.iter().find(|e| e["name"] == name).unwrap()["committed"]
            .as_u64()
            .unwrap()
    };
    assert!(committed("m3") + 150 < committed(seed), "{json:#}");
    assert!(
        evidence
            .iter()
            .any(|e| e["source"].as_str().unwrap().starts_with("live status"))
    );
    assert!(
        evidence
            .iter()
            .any(|e| e["source"].as_str().unwrap().starts_with("report"))
    );
    assert_eq!(json["still_answering"], serde_json::json!(["m1"]));
    assert!(
        json["plan"]["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("m1 still answers"))
    );

    let runbook = json["runbook"].as_array().unwrap();
    assert_eq!(
        runbook.len(),
        json["plan"]["steps"].as_array().unwrap().len()
    );
    let commands: Vec<&str> = runbook
        .iter()
        .flat_map(|s| {
            s["commands"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|c| c.as_str())
        })
        .collect();
    assert!(
        commands
            .iter()
            .any(|c| c.starts_with("lifeboat member add m3 --peer-urls https://127.0.0.1:")),
        "{commands:?}"
    );
    assert!(
        commands
            .iter()
            .any(|c| c.starts_with("lifeboat member promote m3"))
    );
    let first = runbook[0]["what"].as_str().unwrap();
    assert!(first.starts_with("fence"), "fencing comes first: {first}");
}

#[tokio::test]
async fn plan_refuses_while_the_cluster_has_quorum() {
    let tc = TestCluster::tls(3).await;
    let out = lifeboat()
        .args(["recover", "plan"])
        .args(tc.cli_args())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("member replace"));
}

fn cluster3_fixture() -> tempfile::TempDir {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/etcd-3.4.23");
    let dir = tempfile::tempdir().unwrap();
    let ok = std::process::Command::new("tar")
        .arg("-xzf")
        .arg(format!("{fixtures}/cluster3-stopped-3.4.23.tar.gz"))
        .arg("-C")
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(ok.success());
    dir
}

#[test]
fn plan_warns_about_a_damaged_data_dir_and_a_copy_read_twice() {
    let dir = cluster3_fixture();
    let c3_db = dir.path().join("c3/member/snap/db");
    std::fs::rename(&c3_db, dir.path().join("c3-db-aside")).unwrap();
    let port = ops::local::free_port().unwrap();
    let mut args = vec![
        format!("--endpoints=http://127.0.0.1:{port}"),
        "--dial-timeout=1s".into(),
    ];
    for m in ["c1", "c2", "c3", "c1"] {
        args.push("--data-dir".into());
        args.push(dir.path().join(m).display().to_string());
    }
    let (code, json, stderr) = plan_json(&args);
    assert_eq!(code, 0, "{stderr}");
    let warnings: Vec<&str> = json["plan"]["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w.as_str())
        .collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("c3") && w.contains("may be understated")),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().any(|w| w.contains("is read 2 times")),
        "{warnings:?}"
    );
}

#[test]
fn plan_from_the_stopped_cluster3_fixture_alone_never_seeds_the_laggard() {
    let dir = cluster3_fixture();
    let port = ops::local::free_port().unwrap();
    let mut cmd = lifeboat();
    cmd.args(["recover", "plan", "-o", "json", "--dial-timeout=1s"])
        .arg(format!("--endpoints=http://127.0.0.1:{port}"));
    for m in ["c1", "c2", "c3"] {
        cmd.arg("--data-dir").arg(dir.path().join(m));
    }
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let seed = json["plan"]["seed"].as_str().unwrap();
    assert!(seed == "c1" || seed == "c2", "{json:#}");
    assert!(
        json["plan"]["warnings"][0]
            .as_str()
            .unwrap()
            .contains("same progress")
    );
    let committed: Vec<u64> = json["plan"]["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["committed"].as_u64().unwrap())
        .collect();
    assert_eq!(committed.iter().filter(|c| **c == 16).count(), 2);
    assert!(committed.contains(&13));
}

fn plan_json(args: &[String]) -> (i32, serde_json::Value, String) {
    let out = lifeboat()
        .args(["recover", "plan", "-o", "json"])
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "recover plan printed no JSON ({e}); exit {:?}, stderr: {stderr}",
            out.status.code()
        )
    });
    (out.status.code().unwrap_or(-1), json, stderr)
}

fn runbook_commands(json: &serde_json::Value) -> Vec<String> {
    json["runbook"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["commands"].as_array().into_iter().flatten())
        .filter_map(|c| c.as_str().map(String::from))
        .collect()
}

#[test]
fn plan_with_no_evidence_at_all_says_so_and_how_to_gather_it() {
    // Nothing answers and no data dir is given: the old answer was "no survivor holds data:
    // restore from a snapshot", as if the data dirs had been read.
    let port = ops::local::free_port().unwrap();
    let (code, json, stderr) = plan_json(&[
        format!("--endpoints=http://127.0.0.1:{port}"),
        "--dial-timeout=1s".into(),
    ]);
    assert_eq!(code, 3, "{json:#} {stderr}");
    assert!(json["plan"].is_null(), "{json:#}");
    assert_eq!(json["coverage"]["read"], serde_json::json!([]));
    assert_eq!(json["coverage"]["complete"], false);
    assert_eq!(json["coverage"]["membership_known"], false);
    let commands = runbook_commands(&json);
    assert!(
        commands
            .iter()
            .any(|c| c.starts_with("lifeboat datadir inspect -o json /var/lib/etcd")),
        "{commands:?}"
    );
    assert!(
        commands.iter().any(|c| c.contains("--datadir-report")),
        "{commands:?}"
    );
    assert!(
        !commands.iter().any(|c| c.contains("force")),
        "{commands:?}"
    );

    let out = lifeboat()
        .args(["recover", "plan", "--dial-timeout=1s"])
        .arg(format!("--endpoints=http://127.0.0.1:{port}"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("NO EVIDENCE  nothing was read"), "{text}");
}

#[tokio::test]
async fn plan_on_one_live_member_names_the_others_never_examined_and_no_seed() {
    let mut tc = TestCluster::tls(3).await;
    tc.cluster.kill(1);
    tc.cluster.kill(2);
    let mut args = tc.cli_args();
    args.extend([
        "--dial-timeout=1s".to_string(),
        "--command-timeout=2s".into(),
    ]);
    // Before: exit 0, m1 seeded from its live status alone, m2 and m3 never mentioned.
    let (code, json, stderr) = plan_json(&args);
    assert!(
        json["plan"].is_null(),
        "no seed on partial evidence: {json:#}"
    );
    assert_eq!(code, 3, "{stderr}");
    assert_eq!(json["coverage"]["complete"], false);
    assert_eq!(
        json["coverage"]["unexamined"],
        serde_json::json!(["m2", "m3"])
    );
    let read = json["coverage"]["read"].as_array().unwrap();
    assert_eq!(read.len(), 1, "{json:#}");
    assert!(read[0].as_str().unwrap().starts_with("m1: live status of"));
    let commands = runbook_commands(&json);
    assert!(
        !commands.iter().any(|c| c.contains("force")),
        "{commands:?}"
    );
    assert!(
        commands
            .iter()
            .any(|c| c.contains("--datadir-report /root/m2-datadir.json")
                && c.contains("--datadir-report /root/m3-datadir.json")),
        "{commands:?}"
    );

    // The operator says m2 and m3 are gone: a plan, marked partial, with the risk spelled out.
    args.push("--accept-partial-evidence".into());
    let (code, json, stderr) = plan_json(&args);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(json["plan"]["seed"], "m1");
    assert_eq!(json["plan"]["partial"], true);
    assert_eq!(json["plan"]["unexamined"], serde_json::json!(["m2", "m3"]));
    let first = json["plan"]["warnings"][0].as_str().unwrap_or("");
    assert!(
        first.starts_with("PARTIAL EVIDENCE: m2, m3 were never examined"),
        "{first}"
    );
}

#[test]
fn a_report_that_is_no_regular_file_or_too_big_is_refused_with_its_kind() {
    let port = ops::local::free_port().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.json");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(65 * 1024 * 1024)
        .unwrap();
    for (file, problem) in [
        (dir.path().to_path_buf(), "not a regular file"),
        (big, "larger than the 64 MiB"),
    ] {
        let out = lifeboat()
            .args(["recover", "plan", "--dial-timeout=1s"])
            .arg(format!("--endpoints=http://127.0.0.1:{port}"))
            .arg("--datadir-report")
            .arg(&file)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{stderr}");
        assert!(
            stderr.contains("report file") && stderr.contains(problem),
            "{stderr}"
        );
    }
}
