//! The WAL a restored member starts from, record for record what etcd's restore writes
//! (`wal.Create`, `Save`, `SaveSnapshot`): crc(0), metadata, snapshot{0,0}, one ConfChange
//! AddNode entry per member (term 1, ascending IDs), HardState{1, smallest ID, n}, and
//! snapshot{n, 1} (with the voters from 3.5 on). Framing and the rolling CRC-32C follow
//! `wal/encoder.go`; the message encodings follow the target release (see [`EtcdVersion`]).

use super::cluster::NewCluster;
use super::proto_out as pb;
use super::version::EtcdVersion;

/// etcd preallocates every segment to this size (`SegmentSizeBytes`).
pub const SEGMENT_BYTES: u64 = 64_000_000;
/// The first (and only) segment's name.
pub const FIRST_SEGMENT: &str = "0000000000000000-0000000000000000.wal";

const METADATA: u64 = 1;
const ENTRY: u64 = 2;
const STATE: u64 = 3;
const CRC: u64 = 4;
const SNAPSHOT: u64 = 5;
const CONF_CHANGE_ENTRY: u64 = 1;

struct Encoder {
    out: Vec<u8>,
    crc: u32,
}

impl Encoder {
    /// One frame: little-endian length word (pad count in the top byte when the record is
    /// not a multiple of 8), the walpb.Record, zero padding.
    fn record(&mut self, kind: u64, data: Option<&[u8]>) {
        if let Some(d) = data {
            self.crc = crc32c::crc32c_append(self.crc, d);
        }
        let mut rec = Vec::new();
        pb::uint(&mut rec, 1, kind);
        pb::uint(&mut rec, 2, u64::from(self.crc));
        if let Some(d) = data {
            pb::bytes(&mut rec, 3, d);
        }
        let len = rec.len() as u64;
        let pad = (8 - len % 8) % 8;
        let word = if pad > 0 {
            len | ((0x80 | pad) << 56)
        } else {
            len
        };
        self.out.extend_from_slice(&word.to_le_bytes());
        self.out.extend_from_slice(&rec);
        self.out.resize(self.out.len() + pad as usize, 0);
    }
}

/// The records of member `node`'s first WAL segment (before preallocation padding), as
/// etcd `v`'s restore writes them.
pub fn wal_bytes(cluster: &NewCluster, node: u64, v: EtcdVersion) -> Vec<u8> {
    let mut e = Encoder {
        out: Vec::new(),
        crc: 0,
    };
    e.record(CRC, None);
    e.record(METADATA, Some(&pb::metadata(node, cluster.cluster_id)));
    e.record(SNAPSHOT, Some(&pb::wal_snapshot(0, 0, None)));
    let omit = v.omits_raft_defaults();
    for (i, m) in cluster.members.iter().enumerate() {
        let cc = pb::conf_change_add(m.id, m.json().as_bytes(), omit);
        let ent = pb::entry(CONF_CHANGE_ENTRY, 1, i as u64 + 1, &cc);
        e.record(ENTRY, Some(&ent));
    }
    let n = cluster.members.len() as u64;
    let vote = cluster.members.first().map_or(0, |m| m.id);
    e.record(STATE, Some(&pb::hard_state(1, vote, n)));
    let conf_state = v
        .writes_term()
        .then(|| pb::conf_state(&cluster.ids(), omit));
    e.record(
        SNAPSHOT,
        Some(&pb::wal_snapshot(n, 1, conf_state.as_deref())),
    );
    e.out
}
