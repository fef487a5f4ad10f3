//! `verify` on the snapshot fixture: sound as shipped; truncated at every page boundary or
//! with a byte flipped in any page, unsound.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod common;

use std::path::Path;

use store::report::{inspect, verify};
use store::snapshot::ShaStatus;

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write");
    p
}

#[test]
fn the_fixture_is_sound() {
    let r = verify(&common::snapshot()).expect("verify");
    assert!(r.sound, "{:?}", r.checks);
    assert!(matches!(r.sha256, Some(ShaStatus::Ok { .. })));
}

#[test]
fn raw_db_copy_is_sound_but_says_no_trailer() {
    let dir = tempfile::tempdir().expect("tmp");
    let bytes = std::fs::read(common::snapshot()).expect("read");
    let p = write(dir.path(), "raw.db", &bytes[..24_576]);
    let r = verify(&p).expect("verify");
    assert!(r.sound, "{:?}", r.checks);
    assert!(matches!(r.sha256, Some(ShaStatus::Absent { .. })));
}

#[test]
fn truncated_at_every_page_boundary_is_unsound() {
    let dir = tempfile::tempdir().expect("tmp");
    let bytes = std::fs::read(common::snapshot()).expect("read");
    for pages in 0..6usize {
        // With and without the trailer re-attached: both must fail.
        let cut = &bytes[..pages * 4096];
        let p = write(dir.path(), "cut.db", cut);
        let sound = verify(&p).map(|r| r.sound).unwrap_or(false);
        assert!(!sound, "truncated to {pages} pages passed");
        let mut with_trailer = cut.to_vec();
        with_trailer.extend_from_slice(&bytes[24_576..]);
        let p = write(dir.path(), "cut-trailer.db", &with_trailer);
        let sound = verify(&p).map(|r| r.sound).unwrap_or(false);
        assert!(!sound, "truncated to {pages} pages + trailer passed");
    }
}

#[test]
fn a_flipped_byte_in_every_page_is_unsound() {
    let dir = tempfile::tempdir().expect("tmp");
    let bytes = std::fs::read(common::snapshot()).expect("read");
    for page in 0..6usize {
        for off in (0..4096usize).step_by(97).chain([4095]) {
            let mut b = bytes.clone();
            b[page * 4096 + off] ^= 0x01;
            let p = write(dir.path(), "flip.db", &b);
            let r = verify(&p).expect("readable");
            assert!(!r.sound, "flip at page {page} offset {off} passed");
            let named = r
                .checks
                .iter()
                .filter(|c| !c.ok)
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>();
            assert!(!named.is_empty());
        }
    }
    // The trailer itself.
    let mut b = bytes.clone();
    b[24_600] ^= 0x01;
    let r = verify(&write(dir.path(), "trailer.db", &b)).expect("readable");
    assert!(!r.sound && matches!(r.sha256, Some(ShaStatus::Mismatch { .. })));
}

#[test]
fn inspect_report_has_status_and_extras() {
    let r = inspect(&common::snapshot()).expect("inspect");
    let v = serde_json::to_value(&r).expect("json");
    assert_eq!(v["hash"], 2_275_284_803u32);
    assert_eq!(v["revision"], 37);
    assert_eq!(v["totalKey"], 42);
    assert_eq!(v["totalSize"], 24_576);
    assert_eq!(v["live_keys"], 33);
    assert_eq!(v["consistent_index"], 45);
    assert_eq!(v["compact_revision"], 10);
    assert_eq!(v["sha256"]["status"], "ok");
    assert_eq!(v["members"][0]["name"], "m1");
    assert_eq!(v["page_size"], 4096);
}

#[test]
fn key_listing_never_includes_values() {
    let snap = store::snapshot::SnapshotFile::open(&common::snapshot()).expect("open");
    let db = snap.db().expect("db");
    let keys = store::keys::list(&db, b"/registry/").expect("list");
    assert!(keys.iter().any(|k| k.key == "/registry/namespaces/demo"));
    assert!(keys.iter().all(|k| k.key.starts_with("/registry/")));
    let json = serde_json::to_string(&keys).expect("json");
    assert!(!json.contains("\"value\""));
    let lease = store::keys::list(&db, b"").expect("all");
    assert!(lease.iter().any(|k| k.lease == 0x5245a20090a4900e));
}
