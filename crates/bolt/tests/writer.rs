//! The compact writer against the reader: whatever sorted buckets go in come back out of a
//! walk, point lookups and `last`, and the structural check (bbolt's `Tx.Check` rules) passes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

use std::collections::BTreeMap;
use std::io::Cursor;
use std::ops::ControlFlow;

use bolt::{Db, Writer};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Item {
    Value(Vec<u8>),
    Sub(BTreeMap<Vec<u8>, Vec<u8>>),
}

type Bucket = BTreeMap<Vec<u8>, Item>;
type Model = BTreeMap<Vec<u8>, Bucket>;

fn write(model: &Model, page_size: usize) -> Vec<u8> {
    let mut w = Writer::new(Cursor::new(Vec::new()), page_size).unwrap();
    for (name, bucket) in model {
        w.begin_bucket(name, 7).unwrap();
        for (k, item) in bucket {
            match item {
                Item::Value(v) => w.put(k, v).unwrap(),
                Item::Sub(sub) => {
                    w.begin_bucket(k, 0).unwrap();
                    for (sk, sv) in sub {
                        w.put(sk, sv).unwrap();
                    }
                    w.end_bucket().unwrap();
                }
            }
        }
        w.end_bucket().unwrap();
    }
    let (out, written) = w.finish(5).unwrap();
    let bytes = out.into_inner();
    assert_eq!(bytes.len() as u64, written.pages * page_size as u64);
    bytes
}

/// Everything the walk yields, as (path, key, value or None for a bucket).
type Flat = Vec<(Vec<Vec<u8>>, Vec<u8>, Option<Vec<u8>>)>;

fn flatten(model: &Model) -> Flat {
    let mut out = Vec::new();
    for (name, bucket) in model {
        out.push((vec![], name.clone(), None));
        for (k, item) in bucket {
            match item {
                Item::Value(v) => out.push((vec![name.clone()], k.clone(), Some(v.clone()))),
                Item::Sub(sub) => {
                    out.push((vec![name.clone()], k.clone(), None));
                    for (sk, sv) in sub {
                        out.push((vec![name.clone(), k.clone()], sk.clone(), Some(sv.clone())));
                    }
                }
            }
        }
    }
    out
}

fn read_back(bytes: Vec<u8>, model: &Model) {
    let db = Db::from_source(Box::new(bytes)).expect("the written file opens");
    let mut seen: Flat = Vec::new();
    let report = db.walk(100, &mut |e| {
        let value = (!e.is_bucket).then(|| e.value.to_vec());
        seen.push((e.path.to_vec(), e.key.to_vec(), value));
        ControlFlow::Continue(())
    });
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(seen, flatten(model));
    for (name, bucket) in model {
        let b = db.bucket(name).unwrap().expect("bucket found by lookup");
        for (k, item) in bucket {
            if let Item::Value(v) = item {
                assert_eq!(b.get(&db, k).unwrap().as_ref(), Some(v));
            }
        }
        let last = db.last(&b).unwrap().map(|(k, _)| k);
        assert_eq!(last.as_ref(), bucket.keys().next_back());
    }
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => prop::collection::vec(any::<u8>(), 0..64),
        1 => prop::collection::vec(any::<u8>(), 500..3000),
    ]
}

fn key() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 1..24)
}

fn bucket() -> impl Strategy<Value = Bucket> {
    let item = prop_oneof![
        20 => value().prop_map(Item::Value),
        1 => prop::collection::btree_map(key(), value(), 0..40).prop_map(Item::Sub),
    ];
    prop::collection::btree_map(key(), item, 0..300)
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn written_buckets_read_back_and_pass_the_check(
        model in prop::collection::btree_map(key(), bucket(), 0..5),
        ps in prop_oneof![Just(512usize), Just(1024), Just(4096)],
    ) {
        read_back(write(&model, ps), &model);
    }
}

#[test]
fn a_large_bucket_gets_a_deep_tree_and_small_ones_stay_inline() {
    let mut model = Model::new();
    let big: Bucket = (0..20_000u32)
        .map(|i| {
            (
                format!("key-{i:08}").into_bytes(),
                Item::Value(vec![b'v'; (i % 50) as usize]),
            )
        })
        .collect();
    model.insert(b"big".to_vec(), big);
    let small: Bucket = [(b"a".to_vec(), Item::Value(b"1".to_vec()))].into();
    model.insert(b"small".to_vec(), small);
    let bytes = write(&model, 512);
    let db = Db::from_source(Box::new(bytes.clone())).unwrap();
    let stats = db.check().into_result().expect("sound");
    assert!(stats.branch_pages > 20, "{stats:?}");
    assert_eq!(stats.inline_buckets, 1, "{stats:?}");
    read_back(bytes, &model);
}

#[test]
fn keys_out_of_order_or_empty_are_refused() {
    let mut w = Writer::new(Cursor::new(Vec::new()), 4096).unwrap();
    w.begin_bucket(b"b", 0).unwrap();
    w.put(b"k2", b"").unwrap();
    assert!(w.put(b"k1", b"").is_err());
    assert!(w.put(b"k2", b"").is_err());
    assert!(w.put(b"", b"").is_err());
    w.end_bucket().unwrap();
    assert!(w.begin_bucket(b"a", 0).is_err());
    assert!(w.end_bucket().is_err());
    assert!(Writer::new(Cursor::new(Vec::new()), 3000).is_err());
}

#[test]
fn an_empty_database_matches_bbolts_shape() {
    let bytes = write(&Model::new(), 4096);
    // meta 0, meta 1 and the empty root leaf.
    assert_eq!(bytes.len(), 3 * 4096);
    let db = Db::from_source(Box::new(bytes)).unwrap();
    assert_eq!(db.meta().txid, 5);
    assert_eq!(db.meta().freelist, bolt::NO_FREELIST);
    db.check().into_result().expect("sound");
}
