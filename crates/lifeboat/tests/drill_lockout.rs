//! `lifeboat drill --scenario policy-lockout`: the field incident end to end on real etcd:
//! predicted from etcd, enforced (nftables in network namespaces, or SIGSTOP on loopback),
//! detected, recovered, the policy removed with a backup, nothing acknowledged lost.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod common;

use common::lifeboat;
use serde_json::Value;

fn drill(no_netns: bool) -> Value {
    let mut cmd = lifeboat();
    cmd.args([
        "drill",
        "--scenario",
        "policy-lockout",
        "-o",
        "json",
        "--keys",
        "120",
    ]);
    if no_netns {
        cmd.env("LIFEBOAT_NO_NETNS", "1");
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn check_common(json: &Value) {
    assert_eq!(json["verdict"], "pass", "{json:#}");
    assert_eq!(json["scenario"], "policy-lockout");
    assert_eq!(json["lost"], 0);
    let lockout = &json["lockout"];
    assert_eq!(lockout["policy_gone"], true);
    assert_eq!(lockout["critical_denials_after"], 0);
    let backup = lockout["backup"].as_str().expect("backup path");
    assert!(
        backup.contains("restrict-node-exporter-hostport-9100"),
        "{backup}"
    );
    let predicted: Vec<&str> = lockout["predicted_denied"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for port in ["2379", "2380", "6443", "10250"] {
        assert!(
            predicted.iter().any(|p| p.ends_with(&format!("/{port}"))),
            "{port} not predicted: {predicted:?}"
        );
    }
    let detected: Vec<&str> = json["detected"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(detected.contains(&"NO_LEADER"), "{detected:?}");
    assert_eq!(
        json["status_final"]["members"].as_array().map(Vec::len),
        Some(3)
    );
}

/// Whether this machine lets us create a network namespace (and nftables is there).
fn can_make_namespaces() -> bool {
    let name = format!("lbprobe{}", std::process::id());
    let ok = |args: &[&str]| {
        std::process::Command::new(args[0])
            .args(&args[1..])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let made = ok(&["ip", "netns", "add", &name]);
    if made {
        ok(&["ip", "netns", "del", &name]);
    }
    made && ok(&["nft", "-V"])
}

#[test]
fn lockout_drill_in_network_namespaces() {
    if !can_make_namespaces() {
        // Not root, or a sandbox without network namespaces: the drill falls back to loopback
        // (the next test covers that variant).
        return;
    }
    let json = drill(false);
    check_common(&json);
    assert_eq!(json["lockout"]["enforcement"], "netns-nftables");
    assert!(
        json["lockout"]["drop_rules"].as_u64().unwrap() >= 6,
        "every ordered pair on 2379 and 2380"
    );
    // The endpoints were the namespaces' 198.18.0.0/15 addresses.
    let ep = json["status_before"]["endpoints"][0]["endpoint"]
        .as_str()
        .unwrap_or("");
    assert!(ep.contains("198.18."), "{ep}");
}

#[test]
fn lockout_drill_loopback_variant_says_so() {
    let json = drill(true);
    check_common(&json);
    assert_eq!(json["lockout"]["enforcement"], "loopback-sigstop");
    assert!(
        json["lockout"]["enforcement_note"]
            .as_str()
            .unwrap()
            .contains("SIGSTOP")
    );
}
