//! The backend lifeboat writes offline (`kube delete --out`, `kube put --out`) is a database
//! etcd's own tools accept: `bbolt check` (go.etcd.io/bbolt/cmd/bbolt, installed beside etcd
//! 3.6 and 3.7, and used from there for 3.4/3.5: the file format is the same) finds nothing
//! wrong, etcd's `snapshot restore` takes it (SHA-256 trailer
//! checked), and etcd started on the restored dir serves exactly the edited key set.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;

use std::path::Path;
use std::time::Duration;

use common::lifeboat;
use serde_json::{Value, json};
use testkit::reference::{bbolt_bin, etcd_minor, etcdctl_bin, etcdutl_bin, inspect, run};
use testkit::restored::{self, KvState, Plan};
use testkit::{TestCluster, data};

const VICTIM: &str = "/registry/configmaps/default/victim";

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

fn run_ok(args: &[&str]) -> Value {
    let out = lifeboat().args(args).output().expect("runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "lifeboat {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

/// `bbolt check FILE` must pass; without bbolt for this release, says so and checks nothing.
fn bbolt_check(file: &Path) {
    let Some(bbolt) = bbolt_bin() else {
        eprintln!(
            "skipped `bbolt check {}`: no bbolt for etcd {}.{} nor beside another release \
             (scripts/etcd-versions.sh installs it for 3.6 and 3.7)",
            file.display(),
            testkit::reference::etcd_version().0,
            etcd_minor()
        );
        return;
    };
    let out = run(&bbolt, &["check", s(file)])
        .unwrap_or_else(|e| panic!("bbolt check {} failed: {e}", file.display()));
    eprintln!("bbolt check {} with {}", file.display(), bbolt.display());
    let said = String::from_utf8_lossy(&out);
    assert!(
        said.trim_end().ends_with("OK"),
        "bbolt check {}: {said}",
        file.display()
    );
}

/// etcd's own `snapshot restore` of `file` into `root/r1` (etcdutl, or etcdctl on 3.4), then
/// etcd started on it: every key it serves.
async fn restore_with_etcd(file: &Path, root: &Path) -> KvState {
    let plan = Plan::new(&["r1"], false).unwrap();
    let tool = etcdutl_bin().unwrap_or_else(etcdctl_bin);
    let data_dir = root.join("r1");
    let cluster = plan.initial_cluster();
    let peer = plan.peer_url(0);
    run(
        &tool,
        &[
            "snapshot",
            "restore",
            s(file),
            "--name=r1",
            &format!("--data-dir={}", s(&data_dir)),
            &format!("--initial-cluster={cluster}"),
            &format!("--initial-advertise-peer-urls={peer}"),
            "--initial-cluster-token=ref-bbolt",
        ],
    )
    .unwrap_or_else(|e| panic!("etcd refuses to restore {}: {e}", file.display()));
    let r = plan.start(root, "ref-bbolt", None).unwrap();
    r.wait_healthy(Duration::from_secs(60)).await.unwrap();
    let mut c = r.client(0).await.unwrap();
    restored::all_kvs(&mut c).await.unwrap().0
}

#[tokio::test]
async fn offline_edits_pass_bbolt_check_and_etcd_restores_them() {
    let mut tc = TestCluster::plain(1).await;
    let mut c = tc.any_client().await.unwrap();
    let Value::Object(cm) = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "victim", "namespace": "default"}, "data": {"a": "b"}})
    else {
        unreachable!()
    };
    let value = registry::envelope::encode(&cm, registry::Encoding::Protobuf).unwrap();
    c.put(VICTIM, value.clone(), None).await.unwrap();
    data::mixed_history(&mut c, "/registry/configmaps/default/cm-", 300)
        .await
        .unwrap();
    let (before, _) = restored::all_kvs(&mut c).await.unwrap();
    drop(c);
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("backup.db");
    let mut save = vec!["snapshot".to_string(), "save".into(), s(&snap).into()];
    save.extend(tc.cli_args());
    run_ok(&save.iter().map(String::as_str).collect::<Vec<_>>());
    tc.cluster.stop(0);

    let deleted = dir.path().join("deleted.db");
    let bdir = dir.path().join("bk");
    let report = run_ok(&[
        "kube",
        "delete",
        "cm",
        "victim",
        "--yes",
        "-o",
        "json",
        "--snapshot",
        s(&snap),
        "--out",
        s(&deleted),
        "--backup-dir",
        s(&bdir),
    ]);
    let backup = report["backup"].as_str().expect("backup path").to_string();
    let put = dir.path().join("put.db");
    run_ok(&[
        "kube",
        "put",
        "-f",
        &backup,
        "--snapshot",
        s(&deleted),
        "--out",
        s(&put),
        "--yes",
    ]);

    bbolt_check(&deleted);
    let served = restore_with_etcd(&deleted, &dir.path().join("after-delete")).await;
    assert!(
        !served.contains_key(VICTIM.as_bytes()),
        "the object is gone"
    );
    let mut expected: Vec<&Vec<u8>> = before.keys().collect();
    expected.retain(|k| k.as_slice() != VICTIM.as_bytes());
    assert_eq!(served.keys().collect::<Vec<_>>(), expected, "and only it");
    let ours = inspect(&assert_cmd::cargo::cargo_bin("lifeboat"), &deleted);
    assert_eq!(ours["live_keys"].as_u64(), Some(served.len() as u64));

    bbolt_check(&put);
    let served = restore_with_etcd(&put, &dir.path().join("after-put")).await;
    assert_eq!(
        served.get(VICTIM.as_bytes()).map(|v| &v.0),
        Some(&value),
        "the object is back with its stored bytes"
    );
    assert_eq!(
        served.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>()
    );
}
