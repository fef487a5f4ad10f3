//! `lifeboat recover plan` on a real broken cluster: evidence from a live member, a local data
//! dir and a report made elsewhere; the lagging member is never the seed.

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

#[test]
fn plan_from_the_stopped_cluster3_fixture_alone_never_seeds_the_laggard() {
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
