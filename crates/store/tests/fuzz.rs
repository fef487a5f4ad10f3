//! Arbitrary and mutated bytes into the WAL, snap, KeyValue and snapshot parsers: an error
//! or a partial result, never a panic, a hang, or an allocation bigger than the input.

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

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn wal_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let w = Wal::from_bytes(&bytes);
        prop_assert!(w.segments[0].records <= bytes.len() as u64 / 8);
    }

    #[test]
    fn wal_mutated(edits in proptest::collection::vec((0usize..1024, any::<u8>()), 1..8), cut in 0usize..4096) {
        let mut b = samples().wal.clone();
        for (o, v) in edits {
            b[o] = v;
        }
        b.truncate(cut.max(1));
        let _ = Wal::from_bytes(&b);
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
    fn keyvalue_and_revision(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = KeyValue::decode(&bytes);
        let _ = Revision::parse(&bytes);
    }
}
