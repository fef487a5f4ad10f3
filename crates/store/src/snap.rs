//! `member/snap/*.snap`: raft snapshots (`snappb.Snapshot{crc, data}`), named term-index.

use std::path::Path;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::proto;
use crate::raftpb::{self, ConfState};
use crate::wal::parse_name;

#[derive(Debug, Clone, Serialize)]
pub struct SnapFile {
    pub name: String,
    /// Term and index from the file name.
    pub term: u64,
    pub index: u64,
    pub size: u64,
    /// The file decodes and its CRC matches.
    pub valid: bool,
    pub problem: Option<String>,
    /// From the snapshot metadata, when it decodes.
    pub meta_index: Option<u64>,
    pub meta_term: Option<u64>,
    pub conf_state: Option<ConfState>,
}

/// Decode a snap file's bytes: check the CRC, then read the raft metadata.
pub fn decode(bytes: &[u8]) -> Result<(u64, u64, ConfState), String> {
    let mut crc = None;
    let mut data: &[u8] = &[];
    for f in proto::fields(bytes) {
        match f.map_err(|e| e.to_string())? {
            (1, v) => crc = Some(v.as_u64() as u32),
            (2, v) => data = v.as_bytes(),
            _ => {}
        }
    }
    let crc = crc.filter(|&c| c != 0).ok_or("no crc")?;
    if data.is_empty() {
        return Err("empty data".into());
    }
    let actual = crc32c::crc32c(data);
    if actual != crc {
        return Err(format!(
            "crc mismatch: stored {crc:#010x}, computed {actual:#010x}"
        ));
    }
    let (_, md) = raftpb::snapshot(data).map_err(|e| format!("raft snapshot: {e}"))?;
    Ok((md.index, md.term, md.conf_state))
}

/// Every `*.snap` in `dir`, newest (highest term-index) first.
pub fn list(dir: &Path) -> Result<Vec<SnapFile>> {
    let io = |source| Error::Io {
        path: dir.to_path_buf(),
        error: source,
    };
    let mut out = Vec::new();
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(io(e)),
    };
    for e in rd {
        let e = e.map_err(io)?;
        let name = e.file_name().to_string_lossy().into_owned();
        let Some((term, index)) = parse_name(&name, ".snap") else {
            continue;
        };
        let path = e.path();
        // One unreadable, oversized or odd (FIFO, device) file is that file's problem, not
        // the whole dir's: etcd skips a snap it cannot load too.
        let (bytes, unreadable) = match inputs::read(&path, inputs::Kind::RAFT_SNAP) {
            Ok(b) => (b, None),
            Err(err) => (Vec::new(), Some(err.problem.to_string())),
        };
        let mut s = SnapFile {
            name,
            term,
            index,
            size: bytes.len() as u64,
            valid: false,
            problem: None,
            meta_index: None,
            meta_term: None,
            conf_state: None,
        };
        if let Some(p) = unreadable {
            s.problem = Some(p);
            out.push(s);
            continue;
        }
        match decode(&bytes) {
            Ok((mi, mt, cs)) => {
                s.valid = true;
                s.meta_index = Some(mi);
                s.meta_term = Some(mt);
                s.conf_state = Some(cs);
                if (mi, mt) != (index, term) {
                    s.problem = Some(format!(
                        "metadata says term {mt} index {mi}, the name says term {term} index {index}"
                    ));
                }
            }
            Err(p) => s.problem = Some(p),
        }
        out.push(s);
    }
    out.sort_by_key(|s| std::cmp::Reverse((s.term, s.index)));
    Ok(out)
}
