//! `lifeboat kube` against real etcd 3.4 (TLS): objects encoded the way the API server stores
//! them, listed, shown, deleted with a backup under a concurrent writer, put back; and offline:
//! a snapshot edited, restored and started with only that object gone.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod common;

use std::path::Path;
use std::time::Duration;

use common::lifeboat;
use etcd_client::Client;
use serde_json::{Value, json};
use testkit::TestCluster;
use testkit::restored::{self, Plan};

const CCNP_KEY: &str = "/registry/cilium.io/ciliumclusterwidenetworkpolicies/lockout";

fn stored(object: Value, encoding: registry::Encoding) -> Vec<u8> {
    let Value::Object(m) = object else {
        panic!("object")
    };
    registry::envelope::encode(&m, encoding).expect("encode")
}

fn pod() -> Vec<u8> {
    stored(
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "web-0", "namespace": "demo", "labels": {"app": "web"}},
               "spec": {"nodeName": "cp-1", "containers": [{"name": "web", "image": "nginx", "ports": [{"containerPort": 8080, "protocol": "TCP"}]}]},
               "status": {"phase": "Running", "podIP": "198.18.1.5", "podIPs": [{"ip": "198.18.1.5"}]}}),
        registry::Encoding::Protobuf,
    )
}

fn secret() -> Vec<u8> {
    stored(
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "demo"},
               "data": {"password": "aHVudGVyMg=="}, "type": "Opaque"}),
        registry::Encoding::Protobuf,
    )
}

fn ccnp(generation: i64) -> Vec<u8> {
    stored(
        json!({"apiVersion": "cilium.io/v2", "kind": "CiliumClusterwideNetworkPolicy",
               "metadata": {"name": "lockout", "generation": generation},
               "spec": {"nodeSelector": {"matchLabels": {}},
                        "ingress": [{"fromEntities": ["cluster"], "toPorts": [{"ports": [{"port": "9100", "protocol": "TCP"}]}]}]}}),
        registry::Encoding::Json,
    )
}

async fn seed(c: &mut Client) {
    c.put("/registry/pods/demo/web-0", pod(), None)
        .await
        .unwrap();
    c.put("/registry/secrets/demo/db", secret(), None)
        .await
        .unwrap();
    c.put(CCNP_KEY, ccnp(1), None).await.unwrap();
    c.put(
        "/registry/namespaces/demo",
        stored(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}}),
            registry::Encoding::Protobuf,
        ),
        None,
    )
    .await
    .unwrap();
}

fn delete_lockout(conn: &[String], bdir: &str) -> (i32, Value, String) {
    run(
        &[
            "kube",
            "delete",
            "ccnp",
            "lockout",
            "--yes",
            "-o",
            "json",
            "--backup-dir",
            bdir,
        ],
        conn,
    )
}

/// Keeps rewriting the CCNP until `stop`; returns (revision, generation) of every
/// acknowledged write.
fn spawn_writer(
    mut wc: Client,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    first: i64,
) -> tokio::task::JoinHandle<Vec<(i64, i64)>> {
    tokio::spawn(async move {
        let mut acked = Vec::new();
        let mut g = first;
        while !stop.load(std::sync::atomic::Ordering::SeqCst) {
            g += 1;
            if let Ok(r) = wc.put(CCNP_KEY, ccnp(g), None).await {
                acked.push((r.header().map_or(0, |h| h.revision()), g));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        acked
    })
}

fn run(args: &[&str], extra: &[String]) -> (i32, Value, String) {
    let out = lifeboat()
        .args(args)
        .args(extra)
        .output()
        .expect("lifeboat runs");
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test]
async fn list_get_delete_and_put_back_online() {
    let tc = TestCluster::tls(1).await;
    let mut c = tc.any_client().await.unwrap();
    seed(&mut c).await;
    let conn = tc.cli_args();
    let backups = tempfile::tempdir().unwrap();

    let (code, listing, text) = run(&["kube", "list", "-A", "-o", "json"], &conn);
    assert_eq!(code, 0, "{text}");
    let types: Vec<&str> = listing["types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["resource"].as_str().unwrap())
        .collect();
    assert!(
        types.contains(&"pods") && types.contains(&"ciliumclusterwidenetworkpolicies.cilium.io"),
        "{types:?}"
    );

    let (code, view, text) = run(
        &[
            "kube",
            "get",
            "po",
            "web-0",
            "-n",
            "demo",
            "-o",
            "json",
            "--envelope",
        ],
        &conn,
    );
    assert_eq!(code, 0, "{text}");
    assert_eq!(view["object"]["status"]["podIP"], "198.18.1.5");
    assert_eq!(view["encoding"], "protobuf");
    // Without --envelope, the object alone, as kubectl prints it.
    let (code, pod, text) = run(
        &["kube", "get", "po", "web-0", "-n", "demo", "-o", "json"],
        &conn,
    );
    assert_eq!(code, 0, "{text}");
    assert_eq!(pod, view["object"]);
    let (_, view, _) = run(
        &["kube", "get", "secret", "db", "-n", "demo", "-o", "json"],
        &conn,
    );
    assert!(
        view["data"]["password"]
            .as_str()
            .unwrap()
            .starts_with("<redacted")
    );
    // Without -n a namespaced type is looked up in `default`, as kubectl does (web-0 is not
    // there).
    let (code, _, text) = run(&["kube", "get", "po", "web-0", "-o", "json"], &conn);
    assert_eq!(code, 3, "{text}");
    assert!(text.contains("/registry/pods/default/web-0"), "{text}");

    let before = c.get(CCNP_KEY, None).await.unwrap().kvs()[0].clone();
    let bdir = backups.path().to_str().unwrap().to_string();
    let (code, report, text) = delete_lockout(&conn, &bdir);
    assert_eq!(code, 0, "{text}");
    assert!(
        c.get(CCNP_KEY, None).await.unwrap().kvs().is_empty(),
        "deleted"
    );
    let backup = report["backup"].as_str().unwrap().to_string();
    let mode = std::fs::metadata(&backup).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );
    assert_eq!(report["mod_revision"], before.mod_revision());

    let (code, _, text) = run(
        &["kube", "put", "-f", &backup, "--yes", "--backup-dir", &bdir],
        &conn,
    );
    assert_eq!(code, 0, "{text}");
    let back = c.get(CCNP_KEY, None).await.unwrap().kvs()[0].clone();
    assert_eq!(back.value(), before.value(), "put back byte for byte");
    // Now the key is newer than the backup: a second put is refused, --force overrides.
    c.put(CCNP_KEY, ccnp(2), None).await.unwrap();
    let (code, _, text) = run(
        &["kube", "put", "-f", &backup, "--yes", "--backup-dir", &bdir],
        &conn,
    );
    assert_eq!(code, 3, "{text}");
    assert!(text.contains("newer"), "{text}");
    assert_eq!(
        c.get(CCNP_KEY, None).await.unwrap().kvs()[0].value(),
        ccnp(2).as_slice()
    );
    let (code, forced, text) = run(
        &[
            "kube",
            "put",
            "-f",
            &backup,
            "--yes",
            "--force",
            "-o",
            "json",
            "--backup-dir",
            &bdir,
        ],
        &conn,
    );
    assert_eq!(code, 0, "{text}");
    assert_eq!(
        c.get(CCNP_KEY, None).await.unwrap().kvs()[0].value(),
        before.value()
    );
    // The value --force replaced was backed up first, byte for byte.
    let replaced =
        ops::kube::Backup::read(Path::new(forced["replaced_backup"].as_str().unwrap())).unwrap();
    assert_eq!(replaced.value().unwrap(), ccnp(2));
}

/// The compare in the delete transaction: whatever the interleaving with a writer, a delete
/// never removes a version it did not read, and a refused delete leaves the writer's value.
#[tokio::test]
async fn delete_under_a_concurrent_writer_loses_no_acknowledged_write() {
    let tc = TestCluster::tls(1).await;
    let mut c = tc.any_client().await.unwrap();
    seed(&mut c).await;
    let conn = tc.cli_args();
    let backups = tempfile::tempdir().unwrap();
    let bdir = backups.path().to_str().unwrap().to_string();

    // Deterministic interleaving at the library level: read, a writer changes it, delete.
    let settings = tc.cluster.settings_for(&[0]);
    let tls = settings.validate().unwrap();
    let ec = ops::kube::connect_any(&settings, tls.as_ref())
        .await
        .unwrap();
    let read = ops::kube::get(&ec, CCNP_KEY.as_bytes())
        .await
        .unwrap()
        .unwrap();
    let write = c.put(CCNP_KEY, ccnp(7), None).await.unwrap();
    let outcome = ops::kube::delete_if_unchanged(&ec, CCNP_KEY.as_bytes(), read.mod_revision)
        .await
        .unwrap();
    assert!(
        matches!(outcome, ops::kube::DeleteOutcome::Changed { mod_revision: Some(r) } if r == write.header().unwrap().revision())
    );
    assert_eq!(
        c.get(CCNP_KEY, None).await.unwrap().kvs()[0].value(),
        ccnp(7).as_slice()
    );

    // The CLI against a writer that keeps updating the object.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = spawn_writer(tc.any_client().await.unwrap(), stop.clone(), 100);
    let mut outcomes = Vec::new();
    for _ in 0..6 {
        let conn = conn.clone();
        let bdir = bdir.clone();
        let out = tokio::task::spawn_blocking(move || {
            run(
                &[
                    "kube",
                    "delete",
                    "ccnp",
                    "lockout",
                    "--yes",
                    "-o",
                    "json",
                    "--backup-dir",
                    &bdir,
                ],
                &conn,
            )
        })
        .await
        .unwrap();
        outcomes.push(out);
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let acked = writer.await.unwrap();
    assert!(!acked.is_empty());
    for (code, report, text) in &outcomes {
        match code {
            0 => {
                // Deleted at D: the version read was the newest one below D.
                let read = report["mod_revision"].as_i64().unwrap();
                let at = report["deleted_at_revision"].as_i64().unwrap();
                assert!(
                    !acked.iter().any(|(r, _)| *r > read && *r < at),
                    "an acknowledged write between the read ({read}) and the delete ({at}) was lost: {acked:?}"
                );
            }
            3 => assert!(
                text.contains("changed after it was read") || text.contains("not found"),
                "{text}"
            ),
            other => panic!("unexpected exit {other}: {text}"),
        }
    }
    // The writer's last acknowledged value is what the key holds, unless a delete came after it.
    let (last_rev, last_g) = *acked.last().unwrap();
    match c.get(CCNP_KEY, None).await.unwrap().kvs().first() {
        Some(kv) => {
            assert_eq!(kv.mod_revision(), last_rev);
            assert_eq!(kv.value(), ccnp(last_g).as_slice());
        }
        None => assert!(outcomes.iter().any(
            |(code, r, _)| *code == 0 && r["deleted_at_revision"].as_i64().unwrap() > last_rev
        )),
    }
}

fn run_ok(args: &[&str], extra: &[String], files: &[&Path]) -> Value {
    let out = lifeboat()
        .args(args)
        .args(extra)
        .args(files)
        .output()
        .expect("lifeboat runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

#[tokio::test]
async fn offline_delete_then_restore_starts_a_cluster_without_only_that_object() {
    let mut tc = TestCluster::tls(1).await;
    let mut c = tc.any_client().await.unwrap();
    seed(&mut c).await;
    testkit::data::mixed_history(&mut c, "/registry/configmaps/default/cm-", 500)
        .await
        .unwrap();
    let (before, _) = restored::all_kvs(&mut c).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("backup.db");
    run_ok(&["snapshot", "save"], &tc.cli_args(), &[&snap]);
    let pki = tc.cluster.pki.clone().expect("TLS");
    tc.cluster.stop(0);

    let edited = dir.path().join("edited.db");
    let bdir = dir.path().join("bk");
    let report = run_ok(
        &[
            "kube",
            "delete",
            "ccnp",
            "lockout",
            "--yes",
            "-o",
            "json",
            "--snapshot",
            snap.to_str().unwrap(),
            "--out",
            edited.to_str().unwrap(),
            "--backup-dir",
            bdir.to_str().unwrap(),
        ],
        &[],
        &[],
    );
    assert!(Path::new(report["backup"].as_str().unwrap()).exists());
    let plan = Plan::new(&["k1"], true).unwrap();
    let root = dir.path().join("restored");
    run_ok(
        &[
            "snapshot",
            "restore",
            "-o",
            "json",
            "--all",
            "--no-bump",
            "--initial-cluster-token=tok-kube",
            "--output-root",
            root.to_str().unwrap(),
            &format!("--initial-cluster={}", plan.initial_cluster()),
        ],
        &[],
        &[&edited],
    );
    let r = plan.start(&root, "tok-kube", Some(&pki)).unwrap();
    r.wait_healthy(Duration::from_secs(60)).await.unwrap();
    let mut rc = r.client(0).await.unwrap();
    let (after, _) = restored::all_kvs(&mut rc).await.unwrap();
    let mut expected = before.clone();
    expected.remove(CCNP_KEY.as_bytes());
    assert_eq!(after.len(), expected.len());
    assert!(
        after == expected,
        "every other key, value and revision must be identical"
    );
}

#[tokio::test]
async fn snapshot_diff_answers_what_a_restore_would_change() {
    let tc = TestCluster::tls(1).await;
    let mut c = tc.any_client().await.unwrap();
    seed(&mut c).await;
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("before.db");
    run_ok(&["snapshot", "save"], &tc.cli_args(), &[&snap]);
    // After the backup: one object added, one changed, one deleted.
    c.put("/registry/pods/demo/web-1", pod(), None)
        .await
        .unwrap();
    c.put(CCNP_KEY, ccnp(2), None).await.unwrap();
    c.delete("/registry/secrets/demo/db", None).await.unwrap();

    let out = lifeboat()
        .args(["snapshot", "diff", "-o", "json", "--live"])
        .arg(&snap)
        .args(tc.cli_args())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (
            r["added"].as_u64(),
            r["removed"].as_u64(),
            r["changed"].as_u64()
        ),
        (Some(1), Some(1), Some(1)),
        "{r}"
    );
    let keyed: Vec<(String, String)> = r["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["change"].as_str().unwrap().to_string(),
                c["key"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(keyed.contains(&("added".into(), "/registry/pods/demo/web-1".into())));
    assert!(keyed.contains(&("removed".into(), "/registry/secrets/demo/db".into())));
    assert!(keyed.contains(&("changed".into(), CCNP_KEY.into())));
    let pods = r["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["resource"] == "pods")
        .unwrap()
        .clone();
    assert!(pods["newest_b"].as_i64().unwrap() > pods["newest_a"].as_i64().unwrap());

    // A file against itself: no differences, exit 0.
    let same = lifeboat()
        .args(["snapshot", "diff"])
        .arg(&snap)
        .arg(&snap)
        .output()
        .unwrap();
    assert_eq!(same.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&same.stdout).contains("No differences"));
}

/// The field incident's state in etcd: `policy check --from-etcd` predicts the lockout from
/// what etcd holds, also from a snapshot; after `kube delete` of the policy it is clean.
#[tokio::test]
async fn policy_check_reads_the_cluster_from_etcd_and_from_a_snapshot() {
    let tc = TestCluster::tls(1).await;
    let mut c = tc.any_client().await.unwrap();
    let ips: Vec<String> = (1..=3).map(|i| format!("198.18.0.{i}")).collect();
    for (k, v) in ops::kube::sample::control_plane(&ips).unwrap() {
        c.put(k, v, None).await.unwrap();
    }
    let (k, v) = ops::kube::sample::lockout_policy().unwrap();
    c.put(k, v, None).await.unwrap();
    let conn = tc.cli_args();

    let check = |extra: &[&str]| {
        let out = lifeboat()
            .args(["policy", "check", "-o", "json"])
            .args(extra)
            .args(&conn)
            .output()
            .unwrap();
        let json: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (
            out.status.code(),
            json,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, r, err) = check(&["--from-etcd"]);
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(r["assumed_inventory"], false);
    let denied: Vec<(u64, String)> = r["flows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["verdict"] == "deny" && f["critical"] == true)
        .map(|f| {
            (
                f["port"].as_u64().unwrap_or(0),
                f["dst"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    for port in [2379, 2380, 6443, 10250] {
        assert!(
            denied.iter().any(|(p, _)| *p == port),
            "{port} not denied: {denied:?}"
        );
    }
    assert!(
        denied.iter().any(|(_, d)| d.contains("cp-")),
        "the sample's nodes are used: {denied:?}"
    );

    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("s.db");
    run_ok(&["snapshot", "save"], &conn, &[&snap]);
    let (code, r2, err) = check(&["--from-snapshot", snap.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(
        r2["flows"], r["flows"],
        "the snapshot and the live cluster give the same verdicts"
    );

    let bdir = dir.path().join("bk");
    let (code, _, text) = run(
        &[
            "kube",
            "delete",
            "ccnp",
            ops::kube::sample::LOCKOUT_POLICY,
            "--yes",
            "--backup-dir",
            bdir.to_str().unwrap(),
        ],
        &conn,
    );
    assert_eq!(code, 0, "{text}");
    let (code, r3, err) = check(&["--from-etcd"]);
    assert_ne!(code, Some(2), "{err} {r3}");
}

/// `kube put` while a writer keeps changing the key: the put never overwrites a write it did
/// not see; every acknowledged write survives unless a put was accepted after it.
#[tokio::test]
async fn put_under_a_concurrent_writer_never_overwrites_newer_data() {
    let tc = TestCluster::tls(1).await;
    let mut c = tc.any_client().await.unwrap();
    seed(&mut c).await;
    let conn = tc.cli_args();
    let dir = tempfile::tempdir().unwrap();
    let bdir = dir.path().to_str().unwrap().to_string();
    let (code, report, text) = delete_lockout(&conn, &bdir);
    assert_eq!(code, 0, "{text}");
    let backup = report["backup"].as_str().unwrap().to_string();

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = spawn_writer(tc.any_client().await.unwrap(), stop.clone(), 1000);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut outcomes = Vec::new();
    for _ in 0..4 {
        let conn = conn.clone();
        let backup = backup.clone();
        let bdir = bdir.clone();
        outcomes.push(
            tokio::task::spawn_blocking(move || {
                run(
                    &[
                        "kube",
                        "put",
                        "-f",
                        &backup,
                        "--yes",
                        "-o",
                        "json",
                        "--backup-dir",
                        &bdir,
                    ],
                    &conn,
                )
            })
            .await
            .unwrap(),
        );
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let acked = writer.await.unwrap();
    // The writer created the key before the first put, so every put finds newer data.
    for (code, _, text) in &outcomes {
        assert_eq!(*code, 3, "{text}");
        assert!(
            text.contains("newer") || text.contains("changed while being written"),
            "{text}"
        );
    }
    let (last_rev, last_g) = *acked.last().unwrap();
    let kv = c.get(CCNP_KEY, None).await.unwrap().kvs()[0].clone();
    assert_eq!(
        (kv.mod_revision(), kv.value()),
        (last_rev, ccnp(last_g).as_slice())
    );
}

/// As kubectl: without -n only namespace `default` is listed, -A lists them all, and
/// cluster-scoped objects are listed whatever the namespace.
#[tokio::test]
async fn list_defaults_to_namespace_default_as_kubectl() {
    let tc = TestCluster::plain(1).await;
    let mut c = tc.any_client().await.unwrap();
    seed(&mut c).await;
    let conn = tc.cli_args();
    let count = |args: &[&str]| {
        let (code, v, text) = run(args, &conn);
        assert_eq!(code, 0, "{text}");
        (v["count"].as_u64().unwrap(), v["namespace"].clone())
    };
    assert_eq!(
        count(&["kube", "list", "po", "-o", "json"]),
        (0, json!("default"))
    );
    assert_eq!(
        count(&["kube", "list", "po", "-n", "demo", "-o", "json"]),
        (1, json!("demo"))
    );
    assert_eq!(
        count(&["kube", "list", "po", "-A", "-o", "json"]),
        (1, Value::Null)
    );
    assert_eq!(
        count(&["kube", "list", "ns", "-o", "json"]),
        (1, Value::Null)
    );
    let types = |args: &[&str]| {
        let (code, v, text) = run(args, &conn);
        assert_eq!(code, 0, "{text}");
        v["types"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["resource"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let default = types(&["kube", "list", "-o", "json"]);
    assert!(!default.contains(&"pods".to_owned()), "{default:?}");
    assert!(default.contains(&"namespaces".to_owned()), "{default:?}");
    assert!(types(&["kube", "list", "-A", "-o", "json"]).contains(&"pods".to_owned()));
}
