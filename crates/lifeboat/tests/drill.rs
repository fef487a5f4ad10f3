//! `lifeboat drill` end to end: a real throwaway cluster, a real disaster, a verdict.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod common;

use common::lifeboat;

/// Runs a lost-quorum drill with `--strategy strategy`, checks what every strategy must give
/// (pass, nothing lost, all members back, a floor), and returns the step names in order.
fn lost_quorum_drill(strategy: &str) -> Vec<String> {
    let out = lifeboat()
        .args([
            "drill",
            "-o",
            "json",
            "--keys",
            "200",
            "--strategy",
            strategy,
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["verdict"], "pass", "{json:#}");
    assert_eq!(json["scenario"], "lost-quorum");
    let before = json["keys_before"].as_u64().unwrap();
    assert!(before > 100, "{json:#}");
    assert_eq!(json["lost"], 0);
    assert!(json["keys_after"].as_u64().unwrap() >= before);
    assert_eq!(
        json["status_final"]["members"].as_array().map(Vec::len),
        Some(3)
    );
    assert_eq!(json["status_final"]["quorum"]["reachable_voters"], 3);
    let seed = json["plan"]["seed"].as_str().unwrap();
    assert_eq!(seed, "m1", "the only survivor seeds");
    let names: Vec<String> = json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str().map(String::from))
        .collect();
    let rt = &json["recovery"];
    assert!(rt["floor_seconds"].as_f64().unwrap() > 0.0, "{rt}");
    assert!(rt["seed_start_seconds"].as_f64().unwrap() > 0.0, "{rt}");
    assert!(rt["member_receive_seconds"].as_f64().unwrap() > 0.0, "{rt}");
    assert_eq!(json["lost_members"].as_array().map(Vec::len), Some(2));
    let detected: Vec<&str> = json["detected"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c.as_str())
        .collect();
    assert!(
        detected.contains(&"QUORUM_LOST") && detected.contains(&"NO_LEADER"),
        "{detected:?}"
    );
    assert_eq!(json["status_before"]["quorum"]["has_quorum"], true);
    assert!(json["steps"].as_array().unwrap().len() >= 5);
    names
}

fn pos(names: &[String], needle: &str) -> usize {
    names
        .iter()
        .position(|n| n.contains(needle))
        .unwrap_or_else(|| panic!("{needle} in {names:?}"))
}

#[test]
fn lost_quorum_drill_by_rebuild_passes() {
    // The survivor was stopped cleanly, so its db holds everything: rebuilt from it.
    let names = lost_quorum_drill("rebuild");
    assert!(
        pos(&names, "restore every member's data dir from m1") < pos(&names, "start every member")
    );
    assert!(pos(&names, "verify membership") > pos(&names, "start every member"));
    // The floor is measured after the recovery, on the recovered cluster.
    assert!(pos(&names, "measure the floor") > pos(&names, "verify membership"));
}

#[test]
fn lost_quorum_drill_detects_and_passes() {
    let names = lost_quorum_drill("rejoin");
    // A local seed gets --force-new-cluster for one start only: no second start.
    assert!(pos(&names, "force a new cluster") < pos(&names, "add m2 as a learner"));
    assert!(
        !names
            .iter()
            .any(|n| n.contains("without --force-new-cluster"))
    );
    assert!(pos(&names, "add m2 as a learner") < pos(&names, "promote m2"));
    assert!(pos(&names, "verify membership") > pos(&names, "promote m3"));
    assert!(!names.iter().any(|n| n.contains("measure the floor")));
}

#[test]
fn five_members_losing_one_is_a_warning_drill_on_plain_http() {
    let out = lifeboat()
        .args([
            "drill",
            "-o",
            "json",
            "--keys",
            "10",
            "--members",
            "5",
            "--lose",
            "1",
            "--tls",
            "false",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["verdict"], "pass", "{json:#}");
    assert_eq!(json["status_after"]["quorum"]["failures_tolerated"], 1);
    assert_eq!(json["lost"], 0);
    assert_eq!(
        json["status_final"]["members"].as_array().map(Vec::len),
        Some(5)
    );
}

#[test]
fn impossible_drill_parameters_are_refused() {
    let out = lifeboat()
        .args(["drill", "--members", "4"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    // A usage mistake found after parsing is still a usage error: 64, as clap's own.
    let out = lifeboat().args(["drill", "--lose", "3"]).output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--lose must be between 1 and 2"));
}

#[test]
fn stale_member_drill_names_the_member_and_recovers_by_its_fix() {
    let out = lifeboat()
        .args([
            "drill",
            "--scenario",
            "stale-member",
            "-o",
            "json",
            "--keys",
            "100",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["verdict"], "pass", "{json:#}");
    assert_eq!(json["scenario"], "stale-member");
    assert_eq!(json["lost"], 0);
    let detected: Vec<&str> = json["detected"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c.as_str())
        .collect();
    assert!(
        detected.contains(&"QUORUM_LOST") && detected.contains(&"MEMBER_UNSTARTED"),
        "{detected:?}"
    );
    assert_eq!(json["status_after"]["quorum"]["voting_members"], 4);
    assert_eq!(
        json["status_final"]["members"].as_array().map(Vec::len),
        Some(3)
    );
}

#[test]
fn restore_drill_rebuilds_every_member_from_one_backup() {
    let out = lifeboat()
        .args([
            "drill",
            "--scenario",
            "restore",
            "-o",
            "json",
            "--keys",
            "150",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["verdict"], "pass", "{json:#}");
    assert_eq!(json["lost"], 0);
    assert_eq!(json["keys_after"], json["keys_before"]);
    let detected: Vec<&str> = json["detected"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c.as_str())
        .collect();
    assert_eq!(detected, vec!["NOTHING_REACHABLE"]);
    let steps: Vec<&str> = json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert!(
        steps
            .iter()
            .any(|s| s.contains("revision bumped by 1000000000")),
        "{steps:?}"
    );
    assert_eq!(
        json["status_final"]["members"].as_array().map(Vec::len),
        Some(3)
    );
}
