//! The in-stream check against the walk: on sound files (the etcd fixture and files of the
//! compact writer, with nested and inline buckets and overflow values, fed in any chunking)
//! it agrees entry for entry; on damaged or arbitrary bytes it returns an error, never
//! panics, and never accepts what the walk refuses.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

use std::collections::BTreeMap;
use std::io::Cursor;
use std::ops::ControlFlow;

use bolt::stream::{LeafDigest, LeafEntry, PageStream, StreamError};
use bolt::{Db, Writer};
use proptest::prelude::*;

/// Keeps every entry of a page, so the segments can be compared with the walk's entries.
struct Keep;
impl LeafDigest for Keep {
    type Summary = Vec<(Vec<u8>, Vec<u8>, bool)>;
    fn leaf(&mut self, entries: &[LeafEntry<'_>]) -> Self::Summary {
        entries
            .iter()
            .map(|e| (e.key.to_vec(), e.value.to_vec(), e.is_bucket))
            .collect()
    }
}

type Seen = Vec<(usize, Vec<u8>, Vec<u8>, bool)>;

/// Feed `bytes` in chunks of the given sizes (cycled), then finish against the file.
fn stream(bytes: &[u8], chunks: &[usize]) -> Option<Result<Seen, StreamError>> {
    let db = Db::from_source(Box::new(bytes.to_vec())).ok()?;
    let mut s = PageStream::new(Keep);
    let mut at = 0;
    for &n in chunks.iter().cycle() {
        if at >= bytes.len() {
            break;
        }
        let end = (at + n.max(1)).min(bytes.len());
        s.feed(&bytes[at..end]);
        at = end;
    }
    let mut seen = Vec::new();
    let r = s.finish(&db, &mut |seg| {
        for (k, v, b) in seg.summary.get(seg.entries.clone()).unwrap_or_default() {
            seen.push((seg.depth, k.clone(), v.clone(), *b));
        }
    });
    Some(r.map(|()| seen))
}

/// What the walk sees, in the same shape.
fn walk(bytes: &[u8]) -> Option<(bool, Seen)> {
    let db = Db::from_source(Box::new(bytes.to_vec())).ok()?;
    let mut seen = Vec::new();
    let report = db.walk(1, &mut |e| {
        seen.push((e.path.len(), e.key.to_vec(), e.value.to_vec(), e.is_bucket));
        ControlFlow::Continue(())
    });
    Some((report.problems.is_empty(), seen))
}

/// The stream check never accepts what the walk refuses, agrees with it when both pass,
/// and calls unsound only what the walk refuses too.
fn agree(bytes: &[u8], chunks: &[usize]) {
    let (Some(s), Some((sound, seen))) = (stream(bytes, chunks), walk(bytes)) else {
        return;
    };
    match s {
        Ok(s) => {
            assert!(sound, "the stream check accepted a file the walk refuses");
            assert_eq!(s, seen);
        }
        Err(StreamError::Unsound { page, what }) => {
            assert!(
                !sound,
                "page {page}: {what}, but the walk finds the file sound"
            )
        }
        Err(StreamError::Unsupported(_)) => {}
    }
}

fn fixture() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/etcd-3.4.23/snapshot.db"
    );
    let mut b = std::fs::read(path).expect("fixture snapshot.db");
    b.truncate(24_576);
    b
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

type Rows = Vec<(Vec<u8>, Vec<u8>)>;

/// A file of the compact writer: buckets of many keys, a nested bucket (inline when
/// small), and values large enough to need overflow pages.
fn written(page_size: usize, big: usize) -> Vec<u8> {
    let mut w = Writer::new(Cursor::new(Vec::new()), page_size).expect("writer");
    let mut model: BTreeMap<Vec<u8>, Rows> = BTreeMap::new();
    for b in 0..3u8 {
        let rows = (0..400u32)
            .map(|i| {
                let len = if i % 97 == 5 {
                    big
                } else {
                    10 + (i as usize % 50)
                };
                (format!("k{i:06}").into_bytes(), vec![b ^ (i as u8); len])
            })
            .collect();
        model.insert(vec![b'a' + b], rows);
    }
    for (name, rows) in &model {
        w.begin_bucket(name, 1).expect("bucket");
        for (i, (k, v)) in rows.iter().enumerate() {
            if i == 200 {
                w.begin_bucket(b"k000199~nested", 0).expect("nested");
                w.put(b"x", b"inner").expect("put");
                w.end_bucket().expect("end nested");
            }
            w.put(k, v).expect("put");
        }
        w.end_bucket().expect("end");
    }
    w.finish(3).expect("finish").0.into_inner()
}

#[test]
fn the_fixture_streams_to_the_walks_entries_in_any_chunking() {
    let b = fixture();
    let (sound, seen) = walk(&b).expect("opens");
    assert!(sound);
    for chunks in [&[1usize][..], &[7, 4096, 13], &[32 * 1024], &[100_000]] {
        assert_eq!(stream(&b, chunks).expect("opens"), Ok(seen.clone()));
    }
}

#[test]
fn written_files_with_overflow_and_nested_buckets_agree_with_the_walk() {
    for (ps, big) in [(512, 3000), (4096, 20_000), (1024, 100)] {
        let b = written(ps, big);
        let (sound, seen) = walk(&b).expect("opens");
        assert!(sound);
        assert!(seen.iter().any(|e| e.0 == 2), "a nested bucket's entries");
        assert_eq!(stream(&b, &[32 * 1024]).expect("opens"), Ok(seen.clone()));
        assert_eq!(stream(&b, &[ps / 2 + 3, 1]).expect("opens"), Ok(seen));
    }
}

#[test]
fn a_cut_stream_is_refused() {
    let b = written(4096, 20_000);
    let db = Db::from_source(Box::new(b.clone())).expect("opens");
    let mut s = PageStream::new(Keep);
    s.feed(&b[..b.len() - 4096]);
    assert!(s.finish(&db, &mut |_| {}).is_err());
}

#[test]
fn a_stale_page_claiming_overflow_hides_nothing() {
    // Page 2 of a sound file is overwritten with a leaf header claiming the next pages
    // as overflow, and is left unreachable: the live pages after it must still be found.
    let mut b = written(512, 100);
    let (sound, _) = walk(&b).expect("opens");
    assert!(sound);
    let page = 2 * 512;
    let db = Db::from_source(Box::new(b.clone())).expect("opens");
    let root = db.meta().root;
    if root == 2 {
        return;
    }
    b[page + 8..page + 10].copy_from_slice(&0x02u16.to_le_bytes());
    b[page + 10..page + 12].copy_from_slice(&0u16.to_le_bytes());
    b[page + 12..page + 16].copy_from_slice(&5u32.to_le_bytes());
    agree(&b, &[512]);
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..20_000),
        chunks in proptest::collection::vec(1usize..9000, 1..4),
    ) {
        agree(&bytes, &chunks);
        let mut s = PageStream::new(Keep);
        s.feed(&bytes);
    }

    #[test]
    fn mutated_fixture_is_never_accepted_when_the_walk_refuses(
        edits in proptest::collection::vec((0usize..24_576, any::<u8>()), 1..12),
        wide in proptest::collection::vec((0usize..24_572, any::<u32>()), 0..4),
        sealed in any::<bool>(),
        chunks in proptest::collection::vec(1usize..9000, 1..4),
    ) {
        let mut b = fixture();
        for (off, v) in edits {
            b[off] = v;
        }
        for (off, v) in wide {
            b[off..off + 4].copy_from_slice(&v.to_le_bytes());
        }
        if sealed {
            reseal(&mut b);
        }
        agree(&b, &chunks);
    }

    #[test]
    fn mutated_written_file_is_never_accepted_when_the_walk_refuses(
        edits in proptest::collection::vec((0usize..64 * 512, any::<u32>()), 1..6),
        chunks in proptest::collection::vec(1usize..3000, 1..4),
    ) {
        let mut b = written(512, 3000);
        for (off, v) in edits {
            let off = off.min(b.len() - 4);
            b[off..off + 4].copy_from_slice(&v.to_le_bytes());
        }
        reseal_512(&mut b);
        agree(&b, &chunks);
    }
}

/// [`reseal`] for 512-byte pages.
fn reseal_512(b: &mut [u8]) {
    for base in [0usize, 512] {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &x in &b[base + 16..base + 72] {
            h ^= u64::from(x);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        b[base + 72..base + 80].copy_from_slice(&h.to_le_bytes());
    }
}
