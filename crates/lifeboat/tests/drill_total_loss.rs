//! `lifeboat drill --scenario total-loss`: a real cluster under a steady write load, backed
//! up by a real `lifeboat agent` process, every member and the agent killed, the cluster
//! rebuilt from the store; the verdict and the RPO judged on the restored data.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;

use std::time::Duration;

use common::lifeboat;

fn total_loss_drill(extra: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    let out = lifeboat()
        .args([
            "drill",
            "--scenario",
            "total-loss",
            "-o",
            "json",
            "--keys",
            "100",
            "--load-seconds",
            "3",
        ])
        .args(extra)
        // A full, the delta log and three restores on a loaded machine: a guard, not a bound.
        .timeout(Duration::from_secs(300))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}); stderr: {stderr}"));
    (out.status.code(), json, stderr)
}

#[test]
fn total_loss_drill_restores_every_acknowledged_write_up_to_the_restored_revision() {
    let (code, json, stderr) = total_loss_drill(&["--write-rate", "150"]);
    assert_eq!(code, Some(0), "{stderr}\n{json:#}");
    assert_eq!(json["verdict"], "pass", "{json:#}");
    assert_eq!(json["scenario"], "total-loss");
    assert_eq!(json["lost_members"].as_array().map(Vec::len), Some(3));
    let detected: Vec<&str> = json["detected"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c.as_str())
        .collect();
    assert_eq!(detected, vec!["NOTHING_REACHABLE"]);
    // The Kubernetes-shaped data written before the agent started is all back.
    assert_eq!(json["lost"], 0);
    assert_eq!(json["keys_after"], json["keys_before"]);
    assert_eq!(
        json["status_final"]["members"].as_array().map(Vec::len),
        Some(3)
    );

    let tl = &json["total_loss"];
    let writes = &tl["writes"];
    let acknowledged = writes["acknowledged"].as_u64().unwrap();
    assert!(acknowledged > 0, "{writes}");
    assert_eq!(writes["rate_per_second"], 150);

    let backup = &tl["backup"];
    let full = backup["full_revision"].as_i64().unwrap();
    let restored = backup["restored_revision"].as_i64().unwrap();
    assert!(backup["store"].as_str().unwrap().starts_with("file://"));
    // The load ran past the full: the delta log carried part of it.
    assert!(restored > full, "{backup}");
    assert!(backup["segments"].as_u64().unwrap() >= 1, "{backup}");
    assert!(backup["events"].as_u64().unwrap() >= 1, "{backup}");

    // Judged on the restored cluster's keys: nothing missing at or below the restored
    // revision, nothing present above it; whatever is lost is newer than the restored point.
    let rpo = &tl["rpo"];
    assert_eq!(rpo["holes"], 0, "{rpo}");
    assert_eq!(rpo["beyond_restored"], 0, "{rpo}");
    let lost = rpo["lost_writes"].as_u64().unwrap();
    let last = rpo["last_acknowledged_revision"].as_i64().unwrap();
    assert!(lost <= acknowledged);
    assert_eq!(lost == 0, last <= restored, "{rpo} {backup}");
    let seconds = rpo["seconds"].as_f64().unwrap();
    assert_eq!(seconds == 0.0, lost == 0, "{rpo}");
    assert_eq!(rpo["objective_seconds"], 1.0);
    assert_eq!(
        rpo["within_objective"].as_bool().unwrap(),
        seconds <= 1.0,
        "{rpo}"
    );
    assert!(rpo["last_acknowledged_at"].as_str().is_some(), "{rpo}");

    let rto = &tl["rto"];
    let parts: f64 = [
        "detect_seconds",
        "fetch_seconds",
        "rebuild_seconds",
        "restore_seconds",
        "start_seconds",
    ]
    .iter()
    .map(|k| rto[*k].as_f64().unwrap_or_else(|| panic!("{k} in {rto}")))
    .sum();
    let total = rto["total_seconds"].as_f64().unwrap();
    assert!((total - parts).abs() < 0.01, "{rto}");

    // The agent process was measured before it was killed.
    assert!(tl["agent"]["peak_rss_bytes"].as_u64().unwrap() > 0, "{tl}");
    assert!(tl["agent"]["lag_revisions"].as_f64().is_some(), "{tl}");

    let steps: Vec<&str> = json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    let pos = |needle: &str| {
        steps
            .iter()
            .position(|s| s.starts_with(needle))
            .unwrap_or_else(|| panic!("{needle} in {steps:?}"))
    };
    assert!(pos("disaster:") < pos("detect:"));
    assert!(pos("detect:") < pos("fetch:"));
    assert!(pos("fetch:") < pos("rebuild:"));
    assert!(pos("rebuild:") < pos("restore:"));
    assert!(pos("restore:") < pos("start:"));
    assert!(pos("start:") < pos("verify:"));
}

#[test]
fn total_loss_drill_table_names_rpo_and_rto() {
    let out = lifeboat()
        .args([
            "drill",
            "--scenario",
            "total-loss",
            "--keys",
            "30",
            "--load-seconds",
            "1",
            "--tls",
            "false",
        ])
        .timeout(Duration::from_secs(300))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
        "WRITE LOAD",
        "BACKUP",
        "RPO",
        "RTO STEP",
        "rebuild",
        "AGENT",
        "VERDICT  PASS",
    ] {
        assert!(stdout.contains(needle), "{needle} in:\n{stdout}");
    }
}

#[test]
fn a_write_rate_of_zero_is_refused() {
    let out = lifeboat()
        .args(["drill", "--scenario", "total-loss", "--write-rate", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
}
