//! A WAL split over two segment files, built from the records of a real etcd 3.4.23 WAL:
//! the CRC chain must carry across files through the crc record, and a broken link must be
//! named.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod common;

use std::io::Read;
use std::path::Path;

use store::proto::{self, Value};
use store::wal::{SegmentEnd, Wal};

struct Rec {
    kind: u64,
    data: Vec<u8>,
}

/// The records of the restored-a WAL, in order.
fn sample_records() -> Vec<Rec> {
    let t = common::extract("restored-a-b-3.4.23.tar.gz");
    let mut head = vec![0u8; 4096];
    std::fs::File::open(
        t.path()
            .join("restored-a/member/wal/0000000000000000-0000000000000000.wal"),
    )
    .and_then(|mut f| f.read_exact(&mut head))
    .expect("wal head");
    let mut out = Vec::new();
    let mut off = 0;
    loop {
        let l = u64::from_le_bytes(head[off..off + 8].try_into().expect("8 bytes"));
        if l == 0 {
            return out;
        }
        let n = (l & 0x00FF_FFFF_FFFF_FFFF) as usize;
        let pad = if (l as i64) < 0 {
            ((l >> 56) & 7) as usize
        } else {
            0
        };
        let rec = &head[off + 8..off + 8 + n];
        let mut r = Rec {
            kind: 0,
            data: Vec::new(),
        };
        for f in proto::fields(rec) {
            match f.expect("sample record decodes") {
                (1, v) => r.kind = v.as_u64(),
                (3, Value::Bytes(b)) => r.data = b.to_vec(),
                _ => {}
            }
        }
        out.push(r);
        off += 8 + n + pad;
    }
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Frame a record as etcd's encoder does: length (with the padding marker), record, zeros.
fn frame(out: &mut Vec<u8>, kind: u64, crc: u32, data: &[u8]) {
    let mut rec = Vec::new();
    rec.push(0x08);
    varint(&mut rec, kind);
    rec.push(0x10);
    varint(&mut rec, u64::from(crc));
    if kind != 4 {
        rec.push(0x1a);
        varint(&mut rec, data.len() as u64);
        rec.extend_from_slice(data);
    }
    let pad = (8 - rec.len() % 8) % 8;
    let mut len = rec.len() as u64;
    if pad > 0 {
        len |= (0x80 | pad as u64) << 56;
    }
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&rec);
    out.extend(std::iter::repeat_n(0u8, pad));
}

/// Two segments: records [0, split) in the first; the second starts with a crc record
/// holding the running CRC (`link`, or the true value), then the metadata, then the rest.
fn write_segments(dir: &Path, recs: &[Rec], split: usize, second_name: &str, link: Option<u32>) {
    let mut running = 0u32;
    let mut first = Vec::new();
    for r in &recs[..split] {
        if r.kind == 4 {
            frame(&mut first, 4, running, &[]);
        } else {
            running = crc32c::crc32c_append(running, &r.data);
            frame(&mut first, r.kind, running, &r.data);
        }
    }
    first.resize(first.len() + 4096, 0);
    let mut second = Vec::new();
    frame(&mut second, 4, link.unwrap_or(running), &[]);
    let metadata = recs.iter().find(|r| r.kind == 1).expect("metadata record");
    for r in std::iter::once(metadata).chain(&recs[split..]) {
        running = crc32c::crc32c_append(running, &r.data);
        frame(&mut second, r.kind, running, &r.data);
    }
    std::fs::write(dir.join("0000000000000000-0000000000000000.wal"), first).expect("write");
    std::fs::write(dir.join(second_name), second).expect("write");
}

#[test]
fn crc_chain_carries_across_segments() {
    let recs = sample_records();
    assert_eq!(recs.len(), 7);
    let dir = tempfile::tempdir().expect("tmp");
    write_segments(
        dir.path(),
        &recs,
        4,
        "0000000000000001-0000000000000002.wal",
        None,
    );
    let w = Wal::read_dir(dir.path()).expect("read");
    assert!(w.crc_ok && w.problems.is_empty(), "{:?}", w.problems);
    assert_eq!(w.segments.len(), 2);
    assert_eq!((w.segments[0].records, w.segments[1].records), (4, 5));
    assert!(matches!(w.segments[0].end, SegmentEnd::Zeros { .. }));
    assert_eq!(w.segments[1].end, SegmentEnd::Eof);
    assert_eq!(w.last_entry.map(|p| (p.term, p.index)), Some((1, 2)));
    assert_eq!(w.hard_state.map(|h| h.commit), Some(2));
    assert_eq!(w.snapshots.len(), 2);
}

#[test]
fn a_broken_link_between_segments_is_corruption() {
    let recs = sample_records();
    let dir = tempfile::tempdir().expect("tmp");
    write_segments(
        dir.path(),
        &recs,
        4,
        "0000000000000001-0000000000000002.wal",
        Some(0xdead_beef),
    );
    let w = Wal::read_dir(dir.path()).expect("read");
    assert!(!w.crc_ok);
    assert!(
        matches!(&w.segments[1].end, SegmentEnd::Corrupt { offset: 0, what } if what.contains("crc"))
    );
    assert_eq!(
        w.last_entry.map(|p| p.index),
        Some(1),
        "entries after the break are not trusted"
    );
}

#[test]
fn a_missing_segment_is_reported() {
    let recs = sample_records();
    let dir = tempfile::tempdir().expect("tmp");
    write_segments(
        dir.path(),
        &recs,
        4,
        "0000000000000002-0000000000000002.wal",
        None,
    );
    let w = Wal::read_dir(dir.path()).expect("read");
    assert!(
        w.problems.iter().any(|p| p.contains("sequence")),
        "{:?}",
        w.problems
    );
}
