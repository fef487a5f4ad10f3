//! `lifeboat status -o json` against etcdctl of the release under test on the same cluster:
//! `endpoint status`, `endpoint health`, `member list` and `alarm list`. Member IDs, cluster ID,
//! leader, raft term and index, db sizes, version, learners and alarms must be what etcd says,
//! on a healthy 3-member cluster and with one member stopped.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;

use std::collections::BTreeMap;

use common::status_json;
use serde_json::Value;
use testkit::TestCluster;
use testkit::reference::etcdctl_json;

fn hex(v: &Value) -> String {
    format!(
        "{:016x}",
        v.as_u64().expect("etcdctl prints IDs as numbers")
    )
}

/// etcdctl's `endpoint status` entries by endpoint URL.
fn endpoint_status(args: &[String]) -> BTreeMap<String, Value> {
    let (_, json) = etcdctl_json(args, &["endpoint", "status"]).unwrap();
    json.as_array()
        .expect("an array")
        .iter()
        .map(|e| {
            (
                e["Endpoint"].as_str().unwrap().to_string(),
                e["Status"].clone(),
            )
        })
        .collect()
}

/// A value etcd may move while the two etcdctl calls bracket lifeboat's: between them.
fn bracketed(what: &str, ours: &Value, before: &Value, after: &Value) {
    let (o, b, a) = (ours.as_u64(), before.as_u64(), after.as_u64());
    let (Some(o), Some(b), Some(a)) = (o, b, a) else {
        panic!("{what}: lifeboat {ours}, etcdctl {before} then {after}");
    };
    assert!(
        b.min(a) <= o && o <= b.max(a),
        "{what}: lifeboat {o}, etcdctl {b} then {a}"
    );
}

/// Every endpoint etcdctl reached is reported by lifeboat with the same numbers.
fn compare_endpoints(
    ours: &Value,
    before: &BTreeMap<String, Value>,
    after: &BTreeMap<String, Value>,
) {
    let endpoints = ours["endpoints"].as_array().expect("endpoints");
    for (url, b) in before {
        let a = &after[url];
        let e = endpoints
            .iter()
            .find(|e| e["endpoint"] == url.as_str())
            .unwrap_or_else(|| panic!("lifeboat has no endpoint {url}: {ours:#}"));
        let at = |f: &str| format!("{url} {f}");
        assert_eq!(e["reachable"], true, "{}", at("reachable"));
        assert_eq!(
            e["member_id"],
            hex(&b["header"]["member_id"]),
            "{}",
            at("member")
        );
        assert_eq!(
            e["cluster_id"],
            hex(&b["header"]["cluster_id"]),
            "{}",
            at("cluster")
        );
        assert_eq!(e["version"], b["version"], "{}", at("version"));
        // etcd's 0 for "no leader known" (which etcdctl's JSON omits) is lifeboat's null.
        let leader = Some(&b["leader"])
            .filter(|l| l.as_u64().unwrap_or(0) != 0)
            .map_or(Value::Null, |l| Value::from(hex(l)));
        assert_eq!(e["leader_id"], leader, "{}", at("leader"));
        assert_eq!(
            e["is_leader"],
            b["leader"] == b["header"]["member_id"],
            "{}",
            at("is_leader")
        );
        assert_eq!(
            e["is_learner"],
            b["isLearner"].as_bool().unwrap_or(false),
            "{}",
            at("learner")
        );
        // Without a leader, elections (no pre-vote on 3.4) may raise the term between calls.
        bracketed(
            &at("raft_term"),
            &e["raft_term"],
            &b["raftTerm"],
            &a["raftTerm"],
        );
        // What the member itself reports (alarms), and nothing more: a learner refusing
        // MemberList is no error of the endpoint, as etcdctl shows none.
        let errors = b.get("errors").cloned().unwrap_or(Value::Array(vec![]));
        assert_eq!(e["errors"], errors, "{}", at("errors"));
        bracketed(
            &at("raft_index"),
            &e["raft_index"],
            &b["raftIndex"],
            &a["raftIndex"],
        );
        if b.get("raftAppliedIndex").is_some() {
            bracketed(
                &at("raft_applied_index"),
                &e["raft_applied_index"],
                &b["raftAppliedIndex"],
                &a["raftAppliedIndex"],
            );
        }
        bracketed(&at("db_size"), &e["db_size"], &b["dbSize"], &a["dbSize"]);
        if b.get("dbSizeInUse").is_some() {
            bracketed(
                &at("db_size_in_use"),
                &e["db_size_in_use"],
                &b["dbSizeInUse"],
                &a["dbSizeInUse"],
            );
        }
    }
}

/// `member list` as etcdctl prints it, against lifeboat's `members`.
fn compare_members(ours: &Value, args: &[String]) {
    let (ok, list) = etcdctl_json(args, &["member", "list"]).unwrap();
    assert!(ok, "{list}");
    let theirs: BTreeMap<String, &Value> = list["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (hex(&m["ID"]), m))
        .collect();
    let mine: BTreeMap<String, &Value> = ours["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["id"].as_str().unwrap().to_string(), m))
        .collect();
    assert_eq!(
        mine.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>(),
        "member IDs"
    );
    for (id, t) in &theirs {
        let m = mine[id];
        // etcdctl omits empty fields (an unstarted member's name and client URLs).
        let name = t.get("name").cloned().unwrap_or(Value::from(""));
        assert_eq!(m["name"], name, "{id} name");
        assert_eq!(m["peer_urls"], t["peerURLs"], "{id} peer URLs");
        let client = t.get("clientURLs").cloned().unwrap_or(Value::Array(vec![]));
        assert_eq!(m["client_urls"], client, "{id} client URLs");
        assert_eq!(
            m["is_learner"],
            t["isLearner"].as_bool().unwrap_or(false),
            "{id} learner"
        );
    }
}

/// `endpoint health`: lifeboat calls reachable exactly the endpoints etcdctl calls healthy.
fn compare_health(ours: &Value, args: &[String]) {
    let (_, health) = etcdctl_json(args, &["endpoint", "health"]).unwrap();
    for h in health.as_array().unwrap() {
        let url = h["endpoint"].as_str().unwrap();
        let e = ours["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["endpoint"] == url)
            .unwrap_or_else(|| panic!("lifeboat has no endpoint {url}"));
        if e["is_learner"] == true {
            // etcdctl's health is a read, which a learner refuses; lifeboat's `reachable` is
            // whether Status answered, which a learner does.
            let refused = h["error"].as_str().unwrap_or_default();
            assert!(refused.contains("not supported for learner"), "{h}");
            assert_eq!(e["reachable"], true, "{e}");
            continue;
        }
        assert_eq!(
            e["reachable"], h["health"],
            "{url}: etcdctl says {h}, lifeboat {e}"
        );
    }
}

/// etcdctl prints the alarm type as protobuf's enum number.
fn alarm_name(v: &Value) -> String {
    match v.as_u64() {
        Some(1) => "NOSPACE".into(),
        Some(2) => "CORRUPT".into(),
        _ => v
            .as_str()
            .map(String::from)
            .unwrap_or_else(|| v.to_string()),
    }
}

fn compare_alarms(ours: &Value, args: &[String]) {
    let (ok, list) = etcdctl_json(args, &["alarm", "list"]).unwrap();
    assert!(ok, "{list}");
    let mut theirs: Vec<(String, String)> = list["alarms"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| (hex(&x["memberID"]), alarm_name(&x["alarm"])))
                .collect()
        })
        .unwrap_or_default();
    let mut mine: Vec<(String, String)> = ours["alarms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["member_id"].as_str().unwrap().to_string(),
                x["alarm"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    theirs.sort();
    mine.sort();
    assert_eq!(mine, theirs, "alarms");
}

#[tokio::test]
async fn a_healthy_three_member_cluster_reads_as_etcdctl_says() {
    let tc = TestCluster::tls(3).await;
    let args = tc.cli_args();
    let before = endpoint_status(&args);
    let (code, ours, stderr) = status_json(&args);
    let after = endpoint_status(&args);
    assert_eq!(code, 0, "{ours:#} {stderr}");
    assert_eq!(before.len(), 3);
    compare_endpoints(&ours, &before, &after);
    compare_members(&ours, &args);
    compare_health(&ours, &args);
    compare_alarms(&ours, &args);
    let leaders: Vec<&Value> = before.values().map(|s| &s["leader"]).collect();
    assert!(leaders.iter().all(|l| *l == leaders[0]), "{leaders:?}");
    assert_eq!(ours["quorum"]["leader_id"], hex(leaders[0]));
    let leader_member = ours["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["is_leader"] == true)
        .expect("a leader member");
    assert_eq!(leader_member["id"], hex(leaders[0]));
}

#[tokio::test]
async fn with_one_member_stopped_both_see_the_same_two() {
    let mut tc = TestCluster::tls(3).await;
    tc.cluster.stop(2);
    tc.wait_leader(testkit::STARTUP_TIMEOUT).await;
    let args = tc.cli_args();
    let before = endpoint_status(&args);
    let (code, ours, stderr) = status_json(&args);
    let after = endpoint_status(&args);
    assert_eq!(before.len(), 2, "etcdctl reaches the two running members");
    assert_eq!(after.len(), 2);
    assert_eq!(code, 1, "a warning, quorum held: {ours:#} {stderr}");
    compare_endpoints(&ours, &before, &after);
    compare_members(&ours, &args);
    compare_health(&ours, &args);
    compare_alarms(&ours, &args);
    let stopped = tc.cluster.client_url(2);
    let e = ours["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["endpoint"] == stopped.as_str())
        .expect("the stopped endpoint is listed");
    assert_eq!(e["reachable"], false);
    let leader = before.values().next().unwrap()["leader"].clone();
    assert_eq!(ours["quorum"]["leader_id"], hex(&leader));
    assert_eq!(ours["quorum"]["reachable_voters"], 2);
}

#[tokio::test]
async fn a_nospace_alarm_reads_as_etcdctl_says() {
    let tc = TestCluster::start(testkit::LocalClusterSpec {
        members: 1,
        quota_bytes: Some(16 * 1024 * 1024),
        ..testkit::LocalClusterSpec::default()
    })
    .await;
    let mut client = tc.any_client().await.unwrap();
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
    let args = tc.cli_args();
    let before = endpoint_status(&args);
    let (_, ours, _) = status_json(&args);
    let after = endpoint_status(&args);
    compare_alarms(&ours, &args);
    assert!(!ours["alarms"].as_array().unwrap().is_empty());
    compare_endpoints(&ours, &before, &after);
}

/// A learner, first added and not started, then running: membership, learner flags and the
/// learner's own status as etcdctl reads them.
#[tokio::test]
async fn a_learner_reads_as_etcdctl_says() {
    let mut tc = TestCluster::plain(1).await;
    let (i, _) = tc.cluster.add_member("l1", true).await.unwrap();
    let voter = vec![format!("--endpoints={}", tc.cluster.client_url(0))];
    let (_, ours, stderr) = status_json(&voter);
    compare_members(&ours, &voter);
    assert!(
        ours["members"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["is_learner"] == true && m["started"] == false),
        "{ours:#} {stderr}"
    );

    tc.cluster.restart(i).unwrap();
    let learner = vec![format!("--endpoints={}", tc.cluster.client_url(i))];
    let mut up = false;
    for _ in 0..120 {
        let (ok, _) = etcdctl_json(&learner, &["endpoint", "status"]).unwrap();
        if ok {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert!(
        up,
        "the learner never answered: {}",
        tc.cluster.log_tail(i, 20)
    );
    let args = tc.cli_args();
    let before = endpoint_status(&args);
    let (_, ours, _) = status_json(&args);
    let after = endpoint_status(&args);
    assert_eq!(before.len(), 2);
    compare_endpoints(&ours, &before, &after);
    compare_members(&ours, &args);
    compare_health(&ours, &args);
}

/// Two of three stopped: the survivor knows no leader, and lifeboat says so as etcdctl does.
#[tokio::test]
async fn with_quorum_lost_the_survivor_reads_as_etcdctl_says() {
    let mut tc = TestCluster::tls(3).await;
    tc.cluster.stop(1);
    tc.cluster.stop(2);
    let args = tc.cli_args();
    let survivor = tc.cluster.client_url(0);
    let mut only_survivor = args.clone();
    only_survivor[0] = format!("--endpoints={survivor}");
    // A follower names its old leader until its election timeout passes: wait for etcd's 0.
    let mut leaderless = false;
    for _ in 0..60 {
        let status = endpoint_status(&only_survivor);
        if status
            .get(&survivor)
            .is_some_and(|s| s["leader"].as_u64().unwrap_or(0) == 0)
        {
            leaderless = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert!(leaderless, "the survivor kept naming a leader for 30 s");
    let before = endpoint_status(&only_survivor);
    let (code, ours, stderr) = status_json(&args);
    let after = endpoint_status(&only_survivor);
    assert_eq!(code, 2, "critical: {ours:#} {stderr}");
    compare_endpoints(&ours, &before, &after);
    assert_eq!(ours["quorum"]["leader_id"], Value::Null);
    assert_eq!(ours["quorum"]["state"], "lost");
}
