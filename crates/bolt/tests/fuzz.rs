//! Arbitrary and mutated bytes: the reader returns errors, never panics or loops.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

use std::ops::ControlFlow;

use bolt::Db;
use proptest::prelude::*;

fn region() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/etcd-3.4.23/snapshot.db"
    );
    let mut b = std::fs::read(path).expect("fixture snapshot.db");
    b.truncate(24_576);
    b
}

/// Open and walk everything, counting what was seen; the count only proves the walk ran.
fn exercise(bytes: Vec<u8>) -> u64 {
    let Ok(db) = Db::from_source(Box::new(bytes)) else {
        return 0;
    };
    let mut seen = 0u64;
    let report = db.walk(1000, &mut |_| {
        seen += 1;
        ControlFlow::Continue(())
    });
    if let Ok(Some(k)) = db.bucket(b"key") {
        let _ = db.last(&k);
    }
    let _ = db
        .bucket(b"meta")
        .map(|m| m.map(|m| m.get(&db, b"consistent_index")));
    seen + report.problems.len() as u64
}

/// Re-sign both meta pages so mutations reach the tree instead of failing the checksum.
fn reseal(b: &mut [u8]) {
    for base in [0usize, 4096] {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &x in &b[base + 16..base + 72] {
            h ^= u64::from(x);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        b[base + 72..base + 80].copy_from_slice(&h.to_le_bytes());
    }
}

/// 200 by default so the suite stays quick; `PROPTEST_CASES=20000` for a long hunt.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..20_000)) {
        exercise(bytes);
    }

    #[test]
    fn mutated_fixture_never_panics(
        edits in proptest::collection::vec((0usize..24_576, any::<u8>()), 1..12),
        wide in proptest::collection::vec((0usize..24_572, any::<u32>()), 0..4),
        sealed in any::<bool>(),
    ) {
        let mut b = region();
        for (off, v) in edits {
            b[off] = v;
        }
        for (off, v) in wide {
            b[off..off + 4].copy_from_slice(&v.to_le_bytes());
        }
        if sealed {
            reseal(&mut b);
        }
        exercise(b);
    }

    /// Freelist, spare meta and past-the-mark bytes are outside the tree: whatever they hold,
    /// the walk still reads every entry and calls nothing unsound.
    #[test]
    fn outside_the_tree_anything_is_only_a_warning(
        freelist in prop_oneof![Just(u64::MAX), 0u64..10, any::<u64>()],
        page2 in proptest::collection::vec(any::<u8>(), 0..4096),
        as_freelist in any::<bool>(),
        spare_txid in 0u64..18,
        past in proptest::collection::vec(any::<u8>(), 0..3 * 4096),
    ) {
        let mut b = region();
        b[2 * 4096..2 * 4096 + page2.len()].copy_from_slice(&page2);
        if as_freelist {
            b[2 * 4096..2 * 4096 + 8].copy_from_slice(&2u64.to_le_bytes());
            b[2 * 4096 + 8..2 * 4096 + 10].copy_from_slice(&0x10u16.to_le_bytes());
        }
        b[48..56].copy_from_slice(&freelist.to_le_bytes());
        b[4096 + 64..4096 + 72].copy_from_slice(&spare_txid.to_le_bytes());
        reseal(&mut b);
        b.extend_from_slice(&past);
        let db = Db::from_source(Box::new(b)).expect("the metas are whole");
        let mut seen = 0u64;
        let report = db.walk(1000, &mut |_| {
            seen += 1;
            ControlFlow::Continue(())
        });
        prop_assert!(report.problems.is_empty(), "{:?}", report.problems);
        prop_assert_eq!(seen, 52);
    }

    #[test]
    fn truncated_or_extended_fixture_never_panics(len in 0usize..30_000) {
        let mut b = region();
        b.resize(len, 0);
        exercise(b);
    }
}

/// A root leaf whose bucket points back at the root page: a cycle the walk must refuse.
#[test]
fn self_referencing_bucket_is_reported_not_followed() {
    let mut b = region();
    // Root page 5: rewrite the first bucket's header (the `alarm` inline bucket) to root=5.
    let elem = 5 * 4096 + 16;
    let pos = u32::from_le_bytes(b[elem + 4..elem + 8].try_into().expect("4 bytes")) as usize;
    let ksize = u32::from_le_bytes(b[elem + 8..elem + 12].try_into().expect("4 bytes")) as usize;
    let value = elem + pos + ksize;
    b[value..value + 8].copy_from_slice(&5u64.to_le_bytes());
    let db = Db::from_source(Box::new(b)).expect("metas untouched");
    let report = db.check();
    assert!(
        report
            .problems
            .iter()
            .any(|p| matches!(p, bolt::Error::MultipleReferences { .. })),
        "{:?}",
        report.problems
    );
}
