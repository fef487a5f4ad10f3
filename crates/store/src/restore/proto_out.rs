//! Protobuf encoding of the few messages restore writes, in gogoproto proto2 style: every
//! scalar field is written, even when zero, in field order, as etcd's generated code does.

pub fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A varint field (wire type 0).
pub fn uint(out: &mut Vec<u8>, field: u32, v: u64) {
    varint(out, u64::from(field) << 3);
    varint(out, v);
}

/// A length-delimited field (wire type 2).
pub fn bytes(out: &mut Vec<u8>, field: u32, b: &[u8]) {
    varint(out, (u64::from(field) << 3) | 2);
    varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// raftpb.ConfState with voters only (unpacked, as gogoproto writes repeated u64). etcd 3.7's
/// raft leaves out `auto_leave = false`; earlier ones write it.
pub fn conf_state(voters: &[u64], omit_defaults: bool) -> Vec<u8> {
    let mut o = Vec::new();
    for v in voters {
        uint(&mut o, 1, *v);
    }
    if !omit_defaults {
        uint(&mut o, 5, 0); // auto_leave = false
    }
    o
}

/// raftpb.ConfChange{ID 0, AddNode, node, context}; etcd 3.7 leaves out the zero ID (it still
/// writes the zero type).
pub fn conf_change_add(node: u64, context: &[u8], omit_defaults: bool) -> Vec<u8> {
    let mut o = Vec::new();
    if !omit_defaults {
        uint(&mut o, 1, 0);
    }
    uint(&mut o, 2, 0);
    uint(&mut o, 3, node);
    bytes(&mut o, 4, context);
    o
}

/// raftpb.Entry.
pub fn entry(kind: u64, term: u64, index: u64, data: &[u8]) -> Vec<u8> {
    let mut o = Vec::new();
    uint(&mut o, 1, kind);
    uint(&mut o, 2, term);
    uint(&mut o, 3, index);
    bytes(&mut o, 4, data);
    o
}

/// raftpb.HardState.
pub fn hard_state(term: u64, vote: u64, commit: u64) -> Vec<u8> {
    let mut o = Vec::new();
    uint(&mut o, 1, term);
    uint(&mut o, 2, vote);
    uint(&mut o, 3, commit);
    o
}

/// walpb.Snapshot: index and term, and from 3.5 on the ConfState (required there for an
/// index above 0, `walpb.ValidateSnapshotForWrite`).
pub fn wal_snapshot(index: u64, term: u64, conf_state: Option<&[u8]>) -> Vec<u8> {
    let mut o = Vec::new();
    uint(&mut o, 1, index);
    uint(&mut o, 2, term);
    if let Some(cs) = conf_state {
        bytes(&mut o, 3, cs);
    }
    o
}

/// etcdserverpb.Metadata.
pub fn metadata(node: u64, cluster: u64) -> Vec<u8> {
    let mut o = Vec::new();
    uint(&mut o, 1, node);
    uint(&mut o, 2, cluster);
    o
}
