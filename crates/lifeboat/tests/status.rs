//! `lifeboat status` against real etcd 3.4 clusters started by the test kit.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod common;

use std::time::Duration;

use common::{codes, finding, lifeboat, status_json};
use testkit::{TestCluster, data};

fn short_timeouts() -> Vec<String> {
    vec!["--dial-timeout=1s".into(), "--command-timeout=2s".into()]
}

#[tokio::test]
async fn healthy_tls_cluster_exits_zero_with_the_documented_schema() {
    let tc = TestCluster::tls(3).await;
    let (code, json, stderr) = status_json(&tc.cli_args());
    assert_eq!(code, 0, "{json:#} {stderr}");
    for key in ["members", "endpoints", "alarms", "quorum", "findings"] {
        assert!(json.get(key).is_some(), "missing top-level key {key}");
    }
    assert_eq!(json["members"].as_array().map(Vec::len), Some(3));
    assert_eq!(json["endpoints"].as_array().map(Vec::len), Some(3));
    let q = &json["quorum"];
    assert_eq!(q["voting_members"], 3);
    assert_eq!(q["reachable_voters"], 3);
    assert_eq!(q["quorum_size"], 2);
    assert_eq!(q["failures_tolerated"], 1);
    assert_eq!(q["has_quorum"], true);
    assert_eq!(q["leader_agreed"], true);
    assert_eq!(codes(&json), vec!["HEALTHY"]);
    let leaders = json["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["is_leader"] == true)
        .count();
    assert_eq!(leaders, 1);
    // The etcd under test: scripts/etcd-versions.sh env sets it, the system's 3.4 otherwise.
    let running = std::env::var("LIFEBOAT_ETCD_VERSION").unwrap_or_else(|_| "3.4.23".into());
    for e in json["endpoints"].as_array().unwrap() {
        assert_eq!(e["reachable"], true);
        assert_eq!(e["version"], running.as_str());
        assert!(e["raft_index"].as_u64().unwrap_or(0) > 0);
        assert!(e["member_id"].as_str().unwrap_or("").len() == 16);
    }
}

#[tokio::test]
async fn one_of_three_killed_is_a_warning_with_no_tolerance_left() {
    let mut tc = TestCluster::tls(3).await;
    tc.cluster.kill(2);
    tc.wait_leader(Duration::from_secs(30)).await;
    let mut args = tc.cli_args();
    args.extend(short_timeouts());
    let (code, json, _) = status_json(&args);
    assert_eq!(code, 1, "{json:#}");
    assert_eq!(json["quorum"]["failures_tolerated"], 0);
    assert_eq!(json["quorum"]["has_quorum"], true);
    let f = finding(&json, "MEMBER_UNREACHABLE").expect("the dead member is reported");
    assert!(f["message"].as_str().unwrap_or("").contains("m3"), "{f}");
    assert_eq!(f["severity"], "warning");
}

#[tokio::test]
async fn two_of_three_killed_is_critical_and_still_answers() {
    let mut tc = TestCluster::tls(3).await;
    tc.cluster.kill(1);
    tc.cluster.kill(2);
    let mut args = tc.cli_args();
    args.extend(short_timeouts());
    let (code, json, _) = status_json(&args);
    assert_eq!(code, 2, "{json:#}");
    let c = codes(&json);
    assert!(c.contains(&"QUORUM_LOST".to_string()), "{c:?}");
    assert!(c.contains(&"NO_LEADER".to_string()), "{c:?}");
    assert_eq!(json["quorum"]["has_quorum"], false);
    assert_eq!(json["quorum"]["reachable_voters"], 1);
    let fix = finding(&json, "QUORUM_LOST").unwrap()["fix"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(fix.contains("bring back 1 of the 2"), "{fix}");
    // The way forward is the plan that reads the evidence, not a force-new-cluster.
    assert!(fix.contains("lifeboat recover plan"), "{fix}");
    assert!(!fix.contains("force"), "{fix}");
    // Nor "remove the dead members": removing a member needs the quorum that is gone.
    assert!(destructive_fixes(&json).is_empty(), "{json:#}");
}

#[tokio::test]
async fn paused_leader_is_unreachable_and_a_new_leader_takes_over() {
    let mut tc = TestCluster::tls(3).await;
    let mut args = tc.cli_args();
    args.extend(short_timeouts());
    let (_, before, _) = status_json(&args);
    let old_leader = before["quorum"]["leader_id"]
        .as_str()
        .expect("a leader")
        .to_string();
    let leader_url = before["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["member_id"] == old_leader.as_str())
        .and_then(|e| e["endpoint"].as_str())
        .expect("the leader's endpoint")
        .to_string();
    let idx = (0..3)
        .find(|i| tc.cluster.client_url(*i) == leader_url)
        .expect("a member");
    tc.cluster.pause(idx);
    tc.wait_leader(Duration::from_secs(30)).await;
    let (code, json, _) = status_json(&args);
    assert_eq!(code, 1, "{json:#}");
    let new_leader = json["quorum"]["leader_id"].as_str().unwrap_or("");
    assert!(
        !new_leader.is_empty() && new_leader != old_leader,
        "{json:#}"
    );
    let paused = json["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["endpoint"] == leader_url.as_str())
        .expect("the paused endpoint is listed");
    assert_eq!(paused["reachable"], false);
    let f = finding(&json, "MEMBER_UNREACHABLE").expect("the frozen leader is reported");
    assert!(f["message"].as_str().unwrap_or("").contains(&old_leader));
    tc.cluster.resume(idx);
}

#[tokio::test]
async fn stale_unstarted_member_plus_one_failure_names_the_member_to_remove() {
    let mut tc = TestCluster::tls(3).await;
    let (_, stale_id) = tc
        .cluster
        .add_member("m4", false)
        .await
        .expect("member add");
    let stale_hex = format!("{stale_id:016x}");
    tc.cluster.kill(2);
    let mut args = tc.cli_args();
    args.extend(short_timeouts());
    let (code, json, _) = status_json(&args);
    assert_eq!(code, 2, "{json:#}");
    assert_eq!(json["quorum"]["voting_members"], 4);
    assert_eq!(json["quorum"]["reachable_voters"], 2);
    assert_eq!(json["quorum"]["quorum_size"], 3);
    let c = codes(&json);
    assert!(c.contains(&"QUORUM_LOST".to_string()), "{c:?}");
    let f = finding(&json, "MEMBER_UNSTARTED").expect("the stale member is reported");
    assert_eq!(f["severity"], "critical");
    let fix = f["fix"].as_str().unwrap_or("");
    assert!(
        fix.contains(&format!("lifeboat member remove {stale_hex}")),
        "{fix}"
    );
    let m = json["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == stale_hex.as_str())
        .expect("listed");
    assert_eq!(m["started"], false);
    assert_eq!(m["name"], "");
}

#[tokio::test]
async fn wrong_ca_names_the_file_and_exits_unknown() {
    let tc = TestCluster::tls(1).await;
    let other = tempfile::tempdir().unwrap();
    let other_pki = ops::local::Pki::generate(other.path()).unwrap();
    let pki = tc.cluster.pki.as_ref().unwrap();
    let args = vec![
        format!("--endpoints={}", tc.cluster.client_url(0)),
        format!("--cacert={}", other_pki.ca_cert.display()),
        format!("--cert={}", pki.client_cert.display()),
        format!("--key={}", pki.client_key.display()),
    ];
    let (code, json, _) = status_json(&args);
    assert_eq!(code, 3, "{json:#}");
    let err = json["endpoints"][0]["errors"][0]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(err.contains("not signed by the CA"), "{err}");
    assert!(
        err.contains(&other_pki.ca_cert.display().to_string()),
        "{err}"
    );
}

#[tokio::test]
async fn plain_http_cluster_works_without_certificates() {
    let tc = TestCluster::plain(3).await;
    let (code, json, _) = status_json(&tc.cli_args());
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(json["quorum"]["reachable_voters"], 3);
}

#[tokio::test]
async fn member_client_urls_are_probed_when_one_endpoint_is_given() {
    let tc = TestCluster::tls(3).await;
    let mut args = tc.cli_args();
    args[0] = format!("--endpoints={}", tc.cluster.client_url(0));
    let (code, json, _) = status_json(&args);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(json["endpoints"].as_array().map(Vec::len), Some(3));
    args.push("--only-given".into());
    let (_, json, _) = status_json(&args);
    assert_eq!(json["endpoints"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn a_full_backend_raises_nospace_which_status_reports() {
    let tc = TestCluster::start(testkit::LocalClusterSpec {
        members: 1,
        quota_bytes: Some(16 * 1024 * 1024),
        ..testkit::LocalClusterSpec::default()
    })
    .await;
    let mut client = tc.any_client().await.expect("client");
    let value = vec![b'x'; 100 * 1024];
    let mut refused = false;
    for i in 0..400 {
        if client
            .put(format!("/fill/{i:04}"), value.clone(), None)
            .await
            .is_err()
        {
            refused = true;
            break;
        }
    }
    assert!(refused, "etcd never refused a write at a 16 MiB quota");
    let mut args = tc.cli_args();
    args.push(format!("--quota-bytes={}", 16 * 1024 * 1024));
    let (code, json, _) = status_json(&args);
    assert_eq!(code, 2, "{json:#}");
    assert_eq!(json["alarms"][0]["alarm"], "NOSPACE");
    let c = codes(&json);
    assert!(
        c.contains(&"ALARM_NOSPACE".to_string()) && c.contains(&"DB_NEAR_QUOTA".to_string()),
        "{c:?}"
    );
}

/// Fixes that stop, remove, move or force something: never given on partial evidence.
fn destructive_fixes(json: &serde_json::Value) -> Vec<String> {
    json["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["fix"].as_str())
        .filter(|fix| {
            [
                "force",
                "member remove",
                "move its data dir",
                "stop etcd",
                "stop one of",
            ]
            .iter()
            .any(|w| fix.contains(w))
        })
        .map(String::from)
        .collect()
}

#[tokio::test]
async fn one_healthy_member_asked_alone_is_partial_evidence_never_quorum_lost() {
    let tc = TestCluster::tls(3).await;
    let mut args = tc.cli_args();
    args[0] = format!("--endpoints={}", tc.cluster.client_url(0));
    args.push("--only-given".into());
    let (code, json, _) = status_json(&args);
    let c = codes(&json);
    assert!(!c.contains(&"QUORUM_LOST".to_string()), "{c:?}");
    assert!(!c.contains(&"MEMBER_UNREACHABLE".to_string()), "{c:?}");
    assert!(destructive_fixes(&json).is_empty(), "{json:#}");
    assert!(c.contains(&"PARTIAL_EVIDENCE".to_string()), "{c:?}");
    assert_eq!(code, 3, "quorum is not known from one member: {json:#}");
    assert_eq!(json["quorum"]["state"], "unknown");
    assert_eq!(json["quorum"]["reachable_voters"], 1);
    assert_eq!(json["quorum"]["unexamined_voters"], 2);
    assert_eq!(json["unexamined_members"].as_array().map(Vec::len), Some(2));

    // The people's view says the same: not asked, quorum not known.
    let out = lifeboat().arg("status").args(&args).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.contains("not asked") && text.contains("quorum NOT KNOWN"),
        "{text}"
    );

    // Two of three asked: quorum is proven held; the third stays unknown, a warning.
    args[0] = format!(
        "--endpoints={},{}",
        tc.cluster.client_url(0),
        tc.cluster.client_url(1)
    );
    let (code, json, _) = status_json(&args);
    assert_eq!(code, 1, "{json:#}");
    assert_eq!(json["quorum"]["state"], "held");
    assert_eq!(json["quorum"]["has_quorum"], true);
    assert_eq!(codes(&json), vec!["PARTIAL_EVIDENCE"]);
}

#[tokio::test]
async fn endpoints_of_two_clusters_are_grouped_and_never_judged_as_one() {
    let lone = TestCluster::plain(1).await;
    let three = TestCluster::plain(3).await;
    let mut c = three.client(0).await.expect("client");
    data::put_keys(&mut c, "/k/", 60).await.expect("writes");
    // The one-member cluster first: its leader's member list used to become "the" membership.
    let mut args = vec![
        format!(
            "--endpoints={},{}",
            lone.cluster.endpoints_arg(),
            three.cluster.endpoints_arg()
        ),
        "--max-raft-lag=20".into(),
    ];
    args.extend(short_timeouts());
    let (code, json, _) = status_json(&args);
    let c = codes(&json);
    for wrong in [
        "QUORUM_LOST",
        "ENDPOINT_NOT_MEMBER",
        "RAFT_LAG",
        "NO_LEADER",
    ] {
        assert!(!c.contains(&wrong.to_string()), "{wrong} in {c:?}");
    }
    assert!(destructive_fixes(&json).is_empty(), "{json:#}");
    let mixed = finding(&json, "CLUSTERS_MIXED").expect("the mix is reported");
    assert_eq!(mixed["severity"], "critical");
    assert_eq!(code, 2, "{json:#}");
    let groups = json["clusters"].as_array().expect("clusters");
    assert_eq!(groups.len(), 2, "{json:#}");
    let urls = |g: &serde_json::Value| {
        let mut v: Vec<String> = g["endpoints"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e.as_str().map(String::from))
            .collect();
        v.sort();
        v
    };
    let mut expected: Vec<String> = (0..3).map(|i| three.cluster.client_url(i)).collect();
    expected.sort();
    assert_eq!(urls(&groups[0]), expected);
    assert_eq!(urls(&groups[1]), vec![lone.cluster.client_url(0)]);
    assert_eq!(groups[0]["quorum"]["state"], "held");
    for url in expected.iter().chain([&lone.cluster.client_url(0)]) {
        assert!(
            mixed["message"]
                .as_str()
                .unwrap_or("")
                .contains(url.as_str()),
            "{mixed}"
        );
    }
}
