//! The in-stream proof of `snapshot save` against `snapshot inspect`: the same numbers on
//! a sound file, a refusal for a cut, flipped or damaged one, and never a number that
//! inspect would not report (nor a panic) on mutated bytes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod common;

use proptest::prelude::*;
use sha2::{Digest, Sha256};
use store::report::inspect;
use store::snapshot::SnapshotFile;
use store::stream::{Proven, StreamProof};

/// Stream `bytes` in chunks of `chunk` into a file and prove it.
fn prove(bytes: &[u8], chunk: usize) -> (tempfile::TempDir, Result<Proven, store::Error>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("s.db");
    std::fs::write(&path, bytes).expect("write");
    let mut p = StreamProof::new();
    for c in bytes.chunks(chunk.max(1)) {
        p.update(c);
    }
    let r = SnapshotFile::open(&path).and_then(|snap| p.finish(&snap));
    (dir, r)
}

fn inspected(dir: &tempfile::TempDir) -> Option<Proven> {
    let r = inspect(&dir.path().join("s.db")).ok()?;
    let sha256 = match r.sha256 {
        store::snapshot::ShaStatus::Ok { sha256 } => sha256,
        _ => return None,
    };
    Some(Proven {
        sha256,
        revision: r.revision,
        hash: r.hash,
        total_key: r.total_key,
        total_size: r.total_size,
        live_keys: r.live_keys,
    })
}

fn fixture() -> Vec<u8> {
    std::fs::read(common::snapshot()).expect("fixture snapshot.db")
}

/// A new trailer over a changed image, so damage reaches the structure checks.
fn retrail(b: &mut [u8]) {
    let n = b.len() - 32;
    let sum: [u8; 32] = Sha256::digest(&b[..n]).into();
    b[n..].copy_from_slice(&sum);
}

#[test]
fn the_fixture_proves_with_inspects_numbers_in_any_chunking() {
    let b = fixture();
    for chunk in [1, 31, 32, 33, 4096, 32 * 1024, b.len()] {
        let (dir, r) = prove(&b, chunk);
        let p = r.expect("sound");
        assert_eq!(
            (p.hash, p.revision, p.total_key, p.total_size, p.live_keys),
            (2_275_284_803, 37, 42, 24_576, 33)
        );
        assert_eq!(Some(p), inspected(&dir));
    }
}

#[test]
fn cut_flipped_or_untrailed_streams_are_refused() {
    let b = fixture();
    assert!(prove(&b[..b.len() - 1], 4096).1.is_err(), "cut");
    assert!(prove(&b[..b.len() - 32], 4096).1.is_err(), "no trailer");
    let mut flipped = b.clone();
    flipped[3 * 4096 + 100] ^= 0x10;
    assert!(prove(&flipped, 4096).1.is_err(), "bit flip");
    let mut bad_trailer = b.clone();
    let n = bad_trailer.len();
    bad_trailer[n - 1] ^= 1;
    assert!(prove(&bad_trailer, 4096).1.is_err(), "trailer");
}

#[test]
fn a_file_that_differs_from_the_stream_is_refused() {
    let b = fixture();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("s.db");
    let mut other = b.clone();
    other[5 * 4096 + 200] ^= 1;
    std::fs::write(&path, &other).expect("write");
    let mut p = StreamProof::new();
    p.update(&b[..b.len() - 512]);
    let snap = SnapshotFile::open(&path).expect("open");
    assert!(
        p.finish(&snap).is_err(),
        "fewer bytes streamed than written"
    );
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn mutated_snapshots_prove_only_what_inspect_reports(
        edits in proptest::collection::vec((8192usize..24_576, any::<u8>()), 1..8),
        chunk in 1usize..40_000,
        trailed in any::<bool>(),
    ) {
        let mut b = fixture();
        for (off, v) in edits {
            b[off] = v;
        }
        if trailed {
            retrail(&mut b);
        }
        let (dir, r) = prove(&b, chunk);
        if let Ok(p) = r {
            prop_assert_eq!(Some(p), inspected(&dir));
        }
    }

    #[test]
    fn arbitrary_bytes_are_refused_without_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..12_000),
        chunk in 1usize..5000,
    ) {
        let (_dir, r) = prove(&bytes, chunk);
        prop_assert!(r.is_err());
    }
}
