//! The few raft/etcd protobuf messages found in WAL and snap files (gogoproto proto2:
//! scalars are always written, but decoding does not depend on it).

use serde::Serialize;

use crate::proto::{self, ProtoError};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct HardState {
    pub term: u64,
    /// A member ID: written to JSON as 16 hex digits, like every ID.
    #[serde(serialize_with = "hex_string")]
    pub vote: u64,
    pub commit: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Entry<'a> {
    /// 0 normal, 1 conf change, 2 conf change v2.
    pub kind: u64,
    pub term: u64,
    pub index: u64,
    pub data: &'a [u8],
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfChange<'a> {
    pub id: u64,
    /// 0 AddNode, 1 RemoveNode, 2 UpdateNode, 3 AddLearnerNode.
    pub kind: u64,
    pub node_id: u64,
    pub context: &'a [u8],
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ConfState {
    pub voters: Vec<u64>,
    pub learners: Vec<u64>,
    pub voters_outgoing: Vec<u64>,
    pub learners_next: Vec<u64>,
    pub auto_leave: bool,
}

/// walpb.Snapshot: the raft position of a snapshot, recorded in the WAL.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct SnapPoint {
    pub index: u64,
    pub term: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Metadata {
    pub node_id: u64,
    pub cluster_id: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotMetadata {
    pub conf_state: ConfState,
    pub index: u64,
    pub term: u64,
}

fn hex_string<S: serde::Serializer>(id: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::hex_id(*id))
}

pub fn hard_state(b: &[u8]) -> Result<HardState, ProtoError> {
    let mut h = HardState::default();
    for f in proto::fields(b) {
        match f? {
            (1, v) => h.term = v.as_u64(),
            (2, v) => h.vote = v.as_u64(),
            (3, v) => h.commit = v.as_u64(),
            _ => {}
        }
    }
    Ok(h)
}

pub fn entry(b: &[u8]) -> Result<Entry<'_>, ProtoError> {
    let mut e = Entry::default();
    for f in proto::fields(b) {
        match f? {
            (1, v) => e.kind = v.as_u64(),
            (2, v) => e.term = v.as_u64(),
            (3, v) => e.index = v.as_u64(),
            (4, v) => e.data = v.as_bytes(),
            _ => {}
        }
    }
    Ok(e)
}

pub fn conf_change(b: &[u8]) -> Result<ConfChange<'_>, ProtoError> {
    let mut c = ConfChange::default();
    for f in proto::fields(b) {
        match f? {
            (1, v) => c.id = v.as_u64(),
            (2, v) => c.kind = v.as_u64(),
            (3, v) => c.node_id = v.as_u64(),
            (4, v) => c.context = v.as_bytes(),
            _ => {}
        }
    }
    Ok(c)
}

/// Repeated u64 fields may be packed or not; accept both.
fn push_u64s(out: &mut Vec<u64>, v: proto::Value<'_>) -> Result<(), ProtoError> {
    match v {
        proto::Value::Bytes(b) => {
            let mut pos = 0;
            while pos < b.len() {
                out.push(proto::varint(b, &mut pos)?);
            }
        }
        other => out.push(other.as_u64()),
    }
    Ok(())
}

pub fn conf_state(b: &[u8]) -> Result<ConfState, ProtoError> {
    let mut c = ConfState::default();
    for f in proto::fields(b) {
        match f? {
            (1, v) => push_u64s(&mut c.voters, v)?,
            (2, v) => push_u64s(&mut c.learners, v)?,
            (3, v) => push_u64s(&mut c.voters_outgoing, v)?,
            (4, v) => push_u64s(&mut c.learners_next, v)?,
            (5, v) => c.auto_leave = v.as_u64() != 0,
            _ => {}
        }
    }
    Ok(c)
}

pub fn snap_point(b: &[u8]) -> Result<SnapPoint, ProtoError> {
    let mut s = SnapPoint::default();
    for f in proto::fields(b) {
        match f? {
            (1, v) => s.index = v.as_u64(),
            (2, v) => s.term = v.as_u64(),
            _ => {}
        }
    }
    Ok(s)
}

pub fn metadata(b: &[u8]) -> Result<Metadata, ProtoError> {
    let mut m = Metadata::default();
    for f in proto::fields(b) {
        match f? {
            (1, v) => m.node_id = v.as_u64(),
            (2, v) => m.cluster_id = v.as_u64(),
            _ => {}
        }
    }
    Ok(m)
}

/// raftpb.Snapshot: the data (v2 store JSON) and its metadata.
pub fn snapshot(b: &[u8]) -> Result<(&[u8], SnapshotMetadata), ProtoError> {
    let mut data: &[u8] = &[];
    let mut md = SnapshotMetadata::default();
    for f in proto::fields(b) {
        match f? {
            (1, v) => data = v.as_bytes(),
            (2, v) => {
                for g in proto::fields(v.as_bytes()) {
                    match g? {
                        (1, w) => md.conf_state = conf_state(w.as_bytes())?,
                        (2, w) => md.index = w.as_u64(),
                        (3, w) => md.term = w.as_u64(),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Ok((data, md))
}
