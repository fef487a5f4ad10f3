//! The real etcd 3.4.23 snapshot fixture, read through the public API.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

use std::fs::File;
use std::ops::ControlFlow;
use std::path::PathBuf;

use bolt::{BucketRef, Db, Error, NO_FREELIST};

fn fixture() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/etcd-3.4.23/snapshot.db"
    ))
}

fn bytes() -> Vec<u8> {
    std::fs::read(fixture()).expect("fixture snapshot.db")
}

/// The bbolt region of the snapshot (without the 32-byte SHA-256 trailer).
fn region() -> Vec<u8> {
    let mut b = bytes();
    b.truncate(24_576);
    b
}

fn open_region() -> Db {
    let f = File::open(fixture()).expect("open");
    Db::open_file(f, 24_576).expect("valid bbolt")
}

#[test]
fn meta_pages_match_the_fixture_readme() {
    let db = open_region();
    let m = db.meta();
    assert_eq!(db.page_size(), 4096);
    assert_eq!(db.meta_index(), 0);
    assert_eq!(
        (m.txid, m.root, m.freelist, m.pgid),
        (18, 5, NO_FREELIST, 6)
    );
    assert_eq!(m.checksum, 0xa51bb5a175cccf32);
    let m1 = db.metas()[1].expect("meta 1 valid");
    assert_eq!(m1.txid, 17);
    assert_eq!(db.size(), 24_576);
}

#[test]
fn walk_sees_every_bucket_in_order_and_the_check_passes() {
    let db = open_region();
    let mut names = Vec::new();
    let mut total = 0;
    let report = db.walk(10, &mut |e| {
        if e.path.is_empty() {
            assert!(e.is_bucket);
            names.push(String::from_utf8_lossy(e.key).into_owned());
        } else {
            total += 1;
        }
        ControlFlow::Continue(())
    });
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(
        names,
        [
            "alarm",
            "auth",
            "authRoles",
            "authUsers",
            "cluster",
            "key",
            "lease",
            "members",
            "members_removed",
            "meta"
        ]
    );
    assert_eq!(total, 42);
    // Pages 2 and 4 are stale freed leaves: unreachable, never read as data.
    assert_eq!(report.stats.free_pages, 2);
    assert_eq!(report.stats.inline_buckets, 9);
    assert!(db.check().problems.is_empty());
}

#[test]
fn point_lookups_find_meta_values_and_the_key_bucket() {
    let db = open_region();
    let meta = db.bucket(b"meta").expect("lookup").expect("meta bucket");
    assert!(meta.is_inline());
    let ci = meta
        .get(&db, b"consistent_index")
        .expect("lookup")
        .expect("present");
    assert_eq!(ci, 45u64.to_be_bytes());
    assert_eq!(db.bucket(b"key").expect("lookup"), Some(BucketRef::Page(3)));
    assert_eq!(db.bucket(b"nope").expect("lookup"), None);
    let key = BucketRef::Page(3);
    let mut rev2 = vec![0, 0, 0, 0, 0, 0, 0, 2, b'_'];
    rev2.extend_from_slice(&[0; 8]);
    assert!(key.get(&db, &rev2).expect("lookup").is_some());
    let (last, _) = db.last(&key).expect("lookup").expect("non-empty");
    assert_eq!(&last[..8], &37u64.to_be_bytes());
    assert_eq!(
        db.last(&db.bucket(b"alarm").expect("ok").expect("present"))
            .expect("ok"),
        None
    );
}

#[test]
fn file_with_trailer_opens_as_whole_file_too() {
    // bbolt ignores bytes past the high-water mark, so the trailer does not matter here.
    let db = Db::open(&fixture()).expect("open");
    assert!(db.check().problems.is_empty());
}

#[test]
fn big_endian_and_garbage_are_refused_clearly() {
    let mut b = region();
    for off in [16usize, 4096 + 16] {
        b[off..off + 4].reverse();
    }
    assert!(matches!(
        Db::from_source(Box::new(b)),
        Err(Error::BigEndian)
    ));
    assert!(matches!(
        Db::from_source(Box::new(vec![0u8; 8192])),
        Err(Error::NotBolt { .. })
    ));
    assert!(matches!(
        Db::from_source(Box::new(Vec::new())),
        Err(Error::NotBolt { .. })
    ));
}

#[test]
fn damaged_meta_zero_falls_back_to_meta_one() {
    let mut b = region();
    b[70] ^= 0xff;
    let db = Db::from_source(Box::new(b)).expect("meta 1 still valid");
    assert_eq!(db.meta_index(), 1);
    assert_eq!(db.meta().txid, 17);
    assert!(db.metas()[0].is_err());
}

#[test]
fn truncation_at_every_page_boundary_is_caught() {
    let full = region();
    for pages in 0..6 {
        let cut = full[..pages * 4096].to_vec();
        assert!(
            Db::from_source(Box::new(cut)).is_err(),
            "{pages} pages opened"
        );
    }
}

#[test]
fn flipped_header_byte_in_a_reachable_page_is_caught() {
    let full = region();
    // Pages 3 (key bucket leaf) and 5 (root leaf) are reachable; every header byte matters.
    for page in [3usize, 5] {
        // Two flips leave a valid tree that bbolt's check cannot see either (the snapshot's
        // SHA-256 does): offset 10, the count's low byte (33 -> 32 drops an element), and
        // offset 12 of page 3, overflow 0 -> 1 swallowing the free page 4.
        for off in (0..16).filter(|&o| o != 10 && !(page == 3 && o == 12)) {
            let mut b = full.clone();
            b[page * 4096 + off] ^= 0x01;
            let bad = match Db::from_source(Box::new(b)) {
                Err(_) => true,
                Ok(db) => !db.check().problems.is_empty(),
            };
            assert!(bad, "flip at page {page} offset {off} went unnoticed");
        }
    }
}
