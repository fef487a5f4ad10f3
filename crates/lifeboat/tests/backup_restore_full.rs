//! `backup restore` reads the full once: from a `file://` store it hard-links the object and
//! checks the manifest's SHA-256 and etcd's trailer in one pass. The store's file is left as
//! it was, and a full that is corrupt in the store is still refused, whether the manifest or
//! only the trailer gives it away.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod backup_common;
mod common;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use backup::publish::{self, FullInfo};
use backup::remote::Store;
use backup::restore::{self, Target};
use backup_common::{key_bucket, save, writes};
use testkit::TestCluster;

const TAKEN_MS: i64 = 1_800_000_000_000;

/// A store holding one full of a real etcd; returns the store, the full's object file, its
/// manifest's file and the saved snapshot.
async fn store_with_a_full(dir: &Path) -> (Store, PathBuf, PathBuf, PathBuf) {
    let tc = TestCluster::plain(1).await;
    let mut c = tc.any_client().await.expect("client");
    writes(&mut c, 0).await.expect("writes");
    let full = dir.join("full.db");
    let revision = save(&tc, &full);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("full.db.json")).expect("json"))
            .expect("manifest");
    let hex = |v: &serde_json::Value| u64::from_str_radix(v.as_str().expect("hex"), 16).unwrap();
    let (snapshot_size, snapshot_sha256) = publish::describe_file(&full).expect("hash");
    let root = dir.join("store");
    std::fs::create_dir(&root).expect("mkdir");
    let store = Store::open(&format!("file://{}", root.display())).expect("store");
    let info = FullInfo {
        revision,
        cluster_id: hex(&manifest["cluster_id"]),
        member_id: hex(&manifest["source_member_id"]),
        taken_ms: TAKEN_MS,
        encrypted_to: Vec::new(),
        snapshot_size,
        snapshot_sha256,
    };
    let (name, _) = publish::upload_full(&store, &full, &info)
        .await
        .expect("uploaded");
    let object = root.join(name.object(""));
    let manifest = root.join(name.manifest_object(""));
    (store, object, manifest, full)
}

fn sha(path: &Path) -> String {
    publish::describe_file(path).expect("hash").1
}

#[tokio::test]
async fn a_full_is_read_in_place_and_refused_when_corrupt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, object, manifest, full) = store_with_a_full(dir.path()).await;
    let before = sha(&object);

    let out = dir.path().join("restored.db");
    let report = restore::restore(&store, Target::Latest, &out, None)
        .await
        .expect("restores");
    assert_eq!(report.events, 0);
    assert_eq!(key_bucket(&out), key_bucket(&full));
    let meta = std::fs::metadata(&object).expect("object");
    assert_eq!(meta.nlink(), 1, "the restore's link to the object is gone");
    assert_eq!(sha(&object), before, "the store's file is untouched");

    // One flipped byte of the image: the manifest's SHA-256 no longer matches.
    let original = std::fs::read(&object).expect("read");
    let mut bad = original.clone();
    bad[original.len() / 2] ^= 0x10;
    std::fs::write(&object, &bad).expect("write");
    let out = dir.path().join("bad.db");
    let err = restore::restore(&store, Target::Latest, &out, None)
        .await
        .expect_err("a corrupt full is refused");
    assert!(err.to_string().contains("corrupt"), "{err}");
    assert!(!out.exists());

    // The same damage with a manifest written for it (the full was corrupt before it was
    // uploaded): etcd's trailer still gives it away.
    let mut m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest).expect("manifest")).expect("json");
    m["object_sha256"] = serde_json::Value::String(sha(&object));
    std::fs::write(&manifest, serde_json::to_vec(&m).expect("json")).expect("write");
    let err = restore::restore(&store, Target::Latest, &out, None)
        .await
        .expect_err("a full whose image does not match its trailer is refused");
    assert!(err.to_string().contains("trailer"), "{err}");
    assert!(!out.exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".lifeboat-restore-")
        })
        .collect();
    assert!(leftovers.is_empty(), "work directories left: {leftovers:?}");
}

/// From a `file://` store the full's digest runs beside the replay: a full whose damage the
/// replay cannot see (a byte of a value: pages, protobuf and `snapshot verify` all still
/// pass) is refused by that digest before OUT appears, and nothing written is left behind.
#[tokio::test]
async fn a_full_damaged_where_the_replay_cannot_see_it_never_appears() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, object, _, _) = store_with_a_full(dir.path()).await;
    let mut bytes = std::fs::read(&object).expect("read");
    let value = b"with lease";
    let at = bytes
        .windows(value.len())
        .position(|w| w == value)
        .expect("the leased key's value is in the full");
    bytes[at] = b'W';
    std::fs::write(&object, &bytes).expect("write");

    let out = dir.path().join("restored.db");
    let err = restore::restore(&store, Target::Latest, &out, None)
        .await
        .expect_err("a full that does not match its manifest is refused");
    assert!(err.to_string().contains("the manifest says"), "{err}");
    for leftover in ["restored.db", "restored.db.part", "restored.db.unsound"] {
        assert!(!dir.path().join(leftover).exists(), "{leftover} is left");
    }
}
