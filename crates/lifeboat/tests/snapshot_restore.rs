//! `lifeboat snapshot restore` against real etcd 3.4: a 3-member TLS cluster restored with
//! `--all` starts healthy with every key, value, revision and version; interop with etcdctl
//! both ways; a raw member db with `--skip-hash-check`; refused inputs write nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::lifeboat;
use testkit::restored::{self, Plan};
use testkit::{TestCluster, data};

fn run_ok(cmd: &mut assert_cmd::Command) -> serde_json::Value {
    let out = cmd.output().expect("lifeboat runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

/// `snapshot restore` and `status` are etcdutl's from etcd 3.5 on (etcdctl 3.6 dropped them).
fn etcdutl(args: &[String]) -> std::process::Output {
    match std::env::var_os("LIFEBOAT_ETCDUTL_BIN") {
        Some(bin) => Command::new(bin).args(args).output().expect("etcdutl runs"),
        None => etcdctl(args),
    }
}

fn etcdctl(args: &[String]) -> std::process::Output {
    Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args(args)
        .output()
        .expect("etcdctl runs")
}

#[tokio::test]
async fn three_members_restored_with_all_form_a_healthy_cluster_holding_every_key() {
    let mut tc = TestCluster::tls(3).await;
    let mut c = tc.any_client().await.unwrap();
    data::mixed_history(&mut c, "/registry/configmaps/default/cm-", 10_000)
        .await
        .unwrap();
    let (before, rev) = restored::all_kvs(&mut c).await.unwrap();
    assert!(before.len() > 1500 && before.values().any(|v| v.4));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("backup.db");
    run_ok(
        lifeboat()
            .args(["snapshot", "save"])
            .arg(&file)
            .args(tc.cli_args()),
    );
    let pki = tc.cluster.pki.clone().expect("TLS cluster");
    // The old cluster is gone, as in a real disaster (its PKI files stay for the new one).
    for i in 0..3 {
        tc.cluster.stop(i);
    }

    let plan = Plan::new(&["r1", "r2", "r3"], true).unwrap();
    let root = dir.path().join("restored");
    let json = run_ok(
        lifeboat()
            .args([
                "snapshot",
                "restore",
                "-o",
                "json",
                "--all",
                "--output-root",
            ])
            .arg(&root)
            .arg(format!("--initial-cluster={}", plan.initial_cluster()))
            .arg("--initial-cluster-token=tok-restored")
            .arg(&file),
    );
    assert_eq!(json["hash_check"], "verified");
    // Written for the etcd that starts it below (the env's), as `etcd --version` says.
    assert_eq!(json["etcd"]["source"]["kind"], "installed");
    assert_eq!(json["db"]["kubernetes"], true);
    assert_eq!(json["db"]["bump"]["amount"], 1_000_000_000u64);
    assert!(json["revision_note"].as_str().unwrap().contains("bumped"));
    assert_eq!(json["checklist"].as_array().map(Vec::len), Some(4));
    assert_eq!(json["restored"].as_array().map(Vec::len), Some(3));
    let start = json["start"].as_array().unwrap();
    assert!(start.iter().all(|s| {
        s["flags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "--initial-cluster-state=new")
            && s["env"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e == "ETCD_INITIAL_CLUSTER_STATE=new")
    }));
    let printed: BTreeMap<String, String> = json["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().to_string(),
                m["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();

    let r = plan.start(&root, "tok-restored", Some(&pki)).unwrap();
    r.wait_healthy(Duration::from_secs(60)).await.unwrap();
    let mut rc = r.client(1).await.unwrap();
    let (after, rev_after) = restored::all_kvs(&mut rc).await.unwrap();
    assert_eq!(after.len(), before.len());
    assert!(
        after == before,
        "keys, values, revisions or versions differ"
    );
    assert_eq!(rev_after, rev + 1_000_000_000);

    let members = rc.member_list().await.unwrap();
    let cluster_id = members.header().map(|h| h.cluster_id()).unwrap();
    assert_eq!(
        format!("{cluster_id:x}"),
        json["cluster_id"].as_str().unwrap()
    );
    let running: BTreeMap<String, String> = members
        .members()
        .iter()
        .map(|m| (m.name().to_string(), format!("{:x}", m.id())))
        .collect();
    assert_eq!(running, printed);

    // Watchers at old revisions are told to re-list; new writes continue after the bump.
    let old = restored::count_at(&mut rc, "/registry/", rev).await;
    assert!(
        old.as_ref()
            .err()
            .is_some_and(|e| e.to_string().contains("compacted")),
        "{old:?}"
    );
    let put = rc.put("/registry/after-restore", "x", None).await.unwrap();
    assert_eq!(put.header().unwrap().revision(), rev + 1_000_000_001);
    let (code, status, _) = common::status_json(&r.cli_args());
    assert_eq!(code, 0, "{status:#}");
}

#[tokio::test]
async fn interop_with_etcdctl_both_ways() {
    let mut tc = TestCluster::plain(1).await;
    let mut c = tc.any_client().await.unwrap();
    data::mixed_history(&mut c, "/interop/", 600).await.unwrap();
    let (before, rev) = restored::all_kvs(&mut c).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ours = dir.path().join("lifeboat.db");
    let theirs = dir.path().join("etcdctl.db");
    run_ok(
        lifeboat()
            .args(["snapshot", "save"])
            .arg(&ours)
            .args(tc.cli_args()),
    );
    let mut args = tc.cli_args();
    args.extend([
        "snapshot".into(),
        "save".into(),
        theirs.display().to_string(),
    ]);
    let out = etcdctl(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    tc.cluster.stop(0);

    // etcdctl restores what lifeboat saved.
    let plan = Plan::new(&["e1"], false).unwrap();
    let root = dir.path().join("by-etcdctl");
    let out = etcdutl(&[
        "snapshot".into(),
        "restore".into(),
        ours.display().to_string(),
        "--name=e1".into(),
        format!("--initial-cluster={}", plan.initial_cluster()),
        "--initial-cluster-token=t1".into(),
        format!("--initial-advertise-peer-urls={}", plan.peer_url(0)),
        format!("--data-dir={}", root.join("e1").display()),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    {
        let r = plan.start(&root, "t1", None).unwrap();
        r.wait_healthy(Duration::from_secs(60)).await.unwrap();
        let (after, _) = restored::all_kvs(&mut r.client(0).await.unwrap())
            .await
            .unwrap();
        assert!(
            after == before,
            "etcdctl restore of a lifeboat save differs"
        );
    }

    // lifeboat restores what etcdctl saved; no Kubernetes data, so no bump by default.
    let plan = Plan::new(&["l1"], false).unwrap();
    let root = dir.path().join("by-lifeboat");
    let data_dir = root.join("l1");
    let json = run_ok(
        lifeboat()
            .args(["snapshot", "restore", "-o", "json", "--name=l1"])
            .arg(format!("--initial-cluster={}", plan.initial_cluster()))
            .arg("--initial-cluster-token=t2")
            .arg(format!(
                "--initial-advertise-peer-urls={}",
                plan.peer_url(0)
            ))
            .arg("--data-dir")
            .arg(&data_dir)
            .arg(&theirs),
    );
    assert!(json["db"]["bump"].is_null());
    assert!(
        json["revision_note"]
            .as_str()
            .unwrap()
            .contains("not bumped")
    );
    assert_eq!(json["checklist"].as_array().map(Vec::len), Some(0));
    // Real bbolt (etcdctl's) reads the file our writer produced and its check passes.
    let out = etcdutl(&[
        "snapshot".into(),
        "status".into(),
        "-w".into(),
        "json".into(),
        data_dir.join("member/snap/db").display().to_string(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["revision"], rev);
    let r = plan.start(&root, "t2", None).unwrap();
    r.wait_healthy(Duration::from_secs(60)).await.unwrap();
    let (after, rev_after) = restored::all_kvs(&mut r.client(0).await.unwrap())
        .await
        .unwrap();
    assert!(
        after == before,
        "lifeboat restore of an etcdctl save differs"
    );
    assert_eq!(rev_after, rev);
}

#[tokio::test]
async fn a_raw_member_db_restores_only_with_skip_hash_check() {
    let mut tc = TestCluster::plain(1).await;
    let mut c = tc.any_client().await.unwrap();
    data::put_keys(&mut c, "/raw/", 300).await.unwrap();
    let (before, _) = restored::all_kvs(&mut c).await.unwrap();
    tc.cluster.stop(0);
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("db");
    std::fs::copy(
        tc.cluster.members()[0].data_dir.join("member/snap/db"),
        &raw,
    )
    .unwrap();

    let plan = Plan::new(&["x1"], false).unwrap();
    let root = dir.path().join("out");
    let restore = |extra: &[&str]| {
        let mut cmd = lifeboat();
        cmd.args(["snapshot", "restore", "-o", "json", "--name=x1"])
            .arg(format!("--initial-cluster={}", plan.initial_cluster()))
            .arg(format!(
                "--initial-advertise-peer-urls={}",
                plan.peer_url(0)
            ))
            .arg("--data-dir")
            .arg(root.join("x1"))
            .args(extra)
            .arg(&raw);
        cmd
    };
    let out = restore(&[]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--skip-hash-check") && stderr.contains("nothing was written"),
        "{stderr}"
    );
    assert!(!root.exists());

    let json = run_ok(&mut restore(&["--skip-hash-check"]));
    assert_eq!(json["hash_check"], "absent");
    let r = plan.start(&root, "etcd-cluster", None).unwrap();
    r.wait_healthy(Duration::from_secs(60)).await.unwrap();
    let (after, _) = restored::all_kvs(&mut r.client(0).await.unwrap())
        .await
        .unwrap();
    assert!(after == before);
}

fn fixture() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/etcd-3.4.23/snapshot.db")
}

fn restore_all(file: &Path, root: &Path, extra: &[&str]) -> std::process::Output {
    lifeboat()
        .args(["snapshot", "restore", "--all", "--output-root"])
        .arg(root)
        .arg("--initial-cluster=a=http://127.0.0.1:24801,b=http://127.0.0.1:24802")
        .args(extra)
        .arg(file)
        .output()
        .unwrap()
}

#[test]
fn truncated_or_bit_flipped_snapshots_are_refused_and_nothing_is_written() {
    let good = std::fs::read(fixture()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "truncated",
            good[..good.len() - 1000].to_vec(),
            "no SHA-256 trailer",
        ),
        (
            "flipped",
            {
                let mut b = good.clone();
                b[4096 * 3 + 123] ^= 0x01;
                b
            },
            "SHA-256 mismatch",
        ),
    ];
    for (name, bytes, why) in cases {
        let file = dir.path().join(format!("{name}.db"));
        std::fs::write(&file, bytes).unwrap();
        let root = dir.path().join(format!("out-{name}"));
        let out = restore_all(&file, &root, &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{name}: {stderr}");
        assert!(
            stderr.contains(why) && stderr.contains("nothing was written"),
            "{name}: {stderr}"
        );
        assert!(!stderr.contains("panicked"));
        assert!(!root.exists(), "{name}: {} was created", root.display());
    }
}

#[test]
fn a_non_empty_data_dir_is_refused_or_moved_aside() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("out");
    std::fs::create_dir_all(root.join("a")).unwrap();
    std::fs::write(root.join("a/precious"), b"old member data").unwrap();
    let out = restore_all(&fixture(), &root, &[]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--move-aside"));
    assert_eq!(
        std::fs::read(root.join("a/precious")).unwrap(),
        b"old member data"
    );
    assert!(!root.join("b").exists());

    let out = restore_all(
        &fixture(),
        &root,
        &["--move-aside", "-o", "json", "--no-bump"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let aside = json["moved_aside"][0][1].as_str().expect("moved aside");
    assert!(aside.contains("a.lifeboat-"));
    assert_eq!(
        std::fs::read(Path::new(aside).join("precious")).unwrap(),
        b"old member data"
    );
    assert!(root.join("a/member/snap/db").exists() && root.join("b/member/wal").exists());
    assert!(json["db"]["bump"].is_null());
    assert!(
        json["revision_note"]
            .as_str()
            .unwrap()
            .contains("--no-bump")
    );
}
