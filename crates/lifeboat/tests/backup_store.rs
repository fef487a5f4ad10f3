//! `lifeboat backup list|verify|restore` on a store filled from a real etcd's history: a
//! `file://` store and a real S3-compatible server (moto) on loopback. Damage (a flipped
//! byte, a missing segment, a missing manifest) is found and refused, never restored around.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod backup_common;
mod common;

use std::path::{Path, PathBuf};

use backup::publish::{self, FullInfo};
use backup::remote::Store;
use backup::segment::{self, Event};
use backup_common::{
    cluster_with_full, current_revision, key_bucket, moto_env, save, start_moto, to_events,
    watch_until, writes,
};
use common::lifeboat;

/// Whole seconds: full names carry seconds.
const TAKEN_MS: i64 = 1_800_000_000_000;

struct History {
    dir: tempfile::TempDir,
    full: PathBuf,
    manifest: serde_json::Value,
    full_rev: i64,
    events: Vec<Event>,
    live: PathBuf,
    end: i64,
}

/// A full snapshot, then more writes captured by a watch, then the live snapshot at the end.
/// Events are stamped one second apart from the full on, so times map to known revisions.
async fn history() -> History {
    let (tc, mut c, dir, full, full_rev) = cluster_with_full().await;
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("full.db.json")).expect("json"))
            .expect("manifest");
    for round in 1..3 {
        writes(&mut c, round).await.expect("writes");
    }
    let end = current_revision(&mut c).await;
    let mut events = to_events(&watch_until(&mut c, full_rev + 1, end).await);
    for e in &mut events {
        e.observed_ms = TAKEN_MS + (e.revision - full_rev) * 1000;
    }
    let live = dir.path().join("live.db");
    assert_eq!(save(&tc, &live), end);
    History {
        dir,
        full,
        manifest,
        full_rev,
        events,
        live,
        end,
    }
}

fn hex_u64(v: &serde_json::Value) -> u64 {
    u64::from_str_radix(v.as_str().expect("hex id"), 16).expect("hex")
}

/// Uploads the full and the events as segments of about 8 events (whole revisions each).
async fn fill(store: &Store, h: &History) -> Vec<String> {
    let (snapshot_size, snapshot_sha256) = publish::describe_file(&h.full).expect("hash");
    let info = FullInfo {
        revision: h.full_rev,
        cluster_id: hex_u64(&h.manifest["cluster_id"]),
        member_id: hex_u64(&h.manifest["source_member_id"]),
        taken_ms: TAKEN_MS,
        encrypted_to: Vec::new(),
        snapshot_size,
        snapshot_sha256,
    };
    publish::upload_full(store, &h.full, &info)
        .await
        .expect("full uploaded");
    let mut objects = Vec::new();
    let (mut start, mut prev_last) = (0, h.full_rev);
    for i in 1..=h.events.len() {
        let boundary = i == h.events.len()
            || (i - start >= 8 && h.events[i].revision != h.events[i - 1].revision);
        if !boundary {
            continue;
        }
        let info = segment::SegmentInfo {
            cluster_id: hex_u64(&h.manifest["cluster_id"]),
            member_id: 1,
            prev_last_revision: prev_last,
            created_ms: TAKEN_MS,
        };
        let bytes = segment::encode(info, &h.events[start..i]).expect("encodes");
        let seg = segment::decode(&bytes).expect("decodes");
        prev_last = seg.header.last_revision;
        let name = publish::upload_segment(store, &seg, bytes)
            .await
            .expect("upload");
        objects.push(name.object(store.prefix()));
        start = i;
    }
    assert!(objects.len() >= 3, "several segments");
    objects
}

fn run_json(
    args: &[&str],
    store: &str,
    env: &[(&str, String)],
) -> (i32, serde_json::Value, String) {
    let out = lifeboat()
        .arg("backup")
        .args(args)
        .args(["--store", store, "-o", "json"])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON ({e}): {} {stderr}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (out.status.code().unwrap_or(-1), json, stderr)
}

/// list, verify, restore --latest / --to-revision / --to-time against one store.
fn list_verify_restore(h: &History, store: &str, env: &[(&str, String)], segments: usize) {
    let (code, list, err) = run_json(&["list"], store, env);
    assert_eq!(code, 0, "{list:#} {err}");
    assert_eq!(list["fulls"][0]["revision"], h.full_rev);
    assert_eq!(list["latest_restorable"], h.end);
    assert_eq!(list["segments"].as_array().map(Vec::len), Some(segments));
    assert_eq!(list["runs"][0]["last_revision"], h.end);

    let work = h.dir.path().to_str().expect("utf-8");
    let (code, verify, err) = run_json(&["verify", "--work-dir", work], store, env);
    assert_eq!(code, 0, "{verify:#} {err}");
    assert_eq!(verify["sound"], true);
    assert_eq!(verify["fulls"][0]["contents_checked"], true);
    assert_eq!(verify["segments_checked"], segments);
    assert_eq!(verify["events_checked"], h.events.len());

    let latest = h.dir.path().join(format!("latest-{}.db", env.len()));
    let out = latest.to_str().expect("utf-8");
    let (code, restored, err) = run_json(&["restore", "--latest", "--out", out], store, env);
    assert_eq!(code, 0, "{restored:#} {err}");
    assert_eq!(restored["revision"], h.end);
    assert_eq!(key_bucket(&latest), key_bucket(&h.live));

    let mid = h.full_rev + 7;
    let at_mid = h.dir.path().join(format!("mid-{}.db", env.len()));
    let out = at_mid.to_str().expect("utf-8");
    let rev = mid.to_string();
    let (code, restored, err) = run_json(
        &["restore", "--to-revision", &rev, "--out", out],
        store,
        env,
    );
    assert_eq!(code, 0, "{restored:#} {err}");
    let mid_keys = key_bucket(&at_mid);
    assert!(key_bucket(&h.live).starts_with(&mid_keys));
    let last = store::mvcc::Revision::parse(&mid_keys.last().expect("keys").0).expect("rev");
    assert_eq!(last.main, mid);

    // Events of revision full+k were observed k seconds after the full was taken.
    let at = backup::time::rfc3339(TAKEN_MS + 7 * 1000 + 500);
    let by_time = h.dir.path().join(format!("time-{}.db", env.len()));
    let out = by_time.to_str().expect("utf-8");
    let (code, restored, err) = run_json(&["restore", "--to-time", &at, "--out", out], store, env);
    assert_eq!(code, 0, "{restored:#} {err}");
    assert_eq!(restored["revision"], mid);
    assert_eq!(key_bucket(&by_time), mid_keys);

    // Nothing is overwritten.
    let (code, refused, _) = run_json(&["restore", "--latest", "--out", out], store, env);
    assert_eq!(code, 3, "{refused:#}");
    assert!(refused.to_string().contains("exists"), "{refused:#}");
}

fn file_url(dir: &Path) -> String {
    format!("file://{}", dir.display())
}

#[tokio::test]
async fn file_store_lists_verifies_and_restores_any_point() {
    let h = history().await;
    let root = h.dir.path().join("store");
    std::fs::create_dir(&root).expect("mkdir");
    let url = file_url(&root);
    let objects = fill(&Store::open(&url).expect("opens"), &h).await;
    list_verify_restore(&h, &url, &[], objects.len());
}

#[tokio::test]
async fn damage_is_found_and_never_restored_around() {
    let h = history().await;
    let root = h.dir.path().join("store");
    std::fs::create_dir(&root).expect("mkdir");
    let url = file_url(&root);
    let objects = fill(&Store::open(&url).expect("opens"), &h).await;
    let middle = root.join(&objects[1]);

    // One flipped byte in a segment.
    let original = std::fs::read(&middle).expect("read");
    let mut bad = original.clone();
    bad[100] ^= 0x40;
    std::fs::write(&middle, &bad).expect("write");
    let (code, verify, _) = run_json(
        &[
            "verify",
            "--work-dir",
            h.dir.path().to_str().expect("utf-8"),
        ],
        &url,
        &[],
    );
    assert_eq!(code, 1, "{verify:#}");
    assert_eq!(verify["sound"], false);
    let problems = verify["problems"].to_string();
    assert!(
        problems.contains("checksum") && problems.contains(&objects[1]),
        "{problems}"
    );
    let out = h.dir.path().join("bad.db");
    let (code, err, _) = run_json(
        &["restore", "--latest", "--out", out.to_str().expect("utf-8")],
        &url,
        &[],
    );
    assert_eq!(code, 3, "{err:#}");
    assert!(err.to_string().contains("checksum"), "{err:#}");
    assert!(!out.exists());

    // The segment gone (moved out of the store): a gap with its revisions named.
    std::fs::write(&middle, &original).expect("write");
    let aside = h.dir.path().join("aside.seg");
    std::fs::rename(&middle, &aside).expect("move");
    let (code, list, _) = run_json(&["list"], &url, &[]);
    assert_eq!(code, 1, "{list:#}");
    let problem = list["latest_problem"].as_str().expect("problem");
    assert!(problem.contains("missing from the delta log"), "{problem}");
    let (code, err, _) = run_json(
        &["restore", "--latest", "--out", out.to_str().expect("utf-8")],
        &url,
        &[],
    );
    assert_eq!(code, 3, "{err:#}");
    assert!(err.to_string().contains("missing"), "{err:#}");
    let first_seg_last: i64 = objects[0]
        .rsplit('-')
        .next()
        .and_then(|s| s.strip_suffix(".seg"))
        .and_then(|s| s.parse().ok())
        .expect("name");
    let rev = first_seg_last.to_string();
    let (code, ok, err) = run_json(
        &[
            "restore",
            "--to-revision",
            &rev,
            "--out",
            out.to_str().expect("utf-8"),
        ],
        &url,
        &[],
    );
    assert_eq!(code, 0, "before the gap still restores: {ok:#} {err}");
    std::fs::rename(&aside, &middle).expect("move back");

    // A full without its manifest is an unfinished upload: never used.
    let manifest = std::fs::read_dir(root.join("full"))
        .expect("dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .expect("manifest");
    std::fs::rename(&manifest, h.dir.path().join("manifest.aside")).expect("move");
    let (code, list, _) = run_json(&["list"], &url, &[]);
    assert_eq!(code, 1, "{list:#}");
    assert_eq!(list["unfinished_fulls"].as_array().map(Vec::len), Some(1));
    let out2 = h.dir.path().join("nofull.db");
    let (code, err, _) = run_json(
        &[
            "restore",
            "--latest",
            "--out",
            out2.to_str().expect("utf-8"),
        ],
        &url,
        &[],
    );
    assert_eq!(code, 3, "{err:#}");
    assert!(err.to_string().contains("no full backup"), "{err:#}");
}

#[tokio::test]
async fn s3_store_lists_verifies_and_restores_any_point() {
    let h = history().await;
    let (_moto, port) = start_moto("lifeboat-test");
    let env = moto_env(port);
    for (k, v) in &env {
        // SAFETY: only this test reads AWS_* variables, and it sets them before any thread
        // of its own reads the environment.
        unsafe { std::env::set_var(k, v) };
    }
    let url = "s3://lifeboat-test/clusters/a";
    let objects = fill(&Store::open(url).expect("opens"), &h).await;
    assert!(objects[0].starts_with("clusters/a/delta/"), "{objects:?}");
    list_verify_restore(&h, url, &env, objects.len());
}
