//! WAL segments (`member/wal/*.wal`): framing, the CRC-32C chain across records and files,
//! and a replay with `WAL.ReadAll` semantics that keeps only what a summary needs (last
//! HardState, last entry, snapshot records, membership changes), so memory stays small
//! however long the log is.

use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::proto::{self, ProtoError};
use crate::raftpb::{self, HardState, Metadata, SnapPoint};

pub const METADATA: i64 = 1;
pub const ENTRY: i64 = 2;
pub const STATE: i64 = 3;
pub const CRC: i64 = 4;
pub const SNAPSHOT: i64 = 5;

/// Torn writes are detected per 512-byte sector, as etcd's decoder does.
const SECTOR: u64 = 512;

struct Record<'a> {
    kind: i64,
    crc: u32,
    data: &'a [u8],
}

fn record(b: &[u8]) -> Result<Record<'_>, ProtoError> {
    let mut r = Record {
        kind: 0,
        crc: 0,
        data: &[],
    };
    for f in proto::fields(b) {
        match f? {
            (1, v) => r.kind = v.as_u64() as i64,
            (2, v) => r.crc = v.as_u64() as u32,
            (3, v) => r.data = v.as_bytes(),
            _ => {}
        }
    }
    Ok(r)
}

/// A frame's data has a sector-aligned chunk that is all zeros: the write was torn.
fn is_torn(data: &[u8], file_off: u64) -> bool {
    let mut off = file_off;
    let mut rest = data;
    while !rest.is_empty() {
        let n = ((SECTOR - off % SECTOR) as usize).min(rest.len());
        if rest[..n].iter().all(|&b| b == 0) {
            return true;
        }
        off += n as u64;
        rest = &rest[n..];
    }
    false
}

/// How reading a segment stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SegmentEnd {
    /// End of file after a whole record.
    Eof,
    /// Preallocated zeros start here.
    Zeros { offset: u64 },
    /// A torn write (zeroed sector) or a frame running past the file end: the normal end of
    /// a log after a crash; etcd truncates it when it next writes.
    TornTail { offset: u64, what: String },
    /// Damage that is not a torn tail; etcd refuses to start.
    Corrupt { offset: u64, what: String },
    /// Not read because an earlier segment ended the log.
    NotRead,
}

#[derive(Debug, Clone, Serialize)]
pub struct Segment {
    pub name: String,
    pub seq: u64,
    pub index: u64,
    pub size: u64,
    pub records: u64,
    pub end: SegmentEnd,
    /// A metadata record was read in this segment (etcd writes one at the head of each).
    pub has_metadata: bool,
    /// Non-zero bytes after where reading stopped (zeros or a torn record): records etcd
    /// never reads, and zeroes or truncates away when it starts.
    pub trailing: Option<Trailing>,
}

/// Non-zero bytes past the end of what a segment's reader accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Trailing {
    /// First non-zero byte.
    pub offset: u64,
    /// Bytes from there to the last non-zero byte.
    pub bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Position {
    pub term: u64,
    pub index: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfChangeEntry {
    pub term: u64,
    pub index: u64,
    /// add_node, remove_node, update_node, add_learner_node, v2.
    pub change: String,
    pub node_id: String,
}

/// What a WAL says.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Wal {
    pub segments: Vec<Segment>,
    pub metadata: Option<Metadata>,
    pub hard_state: Option<HardState>,
    pub first_entry: Option<Position>,
    pub last_entry: Option<Position>,
    pub entries: u64,
    /// Entries replaced by a later leader (same index written again).
    pub overwritten: u64,
    pub snapshots: Vec<SnapPoint>,
    /// For each of `snapshots`, the position in `segments` of the segment holding it.
    #[serde(skip)]
    pub snapshot_segments: Vec<usize>,
    pub conf_changes: Vec<ConfChangeEntry>,
    /// The CRC chain held over every record read.
    pub crc_ok: bool,
    pub torn_tail: bool,
    pub problems: Vec<String>,
    /// Metadata records read, over all segments.
    #[serde(skip)]
    metadata_records: u64,
}

enum Stop {
    End(SegmentEnd),
}

/// What reading one segment found.
struct SegmentRead {
    end: SegmentEnd,
    records: u64,
    has_metadata: bool,
    trailing: Option<Trailing>,
}

impl Wal {
    /// No segments read (yet): the CRC chain trivially holds.
    pub fn empty() -> Wal {
        Wal::new()
    }

    fn new() -> Wal {
        Wal {
            crc_ok: true,
            ..Wal::default()
        }
    }

    /// Read every `*.wal` in `dir` in name order.
    pub fn read_dir(dir: &Path) -> Result<Wal> {
        let io = |source| Error::Io {
            path: dir.to_path_buf(),
            error: source,
        };
        let mut names: Vec<(u64, u64, String, PathBuf)> = Vec::new();
        for e in std::fs::read_dir(dir).map_err(io)? {
            let e = e.map_err(io)?;
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some((seq, index)) = parse_name(&name, ".wal") {
                names.push((seq, index, name, e.path()));
            }
        }
        names.sort();
        let mut wal = Wal::new();
        if names.is_empty() {
            wal.problems.push("no WAL segments".into());
        }
        let mut running = 0u32;
        let mut ended = false;
        for (i, (seq, index, name, path)) in names.into_iter().enumerate() {
            let (file, meta) =
                inputs::open_regular(&path, inputs::Kind::WAL_SEGMENT).map_err(|e| Error::Wal {
                    path: path.clone(),
                    what: e.problem.to_string(),
                })?;
            let size = meta.len();
            let mut seg = Segment {
                name,
                seq,
                index,
                size,
                records: 0,
                end: SegmentEnd::NotRead,
                has_metadata: false,
                trailing: None,
            };
            if i > 0
                && wal
                    .segments
                    .last()
                    .is_some_and(|p| p.seq.checked_add(1) != Some(seq))
            {
                wal.problems
                    .push(format!("segment {} breaks the sequence", seg.name));
            }
            if !ended {
                let read = wal.read_segment(
                    BufReader::with_capacity(1 << 16, file),
                    size,
                    &mut running,
                    i,
                );
                seg.records = read.records;
                seg.has_metadata = read.has_metadata;
                seg.trailing = read.trailing;
                seg.end = read.end;
                ended = !matches!(seg.end, SegmentEnd::Eof | SegmentEnd::Zeros { .. });
            }
            wal.segments.push(seg);
        }
        Ok(wal)
    }

    /// Read one in-memory segment (tests and fuzzing).
    pub fn from_bytes(bytes: &[u8]) -> Wal {
        let mut wal = Wal::new();
        let mut running = 0;
        let read = wal.read_segment(bytes, bytes.len() as u64, &mut running, 0);
        wal.segments.push(Segment {
            name: "<memory>".into(),
            seq: 0,
            index: 0,
            size: bytes.len() as u64,
            records: read.records,
            end: read.end,
            has_metadata: read.has_metadata,
            trailing: read.trailing,
        });
        wal
    }

    fn read_segment<R: Read>(
        &mut self,
        mut r: R,
        size: u64,
        running: &mut u32,
        seg: usize,
    ) -> SegmentRead {
        let mut off = 0u64;
        let mut data = Vec::new();
        let mut records = 0;
        let had_metadata = self.metadata_records;
        loop {
            let before = self.snapshots.len();
            match self.next_frame(&mut r, size, &mut off, &mut data, running) {
                Ok(()) => {
                    records += 1;
                    self.snapshot_segments
                        .extend(std::iter::repeat_n(seg, self.snapshots.len() - before));
                }
                Err(Stop::End(end)) => {
                    if let SegmentEnd::TornTail { .. } = end {
                        self.torn_tail = true;
                    }
                    if let SegmentEnd::Corrupt { offset, what } = &end {
                        self.problems
                            .push(format!("corrupt record at offset {offset}: {what}"));
                    }
                    let trailing = match end {
                        SegmentEnd::Zeros { .. } | SegmentEnd::TornTail { .. } => {
                            trailing(&mut r, off)
                        }
                        _ => None,
                    };
                    return SegmentRead {
                        end,
                        records,
                        has_metadata: self.metadata_records > had_metadata,
                        trailing,
                    };
                }
            }
        }
    }

    fn next_frame<R: Read>(
        &mut self,
        r: &mut R,
        size: u64,
        off: &mut u64,
        data: &mut Vec<u8>,
        running: &mut u32,
    ) -> Result<(), Stop> {
        let start = *off;
        let torn = |what: String| {
            Stop::End(SegmentEnd::TornTail {
                offset: start,
                what,
            })
        };
        let corrupt = |what: String| {
            Stop::End(SegmentEnd::Corrupt {
                offset: start,
                what,
            })
        };
        if size - start < 8 {
            // The torn bytes are the frame itself, not data after it.
            let _ = std::io::copy(r, &mut std::io::sink());
            *off = size;
            // etcd reads the length with binary.Read: fewer than 8 bytes is plain EOF.
            return Err(Stop::End(if size == start {
                SegmentEnd::Eof
            } else {
                SegmentEnd::TornTail {
                    offset: start,
                    what: "partial length field".into(),
                }
            }));
        }
        let mut len = [0u8; 8];
        r.read_exact(&mut len)
            .map_err(|e| corrupt(format!("read: {e}")))?;
        *off += 8;
        let l = u64::from_le_bytes(len);
        if l == 0 {
            return Err(Stop::End(SegmentEnd::Zeros { offset: start }));
        }
        let rec_len = l & 0x00FF_FFFF_FFFF_FFFF;
        let pad = if (l as i64) < 0 { (l >> 56) & 0x7 } else { 0 };
        let total = rec_len.saturating_add(pad);
        if total > size - *off {
            let _ = std::io::copy(r, &mut std::io::sink());
            *off = size;
            return Err(torn(format!(
                "frame of {total} bytes runs past the end of the file"
            )));
        }
        data.clear();
        data.resize(total as usize, 0);
        r.read_exact(data)
            .map_err(|e| corrupt(format!("read: {e}")))?;
        let data_off = *off;
        *off += total;
        let rec = match record(&data[..rec_len as usize]) {
            Ok(rec) => rec,
            Err(e) if is_torn(data, data_off) => return Err(torn(format!("torn write: {e}"))),
            Err(e) => return Err(corrupt(format!("record does not decode: {e}"))),
        };
        if rec.kind == CRC {
            if *running != 0 && *running != rec.crc {
                self.crc_ok = false;
                return Err(corrupt(format!(
                    "crc record {:#010x} breaks the chain ({:#010x})",
                    rec.crc, *running
                )));
            }
            *running = rec.crc;
            return Ok(());
        }
        *running = crc32c::crc32c_append(*running, rec.data);
        if rec.crc != *running {
            if is_torn(data, data_off) {
                return Err(torn(
                    "torn write (crc mismatch over a zeroed sector)".into(),
                ));
            }
            self.crc_ok = false;
            return Err(corrupt(format!(
                "crc mismatch: record {:#010x}, chain {:#010x}",
                rec.crc, *running
            )));
        }
        self.apply(&rec).map_err(corrupt)
    }

    fn apply(&mut self, rec: &Record<'_>) -> Result<(), String> {
        match rec.kind {
            METADATA => {
                let m = raftpb::metadata(rec.data).map_err(|e| format!("metadata: {e}"))?;
                self.metadata_records += 1;
                match self.metadata {
                    None => self.metadata = Some(m),
                    Some(prev) if prev != m => self
                        .problems
                        .push("metadata differs between segments".into()),
                    Some(_) => {}
                }
            }
            ENTRY => {
                let e = raftpb::entry(rec.data).map_err(|e| format!("entry: {e}"))?;
                self.entry(&e);
            }
            STATE => {
                self.hard_state =
                    Some(raftpb::hard_state(rec.data).map_err(|e| format!("hard state: {e}"))?);
            }
            SNAPSHOT => self
                .snapshots
                .push(raftpb::snap_point(rec.data).map_err(|e| format!("snapshot: {e}"))?),
            other => return Err(format!("unknown record type {other}")),
        }
        Ok(())
    }

    fn entry(&mut self, e: &raftpb::Entry<'_>) {
        self.entries += 1;
        if self.first_entry.is_none() {
            self.first_entry = Some(Position {
                term: e.term,
                index: e.index,
            });
        }
        if let Some(last) = self.last_entry {
            if e.index <= last.index {
                // A new leader rewrote the tail: everything from this index on is replaced.
                self.overwritten = self
                    .overwritten
                    .saturating_add((last.index - e.index).saturating_add(1));
                self.conf_changes.retain(|c| c.index < e.index);
            } else if e.index > last.index.saturating_add(1) {
                self.problems.push(format!(
                    "entries {}..{} are missing",
                    last.index + 1,
                    e.index - 1
                ));
            }
        }
        self.last_entry = Some(Position {
            term: e.term,
            index: e.index,
        });
        if e.kind == 1 {
            if let Ok(cc) = raftpb::conf_change(e.data) {
                let change = match cc.kind {
                    0 => "add_node",
                    1 => "remove_node",
                    2 => "update_node",
                    3 => "add_learner_node",
                    _ => "unknown",
                };
                self.conf_changes.push(ConfChangeEntry {
                    term: e.term,
                    index: e.index,
                    change: change.into(),
                    node_id: crate::hex_id(cc.node_id),
                });
            }
        } else if e.kind == 2 {
            self.conf_changes.push(ConfChangeEntry {
                term: e.term,
                index: e.index,
                change: "v2".into(),
                node_id: String::new(),
            });
        }
    }
}

/// The non-zero bytes left in `r` (positioned at file offset `at`), read to the end in
/// chunks so a 64 MB preallocated segment costs no more than one buffer.
fn trailing<R: Read>(r: &mut R, at: u64) -> Option<Trailing> {
    let mut buf = vec![0u8; 1 << 16];
    let mut pos = at;
    let (mut first, mut last) = (None, 0u64);
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some(i) = buf[..n].iter().position(|&b| b != 0) {
            first.get_or_insert(pos + i as u64);
        }
        if let Some(i) = buf[..n].iter().rposition(|&b| b != 0) {
            last = pos + i as u64;
        }
        pos += n as u64;
    }
    first.map(|offset| Trailing {
        offset,
        bytes: last + 1 - offset,
    })
}

/// `%016x-%016x<ext>` → (first, second).
pub fn parse_name(name: &str, ext: &str) -> Option<(u64, u64)> {
    let stem = name.strip_suffix(ext)?;
    let (a, b) = stem.split_once('-')?;
    if a.len() != 16 || b.len() != 16 {
        return None;
    }
    Some((
        u64::from_str_radix(a, 16).ok()?,
        u64::from_str_radix(b, 16).ok()?,
    ))
}
