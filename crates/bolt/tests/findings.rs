//! Freelist, meta-twin and past-the-mark findings: the data stays readable (no problem,
//! every entry walked) and each finding is a warning of its own kind. Crafted from the
//! real etcd 3.4.23 snapshot (pages: 0-1 meta, 2 and 4 stale freed leaves, 3 the `key`
//! bucket leaf, 5 the root leaf).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

use std::ops::ControlFlow;

use bolt::{Db, NO_FREELIST, Warning};

const PS: usize = 4096;

fn region() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/etcd-3.4.23/snapshot.db"
    );
    let mut b = std::fs::read(path).expect("fixture snapshot.db");
    b.truncate(6 * PS);
    b
}

fn put_u64(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

/// Set a meta field (byte offset within the page: root 32, freelist 48, pgid 56, txid 64)
/// and re-sign the page, as bbolt would have written it.
fn set_meta(b: &mut [u8], meta: usize, field: usize, v: u64) {
    let base = meta * PS;
    put_u64(b, base + field, v);
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &x in &b[base + 16..base + 72] {
        h ^= u64::from(x);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    put_u64(b, base + 72, h);
}

const ROOT: usize = 32;
const FREELIST: usize = 48;
const TXID: usize = 64;

/// A freelist page at `page` listing `ids`.
fn write_freelist(b: &mut [u8], page: usize, ids: &[u64]) {
    let base = page * PS;
    b[base..base + PS].fill(0);
    put_u64(b, base, page as u64);
    b[base + 8..base + 10].copy_from_slice(&0x10u16.to_le_bytes());
    b[base + 10..base + 12].copy_from_slice(&(ids.len() as u16).to_le_bytes());
    for (i, id) in ids.iter().enumerate() {
        put_u64(b, base + 16 + i * 8, *id);
    }
}

struct Seen {
    sound: bool,
    entries: u64,
    warnings: Vec<Warning>,
}

fn check(bytes: Vec<u8>) -> Seen {
    let db = Db::from_source(Box::new(bytes)).expect("opens");
    let mut entries = 0;
    let r = db.walk(100, &mut |_| {
        entries += 1;
        ControlFlow::Continue(())
    });
    Seen {
        sound: r.problems.is_empty(),
        entries,
        warnings: r.warnings,
    }
}

/// Every entry of the fixture (10 buckets + 42 k/v).
const ALL: u64 = 52;

fn kinds(w: &[Warning]) -> Vec<&'static str> {
    w.iter().map(Warning::kind).collect()
}

#[test]
fn untouched_fixture_has_no_findings() {
    let s = check(region());
    assert!(s.sound);
    assert_eq!(s.entries, ALL);
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
}

#[test]
fn freelist_page_overwritten_by_a_live_leaf_is_a_warning() {
    let mut b = region();
    for m in 0..2 {
        set_meta(&mut b, m, FREELIST, 3);
    }
    let s = check(b);
    assert!(s.sound);
    assert_eq!(s.entries, ALL);
    assert_eq!(kinds(&s.warnings), ["freelist_unreadable"]);
    assert!(
        s.warnings[0].to_string().contains("flags 0x0002"),
        "{}",
        s.warnings[0]
    );
}

#[test]
fn freelist_page_overwritten_by_a_stale_leaf_is_a_warning() {
    let mut b = region();
    for m in 0..2 {
        set_meta(&mut b, m, FREELIST, 2);
    }
    let s = check(b);
    assert!(s.sound);
    assert_eq!(s.entries, ALL);
    assert!(matches!(
        s.warnings.as_slice(),
        [Warning::FreelistUnreadable { page: 2, .. }]
    ));
}

#[test]
fn freelist_outside_the_file_or_on_a_meta_page_is_a_warning() {
    for page in [0u64, 1, 6, 1 << 40] {
        let mut b = region();
        set_meta(&mut b, 0, FREELIST, page);
        let s = check(b);
        assert!(s.sound, "freelist {page}");
        assert_eq!(s.entries, ALL);
        assert_eq!(kinds(&s.warnings), ["freelist_unreadable"], "page {page}");
    }
}

#[test]
fn a_freelist_that_matches_the_tree_is_no_finding() {
    let mut b = region();
    write_freelist(&mut b, 2, &[4]);
    set_meta(&mut b, 0, FREELIST, 2);
    let s = check(b);
    assert!(s.sound);
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
}

#[test]
fn garbled_freelist_is_a_stale_warning_with_counts() {
    let mut b = region();
    // 3 is the key bucket (reachable), 4 listed twice, 9 past the mark; nothing unsound.
    write_freelist(&mut b, 2, &[3, 4, 4, 9]);
    set_meta(&mut b, 0, FREELIST, 2);
    let s = check(b);
    assert!(s.sound);
    assert_eq!(s.entries, ALL);
    let [Warning::FreelistStale { page: 2, what }] = s.warnings.as_slice() else {
        panic!("{:?}", s.warnings);
    };
    for part in [
        "1 reachable page(s) listed as free",
        "1 page id(s) listed twice",
        "1 page id(s) outside",
        "first: page 3",
    ] {
        assert!(what.contains(part), "{what}");
    }
}

#[test]
fn freelist_missing_a_free_page_is_stale() {
    let mut b = region();
    write_freelist(&mut b, 2, &[]);
    set_meta(&mut b, 0, FREELIST, 2);
    let s = check(b);
    assert!(s.sound);
    assert!(
        matches!(s.warnings.as_slice(), [Warning::FreelistStale { what, .. }] if what.contains("1 unreachable page(s) not listed")),
        "{:?}",
        s.warnings
    );
}

#[test]
fn freelist_count_past_its_page_is_unreadable() {
    let mut b = region();
    write_freelist(&mut b, 2, &[]);
    b[2 * PS + 10..2 * PS + 12].copy_from_slice(&0xFFFFu16.to_le_bytes());
    put_u64(&mut b, 2 * PS + 16, u64::MAX);
    set_meta(&mut b, 0, FREELIST, 2);
    let s = check(b);
    assert!(s.sound);
    assert_eq!(kinds(&s.warnings), ["freelist_unreadable"]);
}

#[test]
fn non_consecutive_meta_txids_are_a_warning() {
    let mut b = region();
    set_meta(&mut b, 1, TXID, 5);
    let s = check(b);
    assert!(s.sound);
    assert_eq!(s.entries, ALL);
    assert_eq!(kinds(&s.warnings), ["meta_twins"]);
    assert!(s.warnings[0].to_string().contains("not consecutive"));
}

#[test]
fn damaged_spare_meta_is_a_warning() {
    let mut b = region();
    b[PS + 70] ^= 0xff;
    let db = Db::from_source(Box::new(b.clone())).expect("meta 0 valid");
    assert_eq!(kinds(db.meta_warnings()), ["meta_twins"]);
    let s = check(b);
    assert!(s.sound);
    assert_eq!(kinds(&s.warnings), ["meta_twins"]);
}

#[test]
fn unusable_newer_meta_falls_back_to_its_twin_with_a_warning() {
    let mut b = region();
    // Meta 0 (txid 18) names a root past its high-water mark; meta 1 (txid 17) is whole.
    set_meta(&mut b, 0, ROOT, 99);
    let db = Db::from_source(Box::new(b.clone())).expect("meta 1 usable");
    assert_eq!(db.meta_index(), 1);
    assert_eq!(db.meta().txid, 17);
    let s = check(b);
    assert!(s.sound);
    assert_eq!(s.entries, ALL);
    assert!(
        s.warnings
            .iter()
            .any(|w| matches!(w, Warning::MetaTwins { what } if what.contains("unusable"))),
        "{:?}",
        s.warnings
    );
}

#[test]
fn both_metas_unusable_is_still_an_error() {
    let mut b = region();
    set_meta(&mut b, 0, ROOT, 99);
    set_meta(&mut b, 1, ROOT, 99);
    assert!(Db::from_source(Box::new(b)).is_err());
}

#[test]
fn pages_written_past_the_mark_are_a_warning_zeros_are_not() {
    let mut grown = region();
    grown.resize(9 * PS, 0);
    let s = check(grown.clone());
    assert!(
        s.warnings.is_empty(),
        "zeros past the mark: {:?}",
        s.warnings
    );

    // A later transaction's leaf at page 7 (a copy of the key bucket leaf, renumbered).
    let leaf = grown[3 * PS..4 * PS].to_vec();
    grown[7 * PS..8 * PS].copy_from_slice(&leaf);
    put_u64(&mut grown, 7 * PS, 7);
    // A stale copy at page 8 that still says page 3 is not counted.
    grown[8 * PS..9 * PS].copy_from_slice(&leaf);
    let s = check(grown);
    assert!(s.sound);
    assert_eq!(s.entries, ALL);
    assert!(
        matches!(
            s.warnings.as_slice(),
            [Warning::PastHighWater {
                hwm: 6,
                pages: 1,
                first: 7,
                txid: 18
            }]
        ),
        "{:?}",
        s.warnings
    );
}

#[test]
fn partial_walks_never_load_the_freelist() {
    let mut b = region();
    set_meta(&mut b, 0, FREELIST, 3);
    let db = Db::from_source(Box::new(b)).expect("opens");
    let key = db.bucket(b"key").expect("lookup").expect("key bucket");
    let mut n = 0;
    db.for_each(&key, &mut |_| {
        n += 1;
        ControlFlow::Continue(())
    })
    .expect("a bucket reads whatever the freelist says");
    assert_eq!(n, 33);
}

/// The state of the Kubernetes db that etcd tools such as auger publish as test data: both
/// metas name the `key` bucket's leaf as their freelist.
fn freelist_leaf_db() -> Db {
    let mut b = region();
    set_meta(&mut b, 0, FREELIST, 3);
    set_meta(&mut b, 1, FREELIST, 3);
    Db::from_source(Box::new(b)).expect("opens")
}

#[test]
fn a_freelist_that_is_a_leaf_reads_every_key_with_a_freelist_warning() {
    let db = freelist_leaf_db();
    assert_ne!(db.meta().freelist, NO_FREELIST);
    let mut keys = 0;
    let r = db.walk(100, &mut |e| {
        if e.path.len() == 1 && e.path[0] == b"key" {
            keys += 1;
        }
        ControlFlow::Continue(())
    });
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert!(
        matches!(
            r.warnings.as_slice(),
            [Warning::FreelistUnreadable { page: 3, what }] if what.contains("flags 0x0002")
        ),
        "{:?}",
        r.warnings
    );
    assert_eq!(keys, 33);
}

#[test]
fn quick_warnings_need_no_walk() {
    assert!(
        freelist_leaf_db()
            .quick_warnings()
            .iter()
            .map(Warning::kind)
            .eq(["freelist_unreadable"])
    );
    let mut b = region();
    b.resize(8 * PS, 0);
    let leaf = b[3 * PS..4 * PS].to_vec();
    b[6 * PS..7 * PS].copy_from_slice(&leaf);
    put_u64(&mut b, 6 * PS, 6);
    set_meta(&mut b, 1, TXID, 3);
    let db = Db::from_source(Box::new(b)).expect("opens");
    assert_eq!(
        kinds(&db.quick_warnings()),
        ["meta_twins", "past_high_water"]
    );
    assert!(
        Db::from_source(Box::new(region()))
            .expect("opens")
            .quick_warnings()
            .is_empty()
    );
}

/// A copy taken while etcd wrote: the meta's root page already reused as a `key` bucket
/// leaf (seen in live copies). bbolt keeps only buckets in the root, so this is unsound.
#[test]
fn root_page_overwritten_by_a_data_leaf_is_unsound() {
    let mut b = region();
    let leaf = b[3 * PS..4 * PS].to_vec();
    b[5 * PS..6 * PS].copy_from_slice(&leaf);
    put_u64(&mut b, 5 * PS, 5);
    let s = check(b.clone());
    assert!(!s.sound);
    let db = Db::from_source(Box::new(b)).expect("opens");
    let err = db.root().child(&db, b"key");
    assert!(err.is_ok(), "a point lookup does not walk the root");
    let mut n = 0;
    let r = db.for_each(&db.root(), &mut |_| {
        n += 1;
        ControlFlow::Continue(())
    });
    assert!(r.is_err(), "listing the root refuses plain values");
}
