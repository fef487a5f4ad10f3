//! Issue 12, editing a policy: with the corrected incident policy in force in etcd, `policy
//! check --from-etcd -f <the incident's version>` must judge the new version, which replaces the
//! one in force as `kubectl apply` would, not a merge of both (which reported "0 denied").
//! Real etcd 3.4 (TLS), live and from a snapshot.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod common;

use common::lifeboat;
use serde_json::{Value, json};
use testkit::TestCluster;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../policy/tests/fixtures");

/// The corrected policy (fixtures/lockout-ccnp-fixed.yaml) as the API server stores it.
fn corrected_policy() -> Vec<u8> {
    let cp_ports: Vec<Value> = ["6443", "2379", "2380", "10250"]
        .iter()
        .map(|p| json!({"port": p, "protocol": "TCP"}))
        .collect();
    let object = json!({"apiVersion": "cilium.io/v2", "kind": "CiliumClusterwideNetworkPolicy",
        "metadata": {"name": ops::kube::sample::LOCKOUT_POLICY, "uid": "00000000-0000-4000-8000-000000009101", "generation": 2, "creationTimestamp": "2026-11-23T00:00:00Z"},
        "spec": {"nodeSelector": {"matchLabels": {}},
                 "ingress": [
                     {"fromEntities": ["cluster", "host"]},
                     {"fromCIDR": ["103.10.20.30/32"], "toPorts": [{"ports": [{"port": "9100", "protocol": "TCP"}]}]},
                     {"toPorts": [{"ports": cp_ports}]}]}});
    let Value::Object(m) = object else {
        panic!("object")
    };
    registry::envelope::encode(&m, registry::Encoding::Json).expect("encode")
}

fn check(extra: &[&str], conn: &[String]) -> (Option<i32>, Value, String) {
    let out = lifeboat()
        .args(["policy", "check", "-o", "json"])
        .args(extra)
        .args(conn)
        .output()
        .expect("lifeboat runs");
    (
        out.status.code(),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn critical_denials(report: &Value) -> Vec<u64> {
    report["flows"]
        .as_array()
        .map(|flows| {
            flows
                .iter()
                .filter(|f| f["verdict"] == "deny" && f["critical"] == true)
                .filter_map(|f| f["port"].as_u64())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_proposed_version_replaces_the_policy_in_force() {
    let tc = TestCluster::tls(1).await;
    let mut c = tc.any_client().await.unwrap();
    let ips: Vec<String> = (1..=3).map(|i| format!("198.18.0.{i}")).collect();
    for (k, v) in ops::kube::sample::control_plane(&ips).unwrap() {
        c.put(k, v, None).await.unwrap();
    }
    c.put(ops::kube::sample::LOCKOUT_KEY, corrected_policy(), None)
        .await
        .unwrap();
    let conn = tc.cli_args();

    // In force alone: clean.
    let (code, r, err) = check(&["--from-etcd"], &conn);
    assert_eq!(code, Some(0), "{err} {r}");

    // The incident's version proposed under the same name: the lockout, as in the incident.
    let bad = format!("{FIXTURES}/lockout-ccnp.yaml");
    let (code, r, err) = check(&["--from-etcd", "-f", &bad], &conn);
    assert_eq!(code, Some(2), "{err} {r}");
    let denied = critical_denials(&r);
    for port in [2379, 2380, 6443, 10250] {
        assert!(denied.contains(&port), "{port} not in {denied:?}");
    }
    let said = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["code"] == "replaces-policy-in-force");
    assert!(said, "{r}");

    // The same from a snapshot of that etcd.
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("s.db");
    let out = lifeboat()
        .args(["snapshot", "save"])
        .args(&conn)
        .arg(&snap)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let snap = snap.display().to_string();
    let (code, r2, err) = check(&["--from-snapshot", &snap, "-f", &bad], &[]);
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(critical_denials(&r2), denied);
}
