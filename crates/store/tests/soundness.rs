//! `verify` proves the exact length of a snapshot, and `restore` refuses exactly what
//! `verify` calls unsound: garbage appended, the trailer stripped with the manifest beside
//! it, zero padding (a sparse 20 GiB file), truncation, flipped bytes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod common;

use std::path::{Path, PathBuf};

use store::report::{Hash, inspect, inspect_hashing, verify};
use store::restore::{self, Bump, Request, Target};
use store::snapshot::ShaStatus;

const IMAGE: usize = 24_576;

fn fixture() -> Vec<u8> {
    std::fs::read(common::snapshot()).expect("fixture")
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write");
    p
}

/// The manifest `snapshot save` writes beside FILE (only the fields that name the file).
fn manifest_for(file: &Path, size: u64, sha256: &str) {
    let mut name = file.as_os_str().to_owned();
    name.push(".json");
    let json = serde_json::json!({
        "file": file.file_name().map(|n| n.to_string_lossy().into_owned()),
        "size": size,
        "sha256": sha256,
        "revision": 37,
        "lifeboat_version": "0.1.0",
    });
    std::fs::write(PathBuf::from(name), json.to_string()).expect("manifest");
}

const FIXTURE_SHA: &str = "77f2e0d99c275b35528c1eddc580c58679046e04425cd5b53169d4a5979e3d70";

/// Every mutated file, by name. The sparse one is 20 GiB long and takes no space.
fn mutants(dir: &Path) -> Vec<(String, PathBuf)> {
    let b = fixture();
    let mut out = Vec::new();
    let mut add = |name: &str, bytes: Vec<u8>| {
        out.push((name.to_string(), write(dir, name, &bytes)));
    };
    for n in [1usize, 100, 480, 512, 4096] {
        let mut g = b.clone();
        g.extend(std::iter::repeat_n(0x5a, n));
        add(&format!("garbage-{n}"), g);
        // Garbage between the image and its trailer.
        let mut m = b[..IMAGE].to_vec();
        m.extend(std::iter::repeat_n(0x5a, n));
        m.extend_from_slice(&b[IMAGE..]);
        add(&format!("inner-garbage-{n}"), m);
    }
    // The image alone, its trailer cut off, with zeros after it: a zero page is what bbolt
    // preallocates in a member's db (sound); more than its 16 MiB step, or a tail that is not
    // zero, is not.
    let mut raw_padded = b[..IMAGE].to_vec();
    raw_padded.extend(std::iter::repeat_n(0, 4096));
    add("raw-zero-page", raw_padded);
    let mut raw_over = b[..IMAGE].to_vec();
    raw_over.extend(std::iter::repeat_n(0, (16 << 20) + 8192));
    add("raw-zero-tail-past-alloc-size", raw_over);
    let mut raw_dirty = b[..IMAGE].to_vec();
    raw_dirty.extend(std::iter::repeat_n(0, 4096));
    raw_dirty[IMAGE + 100] = 1;
    add("raw-garbage-page", raw_dirty);
    add("stripped-with-manifest", b[..IMAGE].to_vec());
    manifest_for(
        &dir.join("stripped-with-manifest"),
        b.len() as u64,
        FIXTURE_SHA,
    );
    add("truncated", b[..IMAGE - 4096].to_vec());
    let mut flip = b.clone();
    flip[3 * 4096 + 700] ^= 1;
    add("flipped", flip);
    add("intact", b.clone());
    add("raw-copy", b[..IMAGE].to_vec());
    let sparse = dir.join("sparse-20g");
    std::fs::write(&sparse, &b).expect("write");
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&sparse)
        .expect("open");
    f.set_len(20 << 30).expect("sparse file");
    out.push(("sparse-20g".into(), sparse));
    out
}

fn restores(dir: &Path, name: &str, file: &Path, skip_hash_check: bool) -> bool {
    let c = restore::parse("a=http://127.0.0.1:24801", "t").expect("cluster");
    let t = [Target {
        name: "a".into(),
        data_dir: dir.join(format!("out-{name}-{skip_hash_check}")),
    }];
    restore::restore(&Request {
        snapshot: file,
        cluster: &c,
        targets: &t,
        skip_hash_check,
        bump: Bump::Off,
        move_aside: None,
        identities: None,
        etcd_version: Some(store::restore::EtcdVersion::new(3, 4)),
    })
    .is_ok()
}

#[test]
fn verify_and_restore_agree_on_every_mutated_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut sound = Vec::new();
    for (name, file) in mutants(dir.path()) {
        let report = verify(&file);
        let is_sound = report.as_ref().is_ok_and(|r| r.sound);
        // A raw db copy has no trailer: restore wants --skip-hash-check for it, as etcdctl.
        let raw = report
            .as_ref()
            .is_ok_and(|r| matches!(r.sha256, Some(ShaStatus::Absent { .. })));
        assert_eq!(
            is_sound,
            restores(dir.path(), &name, &file, raw),
            "{name}: verify says sound={is_sound} ({report:?}), restore disagrees"
        );
        // Skipping the hash check never lets a file of the wrong length through.
        if !is_sound && name != "flipped" && name != "stripped-with-manifest" {
            assert!(
                !restores(dir.path(), &name, &file, true),
                "{name}: restore --skip-hash-check took it"
            );
        }
        if is_sound {
            sound.push(name);
        }
    }
    assert_eq!(sound, ["raw-zero-page", "intact", "raw-copy"]);
}

/// etcd 3.5 and later leave `member/snap/db` longer than its image: bbolt grows the file ahead
/// of its data by up to 16 MiB of zeros. Such a raw copy is sound, and restores.
#[test]
fn a_member_db_with_bbolts_preallocated_zeros_is_sound() {
    let dir = tempfile::tempdir().expect("tmp");
    for (name, file) in mutants(dir.path()) {
        if name != "raw-zero-page" {
            continue;
        }
        let r = verify(&file).expect("readable");
        assert!(r.sound, "{name}: {:?}", r.checks);
        assert!(
            restores(dir.path(), &name, &file, true),
            "{name} did not restore"
        );
    }
}

#[test]
fn appended_garbage_and_padding_are_named_in_the_length_check() {
    let dir = tempfile::tempdir().expect("tmp");
    for (name, file) in mutants(dir.path()) {
        if !(name.contains("garbage") || name.contains("sparse") || name.contains("past-alloc")) {
            continue;
        }
        let r = verify(&file).expect("readable");
        assert!(!r.sound, "{name} passed: {:?}", r.checks);
        let length = r
            .checks
            .iter()
            .find(|c| c.name == "length")
            .expect("length");
        assert!(!length.ok, "{name}: {length:?}");
        assert!(length.detail.contains("ends at byte 24576"), "{length:?}");
    }
}

#[test]
fn a_stripped_trailer_is_unsound_when_the_manifest_says_it_had_one() {
    let dir = tempfile::tempdir().expect("tmp");
    let b = fixture();
    let f = write(dir.path(), "s.db", &b[..IMAGE]);
    assert!(
        verify(&f).expect("verify").sound,
        "a raw copy alone is sound"
    );
    manifest_for(&f, b.len() as u64, FIXTURE_SHA);
    let r = verify(&f).expect("verify");
    assert!(!r.sound);
    let m = r
        .checks
        .iter()
        .find(|c| c.name == "manifest")
        .expect("manifest");
    assert!(!m.ok && m.detail.contains("trailer"), "{m:?}");

    // The manifest of another file beside an intact one: named, unsound.
    let g = write(dir.path(), "g.db", &b);
    manifest_for(&g, b.len() as u64, &"0".repeat(64));
    let r = verify(&g).expect("verify");
    assert!(!r.sound, "{:?}", r.checks);
    // And the manifest that matches: sound.
    manifest_for(&g, b.len() as u64, FIXTURE_SHA);
    assert!(verify(&g).expect("verify").sound);
}

#[test]
fn a_backup_stores_full_manifest_beside_the_file_is_not_read_as_a_save_manifest() {
    // A full restored straight from a file:// store has the store's manifest beside it.
    let dir = tempfile::tempdir().expect("tmp");
    let b = fixture();
    let f = write(dir.path(), "full.db", &b);
    let json = serde_json::json!({
        "format": 1,
        "revision": 7,
        "object_size": b.len(),
        "object_sha256": "0".repeat(64),
        "snapshot_size": b.len(),
        "snapshot_sha256": "0".repeat(64),
        "lifeboat_version": "0.1.0",
    });
    std::fs::write(dir.path().join("full.db.json"), json.to_string()).expect("manifest");
    let r = verify(&f).expect("verify");
    assert!(r.sound, "{:?}", r.checks);
    assert!(
        r.checks.iter().all(|c| c.name != "manifest"),
        "{:?}",
        r.checks
    );
}

#[test]
fn inspect_says_unsound_when_it_shows_a_failed_check() {
    let dir = tempfile::tempdir().expect("tmp");
    assert!(inspect(&common::snapshot()).expect("inspect").sound);
    let mut b = fixture();
    b[24_600] ^= 1;
    let r = inspect(&write(dir.path(), "t.db", &b)).expect("inspect");
    assert!(matches!(r.sha256, ShaStatus::Mismatch { .. }));
    assert!(!r.sound);
    let mut g = fixture();
    g.extend_from_slice(b"appended");
    let r = inspect(&write(dir.path(), "g.db", &g)).expect("inspect");
    assert!(
        !r.sound && r.problems.iter().any(|p| p.contains("appended")),
        "{:?}",
        r.problems
    );
}

/// Without hashing (what `snapshot inspect` does unless asked) the report names the trailer
/// as not checked, with the command that checks it, and its numbers are those of the full
/// inspect; a raw db copy has no trailer to check.
#[test]
fn inspect_without_hashing_says_the_trailer_was_not_checked() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut b = fixture();
    b[24_600] ^= 1;
    let t = write(dir.path(), "t.db", &b);
    let quick = inspect_hashing(&t, None, Hash::Skip).expect("inspect");
    match &quick.sha256 {
        ShaStatus::NotChecked { trailer, next_step } => {
            assert_eq!(*trailer, hex::encode(&b[IMAGE..]));
            assert!(
                next_step.contains("lifeboat snapshot verify"),
                "{next_step}"
            );
        }
        other => panic!("expected not_checked, got {other:?}"),
    }
    assert!(quick.sound, "nothing it checked failed");
    let full = inspect_hashing(&t, None, Hash::Check).expect("inspect");
    assert!(matches!(full.sha256, ShaStatus::Mismatch { .. }) && !full.sound);
    assert_eq!(
        (quick.hash, quick.revision, quick.total_key, quick.live_keys),
        (full.hash, full.revision, full.total_key, full.live_keys)
    );
    let raw = write(dir.path(), "raw.db", &fixture()[..IMAGE]);
    let r = inspect_hashing(&raw, None, Hash::Skip).expect("inspect");
    assert_eq!(r.sha256, ShaStatus::Absent { sha256: None });
    assert!(r.sound);
}

#[test]
fn a_fifo_is_refused_without_blocking() {
    let dir = tempfile::tempdir().expect("tmp");
    let fifo = dir.path().join("fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|s| s.success()) {
        return;
    }
    let e = verify(&fifo)
        .expect_err("a FIFO is no snapshot")
        .to_string();
    assert!(e.contains("FIFO"), "{e}");
    let e = verify(Path::new("/dev/zero"))
        .expect_err("a device")
        .to_string();
    assert!(e.contains("character device"), "{e}");
}

#[test]
fn json_beside_the_file_that_is_not_a_manifest_is_not_judged() {
    let dir = tempfile::tempdir().expect("tmp");
    let f = write(dir.path(), "s.db", &fixture());
    std::fs::write(
        dir.path().join("s.db.json"),
        br#"{"note": "someone else's"}"#,
    )
    .expect("w");
    let r = verify(&f).expect("verify");
    assert!(r.sound, "{:?}", r.checks);
    assert!(r.checks.iter().all(|c| c.name != "manifest"));
    // A cut manifest of ours cannot vouch for the file: said.
    std::fs::write(
        dir.path().join("s.db.json"),
        br#"{"lifeboat_version": "0.1"#,
    )
    .expect("w");
    let r = verify(&f).expect("verify");
    assert!(!r.sound);
}

#[test]
fn every_real_member_db_of_the_fixtures_is_exactly_its_image() {
    // Raw member/snap/db files of stopped etcd 3.4.23 members: the length rule must not
    // call a real db unsound.
    for (tarball, dirs) in [
        ("datadir-m1-3.4.23.tar.gz", &["d1"][..]),
        ("cluster3-stopped-3.4.23.tar.gz", &["c1", "c2", "c3"]),
        ("c2-after-force-new-cluster-3.4.23.tar.gz", &["c2f"]),
        ("restored-a-b-3.4.23.tar.gz", &["restored-a", "restored-b"]),
    ] {
        let t = common::extract(tarball);
        for d in dirs {
            let db = t.path().join(d).join("member/snap/db");
            let r = verify(&db).expect("verify");
            assert!(r.sound, "{d}: {:?}", r.checks);
            assert!(matches!(r.sha256, Some(ShaStatus::Absent { .. })));
        }
    }
}
