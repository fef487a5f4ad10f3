//! Arbitrary and mutated bytes into the WAL, snap, KeyValue and snapshot parsers: an error
//! or a partial result, never a panic, a hang, or an allocation bigger than the input.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod common;

use std::io::Read;
use std::sync::OnceLock;

use proptest::prelude::*;
use store::mvcc::{KeyValue, Revision};
use store::wal::{SegmentEnd, Wal};

struct Samples {
    wal: Vec<u8>,
    snap: Vec<u8>,
}

/// The head of a real WAL (records, then preallocated zeros) and a real snap file.
fn samples() -> &'static Samples {
    static S: OnceLock<Samples> = OnceLock::new();
    S.get_or_init(|| {
        let t = common::extract("restored-a-b-3.4.23.tar.gz");
        let m = t.path().join("restored-a/member");
        let mut wal = vec![0u8; 4096];
        std::fs::File::open(m.join("wal/0000000000000000-0000000000000000.wal"))
            .and_then(|mut f| f.read_exact(&mut wal))
            .expect("wal head");
        let snap =
            std::fs::read(m.join("snap/0000000000000001-0000000000000002.snap")).expect("snap");
        Samples { wal, snap }
    })
}

fn snapshot_region() -> &'static Vec<u8> {
    static R: OnceLock<Vec<u8>> = OnceLock::new();
    R.get_or_init(|| {
        let mut b = std::fs::read(common::snapshot()).expect("snapshot fixture");
        b.truncate(24_576);
        b
    })
}

#[test]
fn the_samples_parse_cleanly() {
    let s = samples();
    let w = Wal::from_bytes(&s.wal);
    assert!(w.crc_ok && w.problems.is_empty(), "{:?}", w.problems);
    assert_eq!(w.segments[0].records, 7);
    assert!(matches!(w.segments[0].end, SegmentEnd::Zeros { .. }));
    assert_eq!(
        store::snap::decode(&s.snap).map(|(i, t, _)| (i, t)),
        Ok((2, 1))
    );
}

#[test]
fn a_torn_last_record_ends_the_log_without_error() {
    let s = samples();
    let w = Wal::from_bytes(&s.wal);
    let SegmentEnd::Zeros { offset } = w.segments[0].end else {
        panic!("sample ends in zeros")
    };
    // Zero the last record's data: a torn write, not corruption.
    let mut b = s.wal.clone();
    let last_frame = {
        let mut off = 0usize;
        let mut prev = 0usize;
        while (off as u64) < offset {
            prev = off;
            let l = u64::from_le_bytes(b[off..off + 8].try_into().expect("8 bytes"));
            let n = (l & 0x00FF_FFFF_FFFF_FFFF) + if (l as i64) < 0 { (l >> 56) & 7 } else { 0 };
            off += 8 + n as usize;
        }
        prev
    };
    for x in &mut b[last_frame + 8..offset as usize] {
        *x = 0;
    }
    let torn = Wal::from_bytes(&b);
    assert!(torn.torn_tail, "{:?}", torn.segments[0].end);
    assert!(torn.crc_ok);
    assert_eq!(torn.segments[0].records, 6);
    // A flipped bit in the middle of a record is corruption, named with its offset.
    let mut c = s.wal.clone();
    c[last_frame + 12] ^= 0x40;
    let bad = Wal::from_bytes(&c);
    assert!(matches!(
        bad.segments[0].end,
        SegmentEnd::Corrupt { .. } | SegmentEnd::TornTail { .. }
    ));
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
    fn wal_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let w = Wal::from_bytes(&bytes);
        prop_assert!(w.segments[0].records <= bytes.len() as u64 / 8);
        if let Some(t) = w.segments[0].trailing {
            prop_assert!(t.bytes > 0 && t.offset + t.bytes <= bytes.len() as u64);
        }
    }

    #[test]
    fn wal_mutated(edits in proptest::collection::vec((0usize..1024, any::<u8>()), 1..8), cut in 0usize..4096) {
        let mut b = samples().wal.clone();
        for (o, v) in edits {
            b[o] = v;
        }
        b.truncate(cut.max(1));
        let w = Wal::from_bytes(&b);
        if let Some(t) = w.segments[0].trailing {
            prop_assert!(t.offset + t.bytes <= b.len() as u64);
        }
    }

    #[test]
    fn snap_arbitrary_and_mutated(
        bytes in proptest::collection::vec(any::<u8>(), 0..2048),
        edits in proptest::collection::vec((0usize..7031, any::<u8>()), 1..8),
    ) {
        let _ = store::snap::decode(&bytes);
        let mut b = samples().snap.clone();
        for (o, v) in edits {
            if let Some(x) = b.get_mut(o) {
                *x = v;
            }
        }
        let _ = store::snap::decode(&b);
        let _ = store::raftpb::snapshot(&bytes);
        let _ = store::raftpb::conf_state(&bytes);
    }

    #[test]
    fn mutated_snapshot_through_every_reader(
        edits in proptest::collection::vec((4096usize * 2..24_576, any::<u8>()), 1..10),
    ) {
        // Meta pages stay intact so the damage reaches the tree and the etcd schema.
        let mut b = snapshot_region().clone();
        for (o, v) in edits {
            b[o] = v;
        }
        if let Ok(db) = bolt::Db::from_source(Box::new(b)) {
            let a = store::analyze::analyze(&db);
            prop_assert!(a.schema_problems.len() <= 20);
            let _ = store::schema::EtcdMeta::read(&db);
            let _ = store::keys::list(&db, b"/registry/");
        }
    }

    #[test]
    fn keyvalue_and_revision(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = KeyValue::decode(&bytes);
        let _ = Revision::parse(&bytes);
    }
}

/// Entry indexes at the edges of u64 (a crafted WAL): no overflow, the gap is reported.
#[test]
fn extreme_entry_indexes_do_not_overflow() {
    fn entry(index: u64) -> Vec<u8> {
        let mut e = vec![0x08, 0x00, 0x10, 0x01, 0x18];
        let mut v = index;
        while v >= 0x80 {
            e.push((v as u8) | 0x80);
            v >>= 7;
        }
        e.push(v as u8);
        e
    }
    let mut wal = Vec::new();
    let mut running = 0u32;
    for index in [u64::MAX, 0, u64::MAX] {
        let data = entry(index);
        running = crc32c::crc32c_append(running, &data);
        let mut rec = vec![0x08, 0x02, 0x10];
        let mut c = u64::from(running);
        while c >= 0x80 {
            rec.push((c as u8) | 0x80);
            c >>= 7;
        }
        rec.push(c as u8);
        rec.push(0x1a);
        rec.push(data.len() as u8);
        rec.extend_from_slice(&data);
        let pad = (8 - rec.len() % 8) % 8;
        let mut len = rec.len() as u64;
        if pad > 0 {
            len |= (0x80 | pad as u64) << 56;
        }
        wal.extend_from_slice(&len.to_le_bytes());
        wal.extend_from_slice(&rec);
        wal.extend(std::iter::repeat_n(0u8, pad));
    }
    let w = Wal::from_bytes(&wal);
    assert!(w.crc_ok, "{:?}", w.segments[0].end);
    assert_eq!(w.entries, 3);
    assert!(
        w.problems.iter().any(|p| p.contains("missing")),
        "{:?}",
        w.problems
    );
}
