//! `lifeboat snapshot save` against real etcd: verified, atomic, never overwriting, retained,
//! and an interrupted save leaves no FILE behind.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::lifeboat;
use testkit::{TestCluster, data};

/// `snapshot status` is etcdutl's from etcd 3.5 on (etcdctl 3.6 has only `snapshot save`).
/// etcdutl 3.6 on counts distinct live keys in `totalKey` (lifeboat's `live_keys`); 3.4 and
/// 3.5 count every k/v pair (lifeboat's `totalKey`). See docs/json/snapshot-inspect.md.
fn total_key_field() -> &'static str {
    let v = std::env::var("LIFEBOAT_ETCD_VERSION").unwrap_or_default();
    let minor = v
        .strip_prefix("3.")
        .and_then(|r| r.split('.').next()?.parse::<u32>().ok());
    if minor.is_some_and(|m| m >= 6) {
        "live_keys"
    } else {
        "totalKey"
    }
}

fn etcdctl_status(file: &std::path::Path) -> serde_json::Value {
    let tool = std::env::var("LIFEBOAT_ETCDUTL_BIN").unwrap_or_else(|_| "etcdctl".into());
    let out = Command::new(tool)
        .env("ETCDCTL_API", "3")
        .args(["snapshot", "status", "-w", "json"])
        .arg(file)
        .output()
        .expect("etcdctl runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("etcdctl JSON")
}

#[tokio::test]
async fn save_writes_a_verified_file_and_a_manifest_matching_etcdctl() {
    let tc = TestCluster::tls(3).await;
    let mut c = tc.any_client().await.unwrap();
    data::mixed_history(&mut c, "/registry/configmaps/default/cm-", 2000)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("backup.db");

    let out = lifeboat()
        .args(["snapshot", "save", "-o", "json"])
        .arg(&file)
        .args(tc.cli_args())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let saved: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();

    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(meta.len() % 512, 32, "etcd's SHA-256 trailer is kept");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("backup.db.json")).unwrap()).unwrap();
    let reference = etcdctl_status(&file);
    for key in ["hash", "revision", "totalKey", "totalSize"] {
        let ours = if key == "totalKey" {
            total_key_field()
        } else {
            key
        };
        assert_eq!(
            manifest[ours], reference[key],
            "{key}: ours {manifest:#} etcdctl {reference:#}"
        );
    }
    assert_eq!(manifest["size"], meta.len());
    assert_eq!(
        manifest["source_member_id"],
        saved["manifest"]["source_member_id"]
    );
    let running = std::env::var("LIFEBOAT_ETCD_VERSION").unwrap_or_else(|_| "3.4.23".into());
    assert_eq!(manifest["etcd_version"], running.as_str());
    assert_eq!(manifest["cluster_id"].as_str().map(str::len), Some(16));
    assert!(!dir.path().join("backup.db.part").exists());

    let verify = lifeboat()
        .args(["snapshot", "verify"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(
        verify.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
}

#[tokio::test]
async fn an_existing_file_is_refused_or_moved_aside_never_overwritten() {
    let tc = TestCluster::tls(1).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("b.db");
    std::fs::write(&file, b"precious older backup").unwrap();
    let manifest = dir.path().join("b.db.json");
    std::fs::write(&manifest, b"{\"the\": \"old manifest\"}").unwrap();

    let out = lifeboat()
        .args(["snapshot", "save"])
        .arg(&file)
        .args(tc.cli_args())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    assert_eq!(std::fs::read(&file).unwrap(), b"precious older backup");

    let out = lifeboat()
        .args(["snapshot", "save", "--force", "-o", "json"])
        .arg(&file)
        .args(tc.cli_args())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let aside = json["moved_aside"].as_str().expect("moved aside");
    assert_eq!(std::fs::read(aside).unwrap(), b"precious older backup");
    assert!(aside.contains(".lifeboat-"));
    // The old manifest went with its file; the new one describes the new file.
    let moved_manifest = json["moved_aside_manifest"]
        .as_str()
        .expect("manifest moved");
    assert_eq!(moved_manifest, format!("{aside}.json"));
    assert_eq!(
        std::fs::read(moved_manifest).unwrap(),
        b"{\"the\": \"old manifest\"}"
    );
    let new: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    assert_eq!(new["size"], std::fs::metadata(&file).unwrap().len());
}

/// Parts of `stem` in `dir` (`STEM.<pid>-<random>.part`).
fn parts(dir: &std::path::Path, stem: &str) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("{stem}.")) && n.ends_with(".part"))
        })
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn a_save_removes_only_parts_whose_writer_is_gone() {
    let tc = TestCluster::plain(1).await;
    let dir = tempfile::tempdir().unwrap();
    let save = |extra: &[&str]| {
        let out = lifeboat()
            .args(["snapshot", "save", "-o", "json", "--dir"])
            .arg(dir.path())
            .args(extra)
            .args(tc.cli_args())
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let first = save(&[]);
    let cluster = first["manifest"]["cluster_id"]
        .as_str()
        .unwrap()
        .to_string();
    let stem = format!("etcd-{cluster}-incoming.db");
    // Another save still writing (a live process owns it), and one that was killed.
    let mut writer = Command::new("sleep").arg("600").spawn().unwrap();
    let live = dir
        .path()
        .join(format!("{stem}.{}-0000abcd.part", writer.id()));
    let dead = dir.path().join(format!("{stem}.4194305-0000abcd.part"));
    std::fs::write(&live, b"being written").unwrap();
    std::fs::write(&dead, b"left by a killed save").unwrap();
    let second = save(&[]);
    writer.kill().unwrap();
    let _ = writer.wait();
    assert_eq!(std::fs::read(&live).unwrap(), b"being written");
    assert!(!dead.exists());
    assert_eq!(
        second["removed_stale_parts"],
        serde_json::json!([dead.to_str().unwrap()])
    );
    assert_eq!(parts(dir.path(), &stem), [live]);

    // Another save's file under the very name this one would take (same cluster, same
    // revision, same second): never moved or replaced; this save takes the next free second.
    let rev = second["manifest"]["revision"].as_i64().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let taken: Vec<_> = (now - 1..now + 30)
        .map(|t| {
            let name = ops::snapshot::managed_name(&cluster, &ops::utc::compact(t), rev);
            let p = dir.path().join(name);
            std::fs::write(&p, b"another save's").unwrap();
            p
        })
        .collect();
    let third = save(&[]);
    assert_eq!(
        third["manifest"]["revision"].as_i64(),
        Some(rev),
        "no writes between"
    );
    assert!(third["moved_aside"].is_null(), "{third}");
    let path = std::path::PathBuf::from(third["path"].as_str().unwrap());
    assert!(!taken.contains(&path), "{}", path.display());
    for p in &taken {
        assert_eq!(
            std::fs::read(p).unwrap(),
            b"another save's",
            "{}",
            p.display()
        );
    }
}

#[tokio::test]
async fn retention_keeps_exactly_n_and_never_touches_other_files() {
    let tc = TestCluster::tls(1).await;
    let mut c = tc.any_client().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let stranger = dir.path().join("etcd-before-upgrade.db");
    std::fs::write(&stranger, b"hand-made").unwrap();
    for i in 0..4 {
        c.put(format!("/k{i}"), "v", None).await.unwrap();
        let out = lifeboat()
            .args(["snapshot", "save", "--retain", "2", "--dir"])
            .arg(dir.path())
            .args(tc.cli_args())
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Names carry the second; make the next one sort after this one.
        std::thread::sleep(Duration::from_millis(1100));
    }
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let dbs: Vec<&String> = names
        .iter()
        .filter(|n| n.ends_with(".db") && n.contains("-rev"))
        .collect();
    assert_eq!(dbs.len(), 2, "{names:?}");
    assert_eq!(
        names.iter().filter(|n| n.ends_with(".db.json")).count(),
        2,
        "{names:?}"
    );
    assert!(
        dbs.iter()
            .all(|n| n.starts_with("etcd-") && n.contains('T') && n.contains("Z-rev"))
    );
    assert_eq!(std::fs::read(&stranger).unwrap(), b"hand-made");
}

#[tokio::test]
async fn a_save_cut_mid_stream_leaves_only_a_part_that_the_next_run_removes() {
    let mut tc = TestCluster::plain(1).await;
    let mut c = tc.any_client().await.unwrap();
    let blob = vec![b'z'; 100 * 1024];
    for i in 0..600 {
        c.put(format!("/big/{i:04}"), blob.clone(), None)
            .await
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cut.db");
    let bin = assert_cmd::cargo::cargo_bin("lifeboat");
    let child = Command::new(&bin)
        .args(["snapshot", "save"])
        .arg(&file)
        .args(tc.cli_args())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Freeze the saver as soon as bytes arrive, kill the member, then let the saver see it.
    let pid = child.id() as libc::pid_t;
    let mut frozen = false;
    let mut part = std::path::PathBuf::new();
    for _ in 0..4000 {
        if let Some(p) = parts(dir.path(), "cut.db")
            .into_iter()
            .find(|p| std::fs::metadata(p).map(|m| m.len() > 0).unwrap_or(false))
        {
            part = p;
            unsafe { libc::kill(pid, libc::SIGSTOP) };
            frozen = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(frozen, "the save never started writing its part");
    assert!(
        part.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(&format!("cut.db.{pid}-"))),
        "the part is named after its process: {}",
        part.display()
    );
    tc.cluster.kill(0);
    unsafe { libc::kill(pid, libc::SIGCONT) };
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(!file.exists(), "no FILE after a cut stream");
    assert!(
        part.exists(),
        "the partial file is kept for inspection: {stderr}"
    );
    assert!(!stderr.contains("panicked"));

    tc.cluster.restart(0).unwrap();
    tc.wait_leader(Duration::from_secs(60)).await;
    let out = lifeboat()
        .args(["snapshot", "save", "-o", "json"])
        .arg(&file)
        .args(tc.cli_args())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["removed_stale_parts"],
        serde_json::json!([part.to_str().unwrap()])
    );
    assert!(file.exists() && !part.exists());
}

#[tokio::test]
async fn save_from_a_named_member_and_refusal_without_leader() {
    let mut tc = TestCluster::tls(3).await;
    let dir = tempfile::tempdir().unwrap();
    let out = lifeboat()
        .args(["snapshot", "save", "-o", "json", "--from", "m2"])
        .arg(dir.path().join("m2.db"))
        .args(tc.cli_args())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["manifest"]["source_member_name"], "m2");

    tc.cluster.kill(1);
    tc.cluster.kill(2);
    let out = lifeboat()
        .args(["snapshot", "save"])
        .arg(dir.path().join("noleader.db"))
        .args(tc.cli_args())
        .args(["--dial-timeout=1s", "--command-timeout=2s"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--from"));
    // In a disaster the survivor can still be saved on purpose.
    let out = lifeboat()
        .args(["snapshot", "save", "--from", "m1"])
        .arg(dir.path().join("survivor.db"))
        .args(tc.cli_args())
        .args(["--dial-timeout=1s", "--command-timeout=2s"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
