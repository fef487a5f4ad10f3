//! A member data dir, offline: WAL, snap files and the bbolt db, summarised into the
//! numbers that decide which survivor holds the most committed data.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::analyze::Finding;
use crate::error::{Error, Result};
use crate::hex_id;
use crate::live;
use crate::mvcc::Revision;
use crate::raftpb::{HardState, SnapPoint};
use crate::schema::{EtcdMeta, Member};
use crate::snap::{self, SnapFile};
use crate::wal::{ConfChangeEntry, Position, Segment, SegmentEnd, Wal};

#[derive(Debug, Clone, Serialize)]
pub struct DbSummary {
    pub path: String,
    pub file_size: u64,
    pub page_size: u32,
    /// Bytes in use (`pgid * pageSize`).
    pub total_size: u64,
    pub consistent_index: Option<u64>,
    pub term: Option<u64>,
    /// `main` of the last key of the `key` bucket.
    pub revision: Option<i64>,
    pub compact_revision: Option<i64>,
    pub members: Vec<Member>,
    pub removed_members: Vec<String>,
    pub cluster_version: Option<String>,
    /// Findings that leave the data readable (meta twins, an unreadable freelist, pages
    /// past the high-water mark); no full walk is made, so a stale freelist is not seen.
    pub warnings: Vec<Finding>,
    /// The freelist page the meta names is not one, and why (also among `warnings`).
    #[serde(skip)]
    pub freelist_unreadable: Option<String>,
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WalHealth {
    pub segments: Vec<Segment>,
    pub total_size: u64,
    pub records_ok: bool,
    pub crc_ok: bool,
    pub torn_tail: bool,
    pub entries: u64,
    pub overwritten: u64,
    pub first_entry: Option<Position>,
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Live {
    /// A process holds a lock on the db or a WAL segment: etcd is probably running.
    pub locked: bool,
    pub holders: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DataDirReport {
    pub dir: String,
    pub member_id: Option<String>,
    pub cluster_id: Option<String>,
    pub hard_state: Option<HardState>,
    pub last_entry: Option<Position>,
    /// `max(HardState.commit, consistent_index)`: what force-new-cluster keeps.
    pub committed: u64,
    pub wal_snapshots: Vec<SnapPoint>,
    pub snap_files: Vec<SnapFile>,
    /// The snapshot etcd would load: newest valid `.snap` matching a WAL snapshot record
    /// with index ≤ commit.
    pub snapshot: Option<SnapPoint>,
    pub db: Option<DbSummary>,
    pub wal: WalHealth,
    pub conf_changes: Vec<ConfChangeEntry>,
    pub live: Live,
    /// What keeps etcd from starting on this dir, as etcd itself would refuse it (each
    /// also in `problems`). Empty does not promise a start: only these cases are known.
    pub start_blockers: Vec<String>,
    /// Everything found, blockers included.
    pub problems: Vec<String>,
}

/// `DIR` may be the data dir (holding `member/`) or the member dir itself.
pub fn member_dir(dir: &Path) -> Result<PathBuf> {
    if dir.join("member").is_dir() {
        return Ok(dir.join("member"));
    }
    if dir.join("wal").is_dir() || dir.join("snap").is_dir() {
        return Ok(dir.to_path_buf());
    }
    if !dir.exists() {
        return Err(Error::DataDir {
            path: dir.to_path_buf(),
            what: "no such directory".into(),
        });
    }
    Err(Error::DataDir {
        path: dir.to_path_buf(),
        what: "not an etcd data dir (no member/wal or member/snap)".into(),
    })
}

fn db_summary(path: &Path) -> Result<DbSummary, String> {
    let (file, meta) =
        inputs::open_regular(path, inputs::Kind::MEMBER_DB).map_err(|e| e.problem.to_string())?;
    let file_size = meta.len();
    let db = bolt::Db::open_file(file, file_size).map_err(|e| e.to_string())?;
    let meta = EtcdMeta::read(&db).map_err(|e| e.to_string())?;
    let mut problems = meta.problems.clone();
    let quick = db.quick_warnings();
    let warnings: Vec<Finding> = quick.iter().map(Finding::from).collect();
    let freelist_unreadable = quick.iter().find_map(|w| match w {
        bolt::Warning::FreelistUnreadable { page, what } => {
            Some(format!("freelist page {page} is not a freelist ({what})"))
        }
        _ => None,
    });
    let revision = match db
        .bucket(b"key")
        .and_then(|b| b.map(|b| db.last(&b)).transpose())
    {
        Ok(Some(Some((k, _)))) => Revision::main_of(&k),
        Ok(_) => None,
        Err(e) => {
            problems.push(format!("key bucket: {e}"));
            None
        }
    };
    let compact_revision = meta.compact_revision();
    // etcd starts from the compaction revision when the bucket's last key is older.
    let revision = match (revision, compact_revision) {
        (Some(r), Some(c)) => Some(r.max(c)),
        (r, c) => r.or(c),
    };
    Ok(DbSummary {
        path: path.display().to_string(),
        file_size,
        page_size: db.page_size(),
        total_size: db.size(),
        consistent_index: meta.consistent_index,
        term: meta.term,
        revision,
        compact_revision,
        members: meta.members,
        removed_members: meta.removed_members,
        cluster_version: meta.cluster_version,
        warnings,
        freelist_unreadable,
        problems,
    })
}

pub fn inspect(dir: &Path) -> Result<DataDirReport> {
    let member = member_dir(dir)?;
    let wal_dir = member.join("wal");
    let snap_dir = member.join("snap");
    let mut problems = Vec::new();
    let wal = if wal_dir.is_dir() {
        Wal::read_dir(&wal_dir)?
    } else {
        problems.push("no member/wal directory".into());
        Wal::empty()
    };
    let snap_files = snap::list(&snap_dir)?;
    let db_path = snap_dir.join("db");
    let db = if db_path.exists() {
        match db_summary(&db_path) {
            Ok(d) => Some(d),
            Err(e) => {
                problems.push(format!("db: {e}"));
                None
            }
        }
    } else {
        problems.push("no member/snap/db".into());
        None
    };

    let commit = wal.hard_state.map_or(0, |h| h.commit);
    let ci = db.as_ref().and_then(|d| d.consistent_index).unwrap_or(0);
    let committed = commit.max(ci);
    let snapshot = etcd_snapshot(&wal, &snap_files, commit);
    let last_entry = wal.last_entry.or(snapshot.map(|s| Position {
        term: s.term,
        index: s.index,
    }));
    if let Some(last) = last_entry
        && committed > last.index
    {
        problems.push(format!(
            "committed index {committed} is beyond the last log entry {}: the log is missing entries",
            last.index
        ));
    }
    let mut blockers = Vec::new();
    blockers.extend(wal_blockers(&wal, snapshot, last_entry));
    problems.extend(wal_losses(&wal));
    if let Some(w) = newest_snap_missing(&wal, &snap_files, commit, snapshot) {
        problems.push(w);
    }
    if let Some(d) = db.as_ref() {
        blockers.extend(db_blockers(d, snapshot, &snap_dir));
    }

    let mut holders = Vec::new();
    let mut files: Vec<PathBuf> = vec![db_path];
    files.extend(wal.segments.iter().map(|s| wal_dir.join(&s.name)));
    for f in &files {
        for h in live::holders(f) {
            holders.push(format!(
                "{} ({h})",
                f.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            ));
        }
    }

    problems.extend(wal.problems.iter().cloned());
    for b in &blockers {
        if !problems.contains(b) {
            problems.push(b.clone());
        }
    }
    let health = WalHealth {
        total_size: wal.segments.iter().map(|s| s.size).sum(),
        records_ok: wal.problems.is_empty(),
        crc_ok: wal.crc_ok,
        torn_tail: wal.torn_tail,
        entries: wal.entries,
        overwritten: wal.overwritten,
        first_entry: wal.first_entry,
        problems: wal.problems.clone(),
        segments: wal.segments,
    };
    Ok(DataDirReport {
        dir: dir.display().to_string(),
        member_id: wal.metadata.map(|m| hex_id(m.node_id)),
        cluster_id: wal.metadata.map(|m| hex_id(m.cluster_id)),
        hard_state: wal.hard_state,
        last_entry,
        committed,
        wal_snapshots: wal.snapshots,
        snap_files,
        snapshot,
        db,
        wal: health,
        conf_changes: wal.conf_changes,
        live: Live {
            locked: !holders.is_empty(),
            holders,
        },
        start_blockers: blockers,
        problems,
    })
}

/// The snapshot etcd loads (`Snapshotter.LoadNewestAvailable`): the newest `.snap` that
/// decodes and whose metadata (not its name) matches a WAL snapshot record at or below
/// the HardState's commit (`wal.ValidSnapshotEntries`). None: etcd starts from index 0.
fn etcd_snapshot(wal: &Wal, snaps: &[SnapFile], commit: u64) -> Option<SnapPoint> {
    snaps
        .iter()
        .filter(|s| s.valid)
        .filter_map(|s| Some((s.meta_index?, s.meta_term?)))
        .find(|&(index, term)| {
            wal.snapshots
                .iter()
                .any(|w| w.index == index && w.term == term && w.index <= commit)
        })
        .map(|(index, term)| SnapPoint { index, term })
}

/// The newest WAL snapshot record etcd may use has no loadable `.snap`: etcd falls back to an
/// older one (and replays more WAL), which fails if the WAL no longer reaches back that far.
fn newest_snap_missing(
    wal: &Wal,
    snaps: &[SnapFile],
    commit: u64,
    used: Option<SnapPoint>,
) -> Option<String> {
    let newest = wal
        .snapshots
        .iter()
        .filter(|w| w.index <= commit && w.index > 0)
        .max_by_key(|w| w.index)?;
    if used.is_some_and(|u| u.index >= newest.index) {
        return None;
    }
    let name = format!("{:016x}-{:016x}.snap", newest.term, newest.index);
    let why = match snaps.iter().find(|s| s.name == name) {
        None => "is missing".to_string(),
        Some(s) => format!(
            "does not load or match ({})",
            s.problem
                .as_deref()
                .unwrap_or("its metadata names another point")
        ),
    };
    let fallback = used.map_or("no snapshot (index 0)".to_string(), |u| {
        format!("index {} (term {})", u.index, u.term)
    });
    Some(format!(
        "the newest WAL snapshot record (index {}, term {}) has no usable .snap: {name} {why}; \
         etcd falls back to {fallback} and replays the WAL from there",
        newest.index, newest.term
    ))
}

/// What makes etcd refuse the WAL, in the order it would hit it (`wal.Open`, `ReadAll`,
/// its one repair of the last segment, then raft's restart checks).
fn wal_blockers(wal: &Wal, snapshot: Option<SnapPoint>, last: Option<Position>) -> Vec<String> {
    let mut out = Vec::new();
    let segs = &wal.segments;
    if segs.is_empty() {
        out.push(
            "no WAL segments: etcd would bootstrap a new member here instead of restarting this one"
                .into(),
        );
        return out;
    }
    let start = snapshot.map_or(0, |s| s.index);
    // selectWALFiles: the last segment whose name index is at or below the snapshot's.
    let Some(first) = segs.iter().rposition(|s| s.index <= start) else {
        out.push(format!(
            "no WAL segment starts at or before index {start} (the snapshot etcd loads): etcd \
             fails `wal: file not found`; the segments it needs were purged or renamed"
        ));
        return out;
    };
    if let Some(w) = segs[first..]
        .windows(2)
        .find(|w| w[0].seq.checked_add(1) != Some(w[1].seq))
    {
        out.push(format!(
            "segment {} does not follow {} in sequence: etcd fails `wal: file not found`",
            w[1].name, w[0].name
        ));
    }
    let last_seg = segs.len() - 1;
    for (i, s) in segs.iter().enumerate() {
        match &s.end {
            SegmentEnd::Corrupt { offset, what } => out.push(format!(
                "segment {} is corrupt at offset {offset} ({what}): etcd refuses the WAL \
                 (it repairs only a torn last record)",
                s.name
            )),
            SegmentEnd::TornTail { offset, what } if i < last_seg => out.push(format!(
                "segment {} ends in a torn record at offset {offset} ({what}) but is not the \
                 last segment: etcd repairs only the last one, so it refuses to start",
                s.name
            )),
            _ => {}
        }
    }
    let read_from_first = segs[first..]
        .iter()
        .take_while(|s| s.end != SegmentEnd::NotRead);
    if !read_from_first.clone().any(|s| s.has_metadata) {
        out.push(format!(
            "no WAL metadata record in {} (the segment header is truncated or torn): etcd \
             repairs what it can, then panics `cannot use none as id`",
            segs[first].name
        ));
    }
    if let (Some(hs), Some(last)) = (wal.hard_state, last)
        && hs.commit > last.index
    {
        out.push(format!(
            "the HardState commits index {} but the log ends at {}: raft panics on restart \
             (`commit is out of range`)",
            hs.commit, last.index
        ));
    }
    out
}

/// Records etcd would silently drop when it starts: non-zero bytes after preallocated
/// zeros or a torn record. In the last segment etcd zeroes or truncates them (a torn last
/// write looks like this too, but so does a lost sector in synced data).
fn wal_losses(wal: &Wal) -> Vec<String> {
    wal.segments
        .iter()
        .filter_map(|s| {
            let t = s.trailing?;
            let stop = match &s.end {
                SegmentEnd::Zeros { offset } => format!("zeros at offset {offset}"),
                SegmentEnd::TornTail { offset, .. } => format!("a torn record at offset {offset}"),
                _ => return None,
            };
            Some(format!(
                "segment {}: reading stops at {stop}, but {} byte(s) of data follow from offset \
                 {}: etcd never reads them and discards them when it starts; if they were \
                 synced, committed entries are lost (compare with the other members first)",
                s.name, t.bytes, t.offset
            ))
        })
        .collect()
}

/// The db etcd cannot open: a freelist page that is not one (bbolt reads it on a read-write
/// open and panics `invalid freelist page`), or a consistent index below the snapshot's
/// with no `<index>.snap.db` to replace it.
fn db_blockers(db: &DbSummary, snapshot: Option<SnapPoint>, snap_dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(why) = &db.freelist_unreadable {
        out.push(format!(
            "db: {why}; etcd's bbolt reads the freelist when it opens the db and panics \
             `invalid freelist page`: restore from this db (`lifeboat snapshot restore` writes a \
             fresh file) instead of starting etcd on it"
        ));
    }
    if let Some(s) = snapshot
        && db.consistent_index.is_some_and(|c| c < s.index)
    {
        let name = format!("{:016x}.snap.db", s.index);
        if !snap_dir.join(&name).is_file() {
            out.push(format!(
                "db consistent index is below the snapshot index {}: etcd looks for {name}, \
                 which is not there, and refuses to start",
                s.index
            ));
        }
    }
    out
}

/// The part of a `datadir inspect` report that ranking needs; read back from JSON made on
/// another node, so every field is optional.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RankInput {
    #[serde(default)]
    pub dir: String,
    #[serde(default)]
    pub member_id: Option<String>,
    #[serde(default)]
    pub cluster_id: Option<String>,
    #[serde(default)]
    pub hard_state: Option<HardStateIn>,
    #[serde(default)]
    pub last_entry: Option<PositionIn>,
    #[serde(default)]
    pub db: Option<DbIn>,
    #[serde(default)]
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct HardStateIn {
    #[serde(default)]
    pub term: u64,
    #[serde(default)]
    pub commit: u64,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct PositionIn {
    #[serde(default)]
    pub term: u64,
    #[serde(default)]
    pub index: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DbIn {
    #[serde(default)]
    pub consistent_index: Option<u64>,
    #[serde(default)]
    pub revision: Option<i64>,
}

impl DataDirReport {
    pub fn rank_input(&self) -> RankInput {
        RankInput {
            dir: self.dir.clone(),
            member_id: self.member_id.clone(),
            cluster_id: self.cluster_id.clone(),
            hard_state: self.hard_state.map(|h| HardStateIn {
                term: h.term,
                commit: h.commit,
            }),
            last_entry: self.last_entry.map(|p| PositionIn {
                term: p.term,
                index: p.index,
            }),
            db: self.db.as_ref().map(|d| DbIn {
                consistent_index: d.consistent_index,
                revision: d.revision,
            }),
            problems: self.problems.clone(),
        }
    }
}
