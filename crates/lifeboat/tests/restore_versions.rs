//! `lifeboat snapshot restore` against the reference tool of the etcd release the env names
//! (`etcdutl snapshot restore`; 3.4: `etcdctl snapshot restore`), run once per release by the
//! suite: the same snapshot and flags give the same WAL and `.snap` bytes and the same
//! backend (apart from 3.4's `members`, see docs/etcd-formats.md §5.5); etcd started
//! on each gives the same IDs, membership, revision and hashkv, and logs nothing about the
//! backend. Plus `--etcd-version` and the refused downgrade.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::lifeboat;
use testkit::restored::{self, Plan};
use testkit::{TestCluster, data};

const WAL: &str = "member/wal/0000000000000000-0000000000000000.wal";
const TOKEN: &str = "tok-versions";

/// The env's etcd release as `3.x` (the suite sets LIFEBOAT_ETCD_VERSION; else `etcd --version`).
fn env_minor() -> String {
    let full = std::env::var("LIFEBOAT_ETCD_VERSION").unwrap_or_else(|_| {
        let out = Command::new(ops::local::etcd_binary())
            .arg("--version")
            .output()
            .expect("etcd runs");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| {
                l.strip_prefix("etcd Version:")
                    .map(|v| v.trim().to_string())
            })
            .expect("etcd --version names its version")
    });
    full.split('.').take(2).collect::<Vec<_>>().join(".")
}

/// The release's own restore: etcdutl from 3.5 on, 3.4's etcdctl before.
fn reference_restore(args: &[String]) -> std::process::Output {
    let mut cmd = match std::env::var_os("LIFEBOAT_ETCDUTL_BIN") {
        Some(bin) => Command::new(bin),
        None => {
            let mut c = Command::new(
                std::env::var_os("LIFEBOAT_ETCDCTL_BIN").unwrap_or_else(|| "etcdctl".into()),
            );
            c.env("ETCDCTL_API", "3");
            c
        }
    };
    cmd.args(["snapshot", "restore"])
        .args(args)
        .output()
        .unwrap()
}

fn etcdctl(args: &[String]) -> std::process::Output {
    Command::new(std::env::var_os("LIFEBOAT_ETCDCTL_BIN").unwrap_or_else(|| "etcdctl".into()))
        .env("ETCDCTL_API", "3")
        .args(args)
        .output()
        .unwrap()
}

fn ok(out: std::process::Output, what: &str) -> std::process::Output {
    assert!(
        out.status.success(),
        "{what}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `--name --initial-cluster --initial-cluster-token --initial-advertise-peer-urls --data-dir`.
fn flags(plan: &Plan, member: usize, data_dir: &Path) -> Vec<String> {
    vec![
        format!("--name={}", plan.names[member]),
        format!("--initial-cluster={}", plan.initial_cluster()),
        format!("--initial-cluster-token={TOKEN}"),
        format!("--initial-advertise-peer-urls={}", plan.peer_url(member)),
        format!("--data-dir={}", data_dir.display()),
    ]
}

fn lifeboat_restore(snapshot: &Path, args: &[String]) -> std::process::Output {
    lifeboat()
        .args(["snapshot", "restore", "-o", "json"])
        .args(args)
        .arg(snapshot)
        .output()
        .unwrap()
}

/// A one-member cluster with a mixed history (txns, deletes, a lease, a compaction), saved
/// with the release's own etcdctl; the cluster is gone on return, as in a disaster.
async fn snapshot_of_a_cluster(dir: &Path) -> PathBuf {
    let mut tc = TestCluster::plain(1).await;
    let mut c = tc.any_client().await.unwrap();
    data::mixed_history(&mut c, "/app/", 400).await.unwrap();
    let file = dir.join("snapshot.db");
    let mut args = tc.cli_args();
    args.extend(["snapshot".into(), "save".into(), file.display().to_string()]);
    // 3.6+ record their storage version a moment after the cluster version is decided;
    // a snapshot without it would not be what such a cluster normally holds.
    let wants_storage_version = !matches!(env_minor().as_str(), "3.4" | "3.5");
    for _ in 0..40 {
        let _ = std::fs::remove_file(&file);
        ok(etcdctl(&args), "etcdctl snapshot save");
        let db = store::snapshot::SnapshotFile::open(&file)
            .unwrap()
            .db()
            .unwrap();
        let meta = db.bucket(b"meta").unwrap().unwrap();
        let stored = meta.get(&db, b"storageVersion").unwrap().is_some();
        if stored || !wants_storage_version {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tc.cluster.stop(0);
    file
}

/// Every (bucket, key) -> value of a db, read with lifeboat's own bbolt reader.
fn buckets(path: &Path) -> BTreeMap<(Vec<u8>, Vec<u8>), Vec<u8>> {
    let db = bolt::Db::open(path).unwrap();
    let mut out = BTreeMap::new();
    let report = db.walk(10, &mut |e| {
        if let Some(b) = e.path.first() {
            out.insert((b.clone(), e.key.to_vec()), e.value.to_vec());
        }
        ControlFlow::Continue(())
    });
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    out
}

fn the_snap(dir: &Path) -> (String, Vec<u8>) {
    let snaps: Vec<_> = std::fs::read_dir(dir.join("member/snap"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "snap"))
        .collect();
    assert_eq!(snaps.len(), 1, "{snaps:?}");
    let name = snaps[0].file_name().unwrap().to_string_lossy().into_owned();
    (name, std::fs::read(&snaps[0]).unwrap())
}

fn varint(b: &[u8], i: &mut usize) -> u64 {
    let (mut v, mut shift) = (0u64, 0);
    loop {
        let c = b[*i];
        *i += 1;
        v |= u64::from(c & 0x7f) << shift;
        shift += 7;
        if c < 0x80 {
            return v;
        }
    }
}

/// The length-delimited fields of a protobuf message, by field number (varints skipped).
fn bytes_fields(b: &[u8]) -> BTreeMap<u64, Vec<u8>> {
    let (mut out, mut i) = (BTreeMap::new(), 0);
    while i < b.len() {
        let key = varint(b, &mut i);
        if key & 7 == 2 {
            let len = varint(b, &mut i) as usize;
            out.insert(key >> 3, b[i..i + len].to_vec());
            i += len;
        } else {
            varint(b, &mut i);
        }
    }
    out
}

/// A `.snap` as (raft metadata bytes, v2 store JSON without indexes, events sorted).
fn snap_without_v2_order(file: &[u8]) -> (Vec<u8>, serde_json::Value) {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                for k in [
                    "CreatedIndex",
                    "ModifiedIndex",
                    "createdIndex",
                    "modifiedIndex",
                ] {
                    m.remove(k);
                }
                m.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => {
                a.iter_mut().for_each(strip);
                a.sort_by_key(|e| e.to_string());
            }
            _ => {}
        }
    }
    let raft = bytes_fields(&bytes_fields(file)[&2]);
    let mut json: serde_json::Value = serde_json::from_slice(&raft[&1]).unwrap();
    strip(&mut json);
    (raft[&2].clone(), json)
}

/// Log lines at warning level or worse that speak of the backend or membership, before the
/// shutdown this test causes. capnslog (3.4: ` W | `) and zap JSON (3.5+).
fn backend_complaints(log: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(log).unwrap();
    const TOPICS: [&str; 12] = [
        "backend",
        "term",
        "confstate",
        "conf state",
        "consistent",
        "storage",
        "schema",
        "member",
        "snapshot",
        "wal",
        "bbolt",
        "version",
    ];
    text.lines()
        .take_while(|l| !l.contains("shutting down") && !l.contains("received terminated"))
        .filter(|l| {
            let lower = l.to_ascii_lowercase();
            let bad = [" W | ", " E | ", " C | ", " P | "]
                .iter()
                .any(|m| l.contains(m))
                || [
                    "\"warn\"",
                    "\"error\"",
                    "\"fatal\"",
                    "\"panic\"",
                    "\"dpanic\"",
                ]
                .iter()
                .any(|m| lower.contains(&format!("\"level\":{m}")));
            bad && TOPICS.iter().any(|t| lower.contains(t))
        })
        .map(String::from)
        .collect()
}

/// What a started member shows: cluster ID, (name, id, peer URLs, learner), revision, hashkv.
#[derive(Debug, PartialEq, Eq)]
struct Started {
    cluster_id: u64,
    members: Vec<(String, u64, Vec<String>, bool)>,
    revision: i64,
    hash: u32,
    compact_revision: i64,
}

async fn start_and_observe(plan: &Plan, root: &Path) -> Started {
    let r = plan.start(root, TOKEN, None).unwrap();
    r.wait_healthy(Duration::from_secs(60)).await.unwrap();
    let mut c = r.client(0).await.unwrap();
    let list = c.member_list().await.unwrap();
    let mut members: Vec<_> = list
        .members()
        .iter()
        .map(|m| {
            (
                m.name().to_string(),
                m.id(),
                m.peer_urls().to_vec(),
                m.is_learner(),
            )
        })
        .collect();
    members.sort();
    let (_, revision) = restored::all_kvs(&mut c).await.unwrap();
    let h = c.hash_kv(0).await.unwrap();
    let started = Started {
        cluster_id: list.header().unwrap().cluster_id(),
        members,
        revision,
        hash: h.hash(),
        compact_revision: h.compact_version(),
    };
    drop(c);
    drop(r);
    let log = root.join(format!("{}.log", plan.names[0]));
    let complaints = backend_complaints(&log);
    assert!(
        complaints.is_empty(),
        "etcd {} on {} logged:\n{}",
        env_minor(),
        root.display(),
        complaints.join("\n")
    );
    started
}

#[tokio::test]
async fn restore_equals_the_releases_own_restore_and_starts_clean() {
    let v = env_minor();
    let dir = tempfile::tempdir().unwrap();
    let snapshot = snapshot_of_a_cluster(dir.path()).await;

    // Offline: member `a` of a three-member cluster, both ways, same flags.
    let plan3 = Plan::new(&["a", "b", "c"], false).unwrap();
    let (ref_a, ours_a) = (dir.path().join("ref-a"), dir.path().join("ours-a"));
    ok(
        reference_restore(
            &[
                flags(&plan3, 0, &ref_a),
                vec![snapshot.display().to_string()],
            ]
            .concat(),
        ),
        "reference restore",
    );
    let out = ok(
        lifeboat_restore(&snapshot, &flags(&plan3, 0, &ours_a)),
        "lifeboat restore",
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["etcd"]["version"], v.as_str(), "{json:#}");
    assert_eq!(json["etcd"]["source"]["kind"], "installed");

    // The WAL carries member and cluster IDs, the membership entries and the ConfState.
    assert!(
        std::fs::read(ref_a.join(WAL)).unwrap() == std::fs::read(ours_a.join(WAL)).unwrap(),
        "WAL differs from etcd {v}'s"
    );
    let (their_snap, our_snap) = (the_snap(&ref_a), the_snap(&ours_a));
    assert_eq!(their_snap.0, our_snap.0, "snap file name");
    if v != "3.4" && v != "3.5" {
        // 3.6+ fill the v2 store from a Go map (`RaftCluster.Store`), so which member gets
        // index 1, 2 or 3 there varies from run to run; we keep ascending IDs (as 3.4/3.5).
        assert_eq!(
            snap_without_v2_order(&their_snap.1),
            snap_without_v2_order(&our_snap.1),
            "snap differs from etcd {v}'s beyond the v2 store's member order"
        );
    } else {
        assert!(
            their_snap.1 == our_snap.1,
            "snap differs from etcd {v}'s: {} vs {} bytes, first difference at {:?}",
            their_snap.1.len(),
            our_snap.1.len(),
            their_snap
                .1
                .iter()
                .zip(&our_snap.1)
                .position(|(a, b)| a != b)
        );
    }
    let theirs = buckets(&ref_a.join("member/snap/db"));
    let mut ours = buckets(&ours_a.join("member/snap/db"));
    let members = |m: &BTreeMap<(Vec<u8>, Vec<u8>), Vec<u8>>| -> BTreeMap<Vec<u8>, Vec<u8>> {
        m.iter()
            .filter(|((b, _), _)| b == b"members")
            .map(|((_, k), val)| (k.clone(), val.clone()))
            .collect()
    };
    let (their_members, our_members) = (members(&theirs), members(&ours));
    assert_eq!(our_members.len(), 3);
    let printed: Vec<String> = json["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    let mut keys: Vec<String> = our_members
        .keys()
        .map(|k| String::from_utf8_lossy(k).into_owned())
        .collect();
    keys.sort();
    let mut printed_sorted = printed.clone();
    printed_sorted.sort();
    assert_eq!(keys, printed_sorted);
    if v == "3.4" {
        // 3.4's etcdctl leaves the bucket as the snapshot has it (its trim deletes from the
        // MVCC keyspace, and it writes the new members only to the v2 store, which is what
        // 3.4 reads); ours holds the new members, as 3.5+ write it.
        assert_eq!(their_members.len(), 1, "the snapshot's one member");
        assert!(our_members.keys().all(|k| !their_members.contains_key(k)));
    } else {
        assert_eq!(our_members, their_members);
    }
    ours.retain(|(b, _), _| b != b"members");
    let theirs: BTreeMap<_, _> = theirs
        .into_iter()
        .filter(|((b, _), _)| b != b"members")
        .collect();
    assert!(
        ours == theirs,
        "backend differs from etcd {v}'s outside `members`: {:?}",
        ours.iter()
            .filter(|(k, val)| theirs.get(*k) != Some(*val))
            .map(|(k, _)| k)
            .collect::<Vec<_>>()
    );

    // Started: one member each way on the same ports, one after the other.
    let plan1 = Plan::new(&["r1"], false).unwrap();
    let (ref_root, our_root) = (dir.path().join("ref"), dir.path().join("ours"));
    ok(
        reference_restore(
            &[
                flags(&plan1, 0, &ref_root.join("r1")),
                vec![snapshot.display().to_string()],
            ]
            .concat(),
        ),
        "reference restore",
    );
    ok(
        lifeboat_restore(&snapshot, &flags(&plan1, 0, &our_root.join("r1"))),
        "lifeboat restore",
    );
    let theirs = start_and_observe(&plan1, &ref_root).await;
    let ours = start_and_observe(&plan1, &our_root).await;
    assert_eq!(ours, theirs, "etcd {v} started on lifeboat's restore");
    assert_eq!(ours.members.len(), 1);
}

#[tokio::test]
async fn etcd_version_flag_overrides_the_installed_etcd() {
    let v = env_minor();
    let dir = tempfile::tempdir().unwrap();
    let snapshot = snapshot_of_a_cluster(dir.path()).await;
    let plan = Plan::new(&["a"], false).unwrap();
    // An upgrade target is always allowed; 3.7 writes raft messages without zero defaults,
    // so the WAL differs from the env's unless the env is 3.7.
    let detected = dir.path().join("detected");
    let flagged = dir.path().join("flagged");
    ok(
        lifeboat_restore(&snapshot, &flags(&plan, 0, &detected)),
        "lifeboat restore",
    );
    let out = ok(
        lifeboat_restore(
            &snapshot,
            &[flags(&plan, 0, &flagged), vec!["--etcd-version=3.7".into()]].concat(),
        ),
        "lifeboat restore --etcd-version 3.7",
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["etcd"]["version"], "3.7");
    assert_eq!(json["etcd"]["source"]["kind"], "flag");
    assert_eq!(json["etcd"]["installed_differs"].is_string(), v != "3.7");
    let same =
        std::fs::read(detected.join(WAL)).unwrap() == std::fs::read(flagged.join(WAL)).unwrap();
    assert_eq!(
        same,
        v == "3.7",
        "etcd {v}: WAL for 3.7 equal to the env's: {same}"
    );
    // 3.4's meta has no term; every later release's has.
    let term = |d: &Path| {
        buckets(&d.join("member/snap/db")).contains_key(&(b"meta".to_vec(), b"term".to_vec()))
    };
    assert!(term(&flagged));
    assert_eq!(term(&detected), v != "3.4");

    // A release lifeboat does not know is refused with the known ones, nothing written.
    let unknown = dir.path().join("unknown");
    let out = lifeboat_restore(
        &snapshot,
        &[flags(&plan, 0, &unknown), vec!["--etcd-version=3.9".into()]].concat(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr.contains("3.4, 3.5, 3.6, 3.7"), "{stderr}");
    assert!(!unknown.exists());
}

#[tokio::test]
async fn a_storage_version_newer_than_the_target_is_refused_before_anything_is_written() {
    let v = env_minor();
    if v == "3.4" || v == "3.5" {
        // etcd 3.4 and 3.5 write no meta/storageVersion, so their snapshots are never a
        // downgrade by it; the 3.6 and 3.7 passes run this (and store's unit tests cover the
        // rule for every pair).
        eprintln!("skipped: etcd {v} snapshots carry no storage version");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let snapshot = snapshot_of_a_cluster(dir.path()).await;
    let plan = Plan::new(&["a"], false).unwrap();
    let older = if v == "3.6" { "3.5" } else { "3.6" };
    let target = dir.path().join("older");
    let out = lifeboat_restore(
        &snapshot,
        &[
            flags(&plan, 0, &target),
            vec![format!("--etcd-version={older}")],
        ]
        .concat(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains(&format!("storage version is {v}"))
            && stderr.contains("nothing was written")
            && stderr.contains(&format!("--etcd-version {v}"))
            && stderr.contains("etcdctl downgrade enable"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"));
    assert!(!target.exists(), "{} was created", target.display());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "only the snapshot"
    );
}
