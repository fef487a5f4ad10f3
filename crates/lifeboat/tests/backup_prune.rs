//! `lifeboat backup prune`: on a store filled from a real etcd's history (three fulls an hour
//! apart and the whole delta log), on `file://` and on a real S3-compatible server (moto).
//! What prune keeps restores every revision of the window (`backup restore --latest` and
//! `--to-revision`); foreign and corrupt objects are reported and survive; a dry run and a
//! refused confirmation delete nothing; a store without a verifiable full deletes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod backup_common;
mod common;

use std::path::{Path, PathBuf};

use backup::publish::{self, FullInfo};
use backup::remote::Store;
use backup::segment;
use backup_common::{
    key_bucket, key_bucket_upto, moto_env, save, start_moto, to_events, watch_until, writes,
};
use common::lifeboat;
use testkit::TestCluster;

const HOUR_MS: i64 = 3_600_000;
const TAKEN_MS: i64 = 1_800_000_000_000;

struct History {
    dir: tempfile::TempDir,
    /// (file, manifest) of each full, oldest first.
    fulls: Vec<(PathBuf, serde_json::Value)>,
    events: Vec<backup::segment::Event>,
    live: PathBuf,
    end: i64,
}

/// Writes, a full, writes, a full, writes, a full, writes; every event from revision 2 on
/// captured by a watch; the live snapshot at the end.
async fn history() -> History {
    let tc = TestCluster::plain(1).await;
    let mut c = tc.any_client().await.expect("client");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut fulls = Vec::new();
    for round in 0..3 {
        writes(&mut c, round).await.expect("writes");
        let file = dir.path().join(format!("full{round}.db"));
        save(&tc, &file);
        let json = std::fs::read(file.with_extension("db.json")).expect("manifest");
        fulls.push((file, serde_json::from_slice(&json).expect("json")));
    }
    writes(&mut c, 3).await.expect("writes");
    let end = c.get("/", None).await.unwrap().header().unwrap().revision();
    let events = to_events(&watch_until(&mut c, 2, end).await);
    let live = dir.path().join("live.db");
    assert_eq!(save(&tc, &live), end);
    History {
        dir,
        fulls,
        events,
        live,
        end,
    }
}

fn hex_u64(v: &serde_json::Value) -> u64 {
    u64::from_str_radix(v.as_str().expect("hex id"), 16).expect("hex")
}

fn rev(m: &serde_json::Value) -> i64 {
    m["revision"].as_i64().expect("revision")
}

/// The fulls an hour apart, and the events as segments of about 8 events.
async fn fill(store: &Store, h: &History) {
    for (i, (file, m)) in h.fulls.iter().enumerate() {
        let (snapshot_size, snapshot_sha256) = publish::describe_file(file).expect("hash");
        let info = FullInfo {
            revision: rev(m),
            cluster_id: hex_u64(&m["cluster_id"]),
            member_id: hex_u64(&m["source_member_id"]),
            taken_ms: TAKEN_MS + i as i64 * HOUR_MS,
            encrypted_to: Vec::new(),
            snapshot_size,
            snapshot_sha256,
        };
        publish::upload_full(store, file, &info)
            .await
            .expect("full");
    }
    let cluster_id = hex_u64(&h.fulls[0].1["cluster_id"]);
    let (mut start, mut prev_last) = (0, 1);
    for i in 1..=h.events.len() {
        let boundary = i == h.events.len()
            || (i - start >= 8 && h.events[i].revision != h.events[i - 1].revision);
        if !boundary {
            continue;
        }
        let info = segment::SegmentInfo {
            cluster_id,
            member_id: 1,
            prev_last_revision: prev_last,
            created_ms: TAKEN_MS,
        };
        let bytes = segment::encode(info, &h.events[start..i]).expect("encodes");
        let seg = segment::decode(&bytes).expect("decodes");
        prev_last = seg.header.last_revision;
        publish::upload_segment(store, &seg, bytes)
            .await
            .expect("segment");
        start = i;
    }
}

fn backup_cmd(args: &[&str], store: &str, env: &[(&str, String)]) -> std::process::Output {
    lifeboat()
        .arg("backup")
        .args(args)
        .args(["--store", store])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("runs")
}

fn json(args: &[&str], store: &str, env: &[(&str, String)]) -> (i32, serde_json::Value) {
    let mut all = args.to_vec();
    all.extend(["-o", "json"]);
    let out = backup_cmd(&all, store, env);
    let value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON ({e}): {} {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), value)
}

fn objects(v: &serde_json::Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["object"].as_str().expect("object").to_string())
        .collect()
}

async fn names(store: &Store) -> Vec<String> {
    let c = store.contents().await.expect("list");
    let mut all: Vec<String> = c
        .fulls
        .iter()
        .chain(&c.unfinished)
        .map(|(_, e)| e.object.clone())
        .chain(c.deltas.iter().map(|(_, e)| e.object.clone()))
        .chain(c.foreign.iter().map(|e| e.object.clone()))
        .chain(
            c.fulls
                .iter()
                .map(|(f, _)| f.manifest_object(store.prefix())),
        )
        .collect();
    all.sort();
    all
}

fn restore(
    h: &History,
    store: &str,
    env: &[(&str, String)],
    point: &[&str],
    name: &str,
) -> (i32, PathBuf) {
    let out = h.dir.path().join(name);
    let mut args = vec!["restore"];
    args.extend(point);
    args.extend(["--out", out.to_str().unwrap()]);
    let (code, _) = json(&args, store, env);
    (code, out)
}

/// The whole scenario on one store (`prefix` is where objects live in it).
async fn prune_keeps_the_window(h: &History, store: &Store, url: &str, env: &[(&str, String)]) {
    fill(store, h).await;
    let p = |name: &str| {
        if store.prefix().is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", store.prefix())
        }
    };
    // Not ours: left alone whatever the policy.
    let foreign = [p("README.txt"), p("full/notes.txt"), p("delta/old.seg")];
    for f in &foreign {
        store.put(f, b"someone else's".to_vec()).await.expect("put");
    }
    // The oldest segment, damaged: it is due for deletion, but a corrupt object stays.
    let first_seg = store.contents().await.unwrap().deltas[0].1.object.clone();
    let mut bytes = store.get(&first_seg, 1 << 26).await.unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    store.put(&first_seg, bytes).await.unwrap();

    let work = h.dir.path().to_str().unwrap();
    let before = names(store).await;
    let (code, dry) = json(
        &["prune", "--keep-last", "2", "--dry-run", "--work-dir", work],
        url,
        env,
    );
    assert_eq!(
        code, 1,
        "foreign and corrupt objects make a warning: {dry:#}"
    );
    assert_eq!(names(store).await, before, "a dry run deletes nothing");
    let (r0, r1) = (rev(&h.fulls[0].1), rev(&h.fulls[1].1));
    assert_eq!(dry["newest_verified"], rev(&h.fulls[2].1));
    assert_eq!(dry["window"]["from_revision"], r1);
    assert_eq!(dry["window"]["to_revision"], h.end);
    let doomed = objects(&dry, "delete");
    // The oldest full's manifest first, then its object, then segments before the window.
    assert!(doomed[0].ends_with(".db.json"), "{doomed:?}");
    assert!(doomed[0].contains(&format!("{r0:020}-")), "{doomed:?}");
    assert!(doomed[1].ends_with(".db") && doomed[1].contains(&format!("{r0:020}-")));
    assert!(
        doomed[2..]
            .iter()
            .all(|o| o.contains("/delta/") || o.starts_with("delta/"))
    );
    assert!(!doomed.contains(&first_seg), "the corrupt segment is kept");
    assert!(objects(&dry, "corrupt").contains(&first_seg), "{dry:#}");
    let reported: Vec<String> = objects(&dry, "foreign");
    for f in &foreign {
        assert!(reported.contains(f), "{f} reported as foreign: {dry:#}");
    }
    // The table shows the same objects.
    let table = backup_cmd(
        &["prune", "--keep-last", "2", "--dry-run", "--work-dir", work],
        url,
        env,
    );
    let text = String::from_utf8_lossy(&table.stdout);
    for o in doomed.iter().chain(&objects(&dry, "keep")) {
        assert!(
            text.contains(o.as_str()),
            "{o} missing from the table:\n{text}"
        );
    }
    assert!(
        text.contains("would delete") && text.contains("CORRUPT, kept"),
        "{text}"
    );

    // Not on a terminal and no --yes: refused, nothing deleted.
    let refused = backup_cmd(&["prune", "--keep-last", "2", "--work-dir", work], url, env);
    assert_eq!(refused.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--yes"));
    assert_eq!(names(store).await, before);

    let (code, done) = json(
        &["prune", "--keep-last", "2", "--yes", "--work-dir", work],
        url,
        env,
    );
    assert_eq!(code, 1, "{done:#}");
    assert_eq!(
        objects(&done, "delete").len(),
        done["deleted"].as_array().unwrap().len()
    );
    let after = names(store).await;
    for o in &doomed {
        assert!(!after.contains(o), "{o} deleted");
    }
    for f in foreign.iter().chain([&first_seg]) {
        assert!(after.contains(f), "{f} survives");
    }
    assert_eq!(before.len() - doomed.len(), after.len());

    // Every point of the window restores; before it, the error names the oldest full.
    let (code, latest) = restore(h, url, env, &["--latest"], "latest.db");
    assert_eq!(code, 0);
    assert_eq!(key_bucket(&latest), key_bucket(&h.live));
    for (i, target) in [r1, r1 + 1, (r1 + h.end) / 2, h.end - 1]
        .into_iter()
        .enumerate()
    {
        let t = target.to_string();
        let (code, file) = restore(h, url, env, &["--to-revision", &t], &format!("at{i}.db"));
        assert_eq!(code, 0, "revision {target}");
        assert_eq!(
            key_bucket(&file),
            key_bucket_upto(&h.live, target),
            "revision {target}"
        );
    }
    let t = (r1 - 1).to_string();
    let (code, _) = restore(h, url, env, &["--to-revision", &t], "before.db");
    assert_eq!(code, 3, "revision {} is before the window", r1 - 1);

    // Pruning again finds nothing more to delete.
    let (_, again) = json(
        &["prune", "--keep-last", "2", "--yes", "--work-dir", work],
        url,
        env,
    );
    assert_eq!(again["delete"].as_array().unwrap().len(), 0, "{again:#}");
}

fn file_url(dir: &Path) -> String {
    format!("file://{}", dir.display())
}

#[tokio::test]
async fn file_store_prune_keeps_the_window_and_foreign_objects() {
    let h = history().await;
    let root = h.dir.path().join("store");
    std::fs::create_dir(&root).unwrap();
    let url = file_url(&root);
    let store = Store::open(&url).unwrap();
    prune_keeps_the_window(&h, &store, &url, &[]).await;
}

#[tokio::test]
async fn s3_store_prune_keeps_the_window_and_foreign_objects() {
    let (_moto, port) = start_moto("prune");
    let env = moto_env(port);
    for (k, v) in &env {
        // SAFETY: set before any thread of this test reads the environment for S3.
        unsafe { std::env::set_var(k, v) };
    }
    let h = history().await;
    let url = "s3://prune/cluster-a".to_string();
    let store = Store::open(&url).unwrap();
    prune_keeps_the_window(&h, &store, &url, &env).await;
}

/// A corrupt newest full is kept and reported; the newest full that verifies is the one
/// never deleted. With no full that verifies at all, nothing is deleted and the reason said.
#[tokio::test]
async fn corrupt_fulls_are_kept_and_no_verified_full_deletes_nothing() {
    let h = history().await;
    let root = h.dir.path().join("store");
    std::fs::create_dir(&root).unwrap();
    let url = file_url(&root);
    let store = Store::open(&url).unwrap();
    fill(&store, &h).await;
    let contents = store.contents().await.unwrap();
    let flip = |object: &str| {
        let path = root.join(object);
        let mut bytes = std::fs::read(&path).unwrap();
        let at = bytes.len() - 100;
        bytes[at] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
    };
    let newest = contents.fulls[2].1.object.clone();
    flip(&newest);
    let work = h.dir.path().to_str().unwrap();
    let (code, out) = json(
        &["prune", "--keep-last", "1", "--yes", "--work-dir", work],
        &url,
        &[],
    );
    assert_eq!(code, 1, "{out:#}");
    assert_eq!(out["newest_verified"], rev(&h.fulls[1].1));
    assert!(objects(&out, "corrupt").contains(&newest), "{out:#}");
    let after = names(&store).await;
    assert!(after.contains(&newest), "the corrupt full survives");
    assert!(
        after.contains(&contents.fulls[1].1.object),
        "the newest verified full stays"
    );
    assert!(
        !after.contains(&contents.fulls[0].1.object),
        "the oldest went"
    );

    flip(&contents.fulls[1].1.object);
    let before = names(&store).await;
    let (code, out) = json(
        &["prune", "--keep-last", "1", "--yes", "--work-dir", work],
        &url,
        &[],
    );
    assert_eq!(code, 3, "{out:#}");
    assert!(
        out["blocked"]
            .as_str()
            .unwrap()
            .contains("no full in the store verifies"),
        "{out:#}"
    );
    assert_eq!(names(&store).await, before, "nothing deleted");
}
