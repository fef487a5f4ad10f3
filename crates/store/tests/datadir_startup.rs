//! `datadir inspect` says what keeps etcd from starting, as etcd 3.4.23 itself refuses it.
//! Each case mutates the real `d1` data dir; the etcd outcome quoted in each test was
//! observed by starting etcd 3.4.23 on the same mutation (see docs/etcd-formats.md).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod common;

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use store::datadir::{DataDirReport, inspect};
use store::proto;

const WAL: &str = "d1/member/wal/0000000000000000-0000000000000000.wal";
const SNAP42: &str = "d1/member/snap/0000000000000002-000000000000002a.snap";

fn d1() -> tempfile::TempDir {
    common::extract("datadir-m1-3.4.23.tar.gz")
}

fn report(t: &tempfile::TempDir) -> DataDirReport {
    inspect(&t.path().join("d1")).expect("inspect")
}

fn path(t: &tempfile::TempDir, rel: &str) -> PathBuf {
    t.path().join(rel)
}

/// Overwrite bytes of a file in place.
fn poke(p: &Path, off: usize, bytes: &[u8]) {
    let mut b = std::fs::read(p).expect("read");
    b[off..off + bytes.len()].copy_from_slice(bytes);
    std::fs::write(p, b).expect("write");
}

fn flip(p: &Path, off: usize) {
    let b = std::fs::read(p).expect("read");
    poke(p, off, &[b[off] ^ 0x55]);
}

fn has(list: &[String], needle: &str) -> bool {
    list.iter().any(|p| p.contains(needle))
}

/// Frame offsets of the fixture WAL (record 3 is the first entry; the last frame, at 6208,
/// is a HardState).
const ENTRY_FRAME: usize = 248;
const LAST_FRAME: usize = 6208;

#[test]
fn clean_dir_has_no_blockers() {
    let t = d1();
    let r = report(&t);
    assert!(r.start_blockers.is_empty(), "{:?}", r.start_blockers);
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert!(
        r.wal
            .segments
            .iter()
            .all(|s| s.has_metadata && s.trailing.is_none())
    );
}

/// etcd: "repaired WAL error (unexpected EOF)", then `panic: cannot use none as id`.
#[test]
fn wal_truncated_to_five_bytes_blocks_start() {
    let t = d1();
    let wal = path(&t, WAL);
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&wal)
        .expect("open");
    f.set_len(5).expect("truncate");
    let r = report(&t);
    assert!(
        has(&r.start_blockers, "cannot use none as id"),
        "{:?}",
        r.start_blockers
    );
    assert!(!r.problems.is_empty());
}

/// etcd: `C | etcdmain: walpb: crc mismatch`, before and at the last record alike.
#[test]
fn crc_break_in_a_middle_or_last_record_blocks_start() {
    for off in [ENTRY_FRAME + 8 + 30, LAST_FRAME + 8 + 20] {
        let t = d1();
        flip(&path(&t, WAL), off);
        let r = report(&t);
        assert!(
            has(&r.start_blockers, "corrupt"),
            "flip at {off}: {:?}",
            r.start_blockers
        );
    }
}

/// etcd repairs a torn last record ("repaired WAL error (unexpected EOF)") and starts.
#[test]
fn torn_last_record_is_repaired_not_a_blocker() {
    let t = d1();
    poke(&path(&t, WAL), LAST_FRAME + 8, &[0u8; 32]);
    let r = report(&t);
    assert!(r.wal.torn_tail);
    assert!(r.start_blockers.is_empty(), "{:?}", r.start_blockers);
    assert!(r.problems.is_empty(), "{:?}", r.problems);
}

/// A zeroed sector at a frame boundary mid-log: etcd stops reading there, zeroes the rest,
/// and restarts "at commit index 16" although the db has applied 45. It starts, so this is
/// a problem, not a blocker.
#[test]
fn zeroed_sector_mid_log_reports_the_records_etcd_drops() {
    let t = d1();
    poke(&path(&t, WAL), 3072, &[0u8; 512]);
    let r = report(&t);
    assert!(r.start_blockers.is_empty(), "{:?}", r.start_blockers);
    let seg = &r.wal.segments[0];
    let trailing = seg.trailing.expect("data after the zeros");
    assert_eq!(trailing.offset, 3584);
    assert!(has(&r.problems, "never reads them"), "{:?}", r.problems);
    assert!(
        has(&r.problems, "beyond the last log entry 17"),
        "{:?}",
        r.problems
    );
}

/// etcd falls back to snap 21 and starts.
#[test]
fn missing_newest_snap_falls_back_with_a_problem() {
    let t = d1();
    std::fs::remove_file(path(&t, SNAP42)).expect("rm");
    let r = report(&t);
    assert_eq!(r.snapshot.map(|s| s.index), Some(21));
    assert!(r.start_blockers.is_empty(), "{:?}", r.start_blockers);
    assert!(
        has(&r.problems, "falls back to index 21"),
        "{:?}",
        r.problems
    );
}

/// Segment renamed to start at index 31 and snap 42 gone: etcd falls back to snap 21, finds
/// no segment at or before 21, and fails `open wal error: wal: file not found`. With snap
/// 42 present it starts.
#[test]
fn fallback_past_the_first_segment_blocks_start() {
    let t = d1();
    let renamed = path(&t, "d1/member/wal/0000000000000000-000000000000001f.wal");
    std::fs::rename(path(&t, WAL), &renamed).expect("mv");
    let r = report(&t);
    assert!(r.start_blockers.is_empty(), "{:?}", r.start_blockers);
    std::fs::remove_file(path(&t, SNAP42)).expect("rm");
    let r = report(&t);
    assert!(
        has(&r.start_blockers, "wal: file not found"),
        "{:?}",
        r.start_blockers
    );
}

/// A snap whose content does not match the WAL record it is named after is skipped by
/// etcd (it matches on the metadata), like a missing one.
#[test]
fn snap_that_does_not_match_the_wal_is_not_used() {
    let t = d1();
    flip(&path(&t, SNAP42), 100);
    let r = report(&t);
    assert_eq!(r.snapshot.map(|s| s.index), Some(21));
    assert!(
        has(&r.problems, "does not load or match"),
        "{:?}",
        r.problems
    );
}

/// The WAL re-framed without its metadata record (CRC chain recomputed): etcd panics
/// `cannot use none as id`.
#[test]
fn wal_without_metadata_blocks_start() {
    let t = d1();
    let wal = path(&t, WAL);
    let b = std::fs::read(&wal).expect("read");
    let mut out = reframe(&b, |kind| kind != 1);
    out.resize(b.len(), 0);
    std::fs::write(&wal, out).expect("write");
    let r = report(&t);
    assert!(r.wal.crc_ok, "{:?}", r.wal.segments);
    assert!(
        has(&r.start_blockers, "cannot use none as id"),
        "{:?}",
        r.start_blockers
    );
}

/// etcd 3.4.23 on a db whose meta names a leaf as the freelist: `panic: invalid freelist
/// page: 2, page type is leaf`. The db is still read and summarised.
#[test]
fn db_freelist_page_that_is_a_leaf_blocks_start_but_reads() {
    let t = d1();
    let db = path(&t, "d1/member/snap/db");
    let mut b = std::fs::read(&db).expect("read");
    for base in [0usize, 4096] {
        b[base + 48..base + 56].copy_from_slice(&2u64.to_le_bytes());
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &x in &b[base + 16..base + 72] {
            h ^= u64::from(x);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        b[base + 72..base + 80].copy_from_slice(&h.to_le_bytes());
    }
    std::fs::write(&db, b).expect("write");
    let r = report(&t);
    let d = r.db.as_ref().expect("db still summarised");
    assert_eq!(d.consistent_index, Some(45));
    assert_eq!(d.revision, Some(37));
    assert!(d.warnings.iter().any(|w| w.kind == "freelist_unreadable"));
    assert!(
        has(&r.start_blockers, "invalid freelist page"),
        "{:?}",
        r.start_blockers
    );
}

/// Re-frame the records of a WAL head, keeping those `keep` accepts, with a fresh CRC chain
/// (the encoder's framing: length with padding marker, record, zero padding).
fn reframe(b: &[u8], keep: impl Fn(u64) -> bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut running = 0u32;
    let mut off = 0;
    while off + 8 <= b.len() {
        let l = u64::from_le_bytes(b[off..off + 8].try_into().expect("8 bytes"));
        if l == 0 {
            break;
        }
        let n = (l & 0x00FF_FFFF_FFFF_FFFF) as usize;
        let pad = if (l as i64) < 0 {
            ((l >> 56) & 7) as usize
        } else {
            0
        };
        let (mut kind, mut data) = (0u64, Vec::new());
        for f in proto::fields(&b[off + 8..off + 8 + n]) {
            match f.expect("fixture record decodes") {
                (1, v) => kind = v.as_u64(),
                (3, v) => data = v.as_bytes().to_vec(),
                _ => {}
            }
        }
        off += 8 + n + pad;
        if !keep(kind) {
            continue;
        }
        if kind != 4 {
            running = crc32c::crc32c_append(running, &data);
        }
        frame(&mut out, kind, running, &data);
    }
    out
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn frame(out: &mut Vec<u8>, kind: u64, crc: u32, data: &[u8]) {
    let mut rec = vec![0x08];
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

/// The fixture's member files, read once: WAL head (records then zeros), snaps, db.
struct Parts {
    wal: Vec<u8>,
    snaps: Vec<(String, Vec<u8>)>,
    db: Vec<u8>,
}

fn parts() -> &'static Parts {
    static P: std::sync::OnceLock<Parts> = std::sync::OnceLock::new();
    P.get_or_init(|| {
        let t = d1();
        let mut wal = std::fs::read(path(&t, WAL)).expect("wal");
        wal.truncate(8192);
        let snaps = [
            "0000000000000002-0000000000000015.snap",
            "0000000000000002-000000000000002a.snap",
        ]
        .iter()
        .map(|n| {
            let b = std::fs::read(path(&t, &format!("d1/member/snap/{n}"))).expect("snap");
            (n.to_string(), b)
        })
        .collect();
        let db = std::fs::read(path(&t, "d1/member/snap/db")).expect("db");
        Parts { wal, snaps, db }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Damaged, cut, renamed and missing files: inspect answers (never panics), every
    /// blocker is also a problem, and trailing data lies inside its segment.
    #[test]
    fn damaged_member_files_never_panic(
        edits in proptest::collection::vec((0usize..8192, any::<u8>()), 0..8),
        cut in 0usize..8192,
        seg_index in prop_oneof![Just(0u64), 0u64..64],
        second in any::<bool>(),
        snap_keep in 0usize..4,
        snap_edit in proptest::option::of((0usize..7115, any::<u8>())),
        db_edit in proptest::option::of((0usize..24_576, any::<u8>())),
    ) {
        let p = parts();
        let t = tempfile::tempdir().expect("tmp");
        let m = t.path().join("member");
        std::fs::create_dir_all(m.join("wal")).expect("mkdir");
        std::fs::create_dir_all(m.join("snap")).expect("mkdir");
        let mut wal = p.wal.clone();
        for (o, v) in edits {
            wal[o] = v;
        }
        wal.truncate(cut.max(1));
        let name = format!("0000000000000000-{seg_index:016x}.wal");
        std::fs::write(m.join("wal").join(&name), &wal).expect("wal");
        if second {
            std::fs::write(m.join("wal/0000000000000001-0000000000000030.wal"), &p.wal).expect("wal");
        }
        for (i, (n, b)) in p.snaps.iter().enumerate() {
            if snap_keep & (1 << i) == 0 {
                continue;
            }
            let mut b = b.clone();
            if let Some((o, v)) = snap_edit
                && let Some(x) = b.get_mut(o)
            {
                *x = v;
            }
            std::fs::write(m.join("snap").join(n), b).expect("snap");
        }
        let mut db = p.db.clone();
        if let Some((o, v)) = db_edit {
            db[o] = v;
        }
        std::fs::write(m.join("snap/db"), db).expect("db");
        let r = inspect(t.path()).expect("a data dir");
        for b in &r.start_blockers {
            prop_assert!(r.problems.contains(b), "{b}");
        }
        for s in &r.wal.segments {
            if let Some(tr) = s.trailing {
                prop_assert!(tr.bytes > 0 && tr.offset + tr.bytes <= s.size);
            }
        }
    }
}

/// A FIFO where a snap, the db or a WAL segment should be: named, never waited on (opening a
/// FIFO for reading blocks until a writer comes).
#[test]
fn fifos_in_the_member_dir_are_refused_not_waited_on() {
    let mkfifo = |p: &Path| {
        let ok = std::process::Command::new("mkfifo")
            .arg(p)
            .status()
            .expect("mkfifo");
        assert!(ok.success());
    };
    let t = d1();
    mkfifo(&path(
        &t,
        "d1/member/snap/0000000000000003-0000000000000050.snap",
    ));
    let db = path(&t, "d1/member/snap/db");
    std::fs::remove_file(&db).expect("rm db");
    mkfifo(&db);
    let r = report(&t);
    let fifo = r
        .snap_files
        .iter()
        .find(|s| s.index == 0x50)
        .expect("listed");
    assert!(!fifo.valid);
    assert!(
        fifo.problem
            .as_deref()
            .is_some_and(|p| p.contains("not a regular file"))
    );
    assert!(r.db.is_none());
    assert!(has(&r.problems, "db: "), "{:?}", r.problems);
    mkfifo(&path(
        &t,
        "d1/member/wal/0000000000000001-0000000000000040.wal",
    ));
    let err = inspect(&t.path().join("d1")).expect_err("a WAL segment that is a FIFO");
    assert!(err.to_string().contains("not a regular file"), "{err}");
}
