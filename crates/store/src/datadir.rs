//! A member data dir, offline: WAL, snap files and the bbolt db, summarised into the
//! numbers that decide which survivor holds the most committed data.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::hex_id;
use crate::live;
use crate::mvcc::Revision;
use crate::raftpb::{HardState, SnapPoint};
use crate::schema::{EtcdMeta, Member};
use crate::snap::{self, SnapFile};
use crate::wal::{ConfChangeEntry, Position, Segment, Wal};

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
    let db = bolt::Db::open(path).map_err(|e| e.to_string())?;
    let meta = EtcdMeta::read(&db).map_err(|e| e.to_string())?;
    let mut problems = meta.problems.clone();
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
        file_size: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
        page_size: db.page_size(),
        total_size: db.size(),
        consistent_index: meta.consistent_index,
        term: meta.term,
        revision,
        compact_revision,
        members: meta.members,
        removed_members: meta.removed_members,
        cluster_version: meta.cluster_version,
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
        Wal {
            crc_ok: true,
            ..Wal::default()
        }
    };
    let snap_files = snap::list(&snap_dir)?;
    let db_path = snap_dir.join("db");
    let db = if db_path.is_file() {
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
    let snapshot = snap_files
        .iter()
        .filter(|s| s.valid)
        .find(|s| {
            wal.snapshots
                .iter()
                .any(|w| w.index == s.index && w.term == s.term && w.index <= commit)
        })
        .map(|s| SnapPoint {
            index: s.index,
            term: s.term,
        });
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
    if let (Some(s), Some(d)) = (snapshot, db.as_ref())
        && d.consistent_index.is_some_and(|c| c < s.index)
    {
        problems.push(format!("db consistent index is below the snapshot index {}: etcd will look for {:016x}.snap.db", s.index, s.index));
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
        problems,
    })
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
