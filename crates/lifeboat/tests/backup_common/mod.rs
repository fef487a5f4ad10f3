//! Shared by the backup tests: real etcd history, watch capture, segments, key buckets.

#![allow(dead_code)]

use std::ops::ControlFlow;
use std::path::Path;

use backup::segment::{self, Event, EventKind, SegmentInfo};
use etcd_client::{
    Client, Compare, CompareOp, DeleteOptions, EventType, PutOptions, Txn, TxnOp, WatchOptions,
};
use testkit::TestCluster;

use crate::common::lifeboat;

pub fn save(tc: &TestCluster, file: &Path) -> i64 {
    let out = lifeboat()
        .args(["snapshot", "save"])
        .arg(file)
        .args(tc.cli_args())
        .output()
        .expect("lifeboat runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest = std::fs::read(file.with_extension("db.json")).expect("manifest");
    let manifest: serde_json::Value = serde_json::from_slice(&manifest).expect("json");
    manifest["revision"].as_i64().expect("revision")
}

pub async fn writes(c: &mut Client, round: usize) -> Result<(), etcd_client::Error> {
    let lease = c.lease_grant(600, None).await?.id();
    for i in 0..20 {
        c.put(format!("/app/{round}/k{i}"), format!("v{i}"), None)
            .await?;
    }
    c.put(format!("/app/{round}/k1"), "again", None).await?;
    c.put(
        format!("/leased/{round}"),
        "with lease",
        Some(PutOptions::new().with_lease(lease)),
    )
    .await?;
    c.delete(format!("/app/{round}/k2"), None).await?;
    let txn = Txn::new()
        .when([Compare::version(
            format!("/app/{round}/k3"),
            CompareOp::Greater,
            0,
        )])
        .and_then([
            TxnOp::put(format!("/app/{round}/t1"), "one", None),
            TxnOp::delete(format!("/app/{round}/k4"), None),
            TxnOp::put(format!("/app/{round}/k5"), "five", None),
            TxnOp::put(format!("/app/{round}/t2"), "", None),
        ]);
    c.txn(txn).await?;
    c.delete(
        format!("/app/{round}/k1"),
        Some(DeleteOptions::new().with_prefix()),
    )
    .await?;
    Ok(())
}

/// Watch events as the agent records them: sub-revisions counted inside each revision.
pub fn to_events(watched: &[etcd_client::Event]) -> Vec<Event> {
    let mut out: Vec<Event> = Vec::new();
    for e in watched {
        let kv = e.kv().expect("event has a kv");
        let revision = kv.mod_revision();
        let sub = match out.last() {
            Some(prev) if prev.revision == revision => prev.sub + 1,
            _ => 0,
        };
        let delete = e.event_type() == EventType::Delete;
        out.push(Event {
            kind: if delete {
                EventKind::Delete
            } else {
                EventKind::Put
            },
            revision,
            sub,
            key: kv.key().to_vec(),
            value: kv.value().to_vec(),
            create_revision: kv.create_revision(),
            version: kv.version(),
            lease: kv.lease(),
            observed_ms: backup::time::now_ms(),
        });
    }
    out
}

/// Splits the events into segments at revision boundaries and back through the format.
pub fn through_segments(events: &[Event], full_rev: i64) -> Vec<segment::Segment> {
    let mut segments = Vec::new();
    let mut start = 0;
    let mut prev_last = full_rev;
    for i in 1..=events.len() {
        let boundary =
            i == events.len() || (i - start >= 7 && events[i].revision != events[i - 1].revision);
        if !boundary {
            continue;
        }
        let info = SegmentInfo {
            cluster_id: 1,
            member_id: 2,
            prev_last_revision: prev_last,
            created_ms: backup::time::now_ms(),
        };
        let bytes = segment::encode(info, &events[start..i]).expect("encodes");
        let seg = segment::decode(&bytes).expect("decodes");
        prev_last = seg.header.last_revision;
        segments.push(seg);
        start = i;
    }
    segments
}

/// Events from `from` on, until revision `end` has arrived.
pub async fn watch_until(c: &mut Client, from: i64, end: i64) -> Vec<etcd_client::Event> {
    let options = WatchOptions::new()
        .with_all_keys()
        .with_start_revision(from);
    let mut watch = c.watch("", Some(options)).await.expect("watch");
    let mut watched: Vec<etcd_client::Event> = Vec::new();
    while watched
        .last()
        .and_then(|e| e.kv())
        .is_none_or(|kv| kv.mod_revision() < end)
    {
        let msg = watch.message().await.expect("watch").expect("stream open");
        assert!(!msg.canceled(), "watch canceled");
        watched.extend_from_slice(msg.events());
    }
    watched
}

/// Every entry of the `key` bucket: (revision key, value).
pub fn key_bucket(file: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    let snap = store::snapshot::SnapshotFile::open(file).expect("opens");
    let db = snap.db().expect("bbolt");
    let mut out = Vec::new();
    let report = db.walk(1, &mut |e| {
        if e.path.len() == 1 && e.path[0] == b"key" && !e.is_bucket {
            out.push((e.key.to_vec(), e.value.to_vec()));
        }
        ControlFlow::Continue(())
    });
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    out
}

/// The `key` bucket's entries up to revision `end` (a key starts with its 8-byte revision).
pub fn key_bucket_upto(file: &Path, end: i64) -> Vec<(Vec<u8>, Vec<u8>)> {
    key_bucket(file)
        .into_iter()
        .filter(|(k, _)| i64::from_be_bytes(k[..8].try_into().expect("8 bytes")) <= end)
        .collect()
}
