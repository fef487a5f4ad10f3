//! Replay against a real etcd: a full snapshot plus the watch events captured while writes go
//! on (puts, overwrites, deletes, multi-op transactions, a leased key, a prefix delete) must
//! rebuild exactly the snapshot the live cluster has at that revision: every revision key
//! and value of the `key` bucket, compared byte for byte, and `snapshot diff` clean.

mod common;

use std::ops::ControlFlow;
use std::path::Path;

use backup::layout::{DeltaName, FullName};
use backup::segment::{self, Event, EventKind, SegmentInfo};
use common::lifeboat;
use etcd_client::{
    Client, Compare, CompareOp, DeleteOptions, EventType, PutOptions, Txn, TxnOp, WatchOptions,
};
use testkit::TestCluster;

fn save(tc: &TestCluster, file: &Path) -> i64 {
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

async fn writes(c: &mut Client, round: usize) -> Result<(), etcd_client::Error> {
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
fn to_events(watched: &[etcd_client::Event]) -> Vec<Event> {
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
fn through_segments(events: &[Event], full_rev: i64) -> Vec<segment::Segment> {
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
async fn watch_until(c: &mut Client, from: i64, end: i64) -> Vec<etcd_client::Event> {
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
fn key_bucket(file: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
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

#[tokio::test]
async fn replay_of_watched_events_equals_the_live_snapshot() {
    let tc = TestCluster::plain(1).await;
    let mut c = tc.any_client().await.expect("client");
    writes(&mut c, 0).await.expect("writes");
    let dir = tempfile::tempdir().expect("tempdir");
    let full = dir.path().join("full.db");
    let full_rev = save(&tc, &full);

    let mut watch = c
        .watch(
            "",
            Some(
                WatchOptions::new()
                    .with_all_keys()
                    .with_start_revision(full_rev + 1),
            ),
        )
        .await
        .expect("watch");
    let mut writer = tc.any_client().await.expect("client");
    let writing = tokio::spawn(async move {
        for round in 1..4 {
            writes(&mut writer, round).await?;
        }
        let last = writer.get("/", None).await?;
        Ok::<i64, etcd_client::Error>(last.header().map_or(0, |h| h.revision()))
    });
    let mut watched = Vec::new();
    let end = writing.await.expect("joins").expect("writes");
    while watched
        .last()
        .and_then(|e: &etcd_client::Event| e.kv())
        .is_none_or(|kv| kv.mod_revision() < end)
    {
        let msg = watch.message().await.expect("watch").expect("stream open");
        assert!(!msg.canceled(), "watch canceled");
        watched.extend_from_slice(msg.events());
    }
    let live = dir.path().join("live.db");
    let live_rev = save(&tc, &live);
    assert_eq!(live_rev, end);

    let events = to_events(&watched);
    let segments = through_segments(&events, full_rev);
    assert!(segments.len() > 2, "several segments");
    let listing = backup::chain::Listing {
        fulls: vec![FullName {
            revision: full_rev,
            taken_ms: 0,
            encrypted: false,
        }],
        deltas: segments
            .iter()
            .map(|s| DeltaName {
                first_revision: s.header.first_revision,
                last_revision: s.header.last_revision,
            })
            .collect(),
    }
    .sorted();
    let plan = listing.plan_latest().expect("chain");
    assert_eq!(plan.target_revision, end);

    let rebuilt = dir.path().join("rebuilt.db");
    let outcome = backup::rebuild::rebuild(&full, segments.into_iter().map(Ok), end, &rebuilt)
        .expect("replay");
    assert_eq!(outcome.from_revision, full_rev);
    assert_eq!(outcome.events, events.len() as u64);
    assert_eq!(key_bucket(&rebuilt), key_bucket(&live));

    let diff = lifeboat()
        .args(["snapshot", "diff", "-o", "json"])
        .arg(&live)
        .arg(&rebuilt)
        .output()
        .expect("runs");
    assert!(
        diff.status.success(),
        "{}",
        String::from_utf8_lossy(&diff.stderr)
    );
    let verify = lifeboat()
        .args(["snapshot", "verify"])
        .arg(&rebuilt)
        .output()
        .expect("runs");
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );

    // A middle revision at an earlier point: the prefix of the history, nothing after it.
    let mid = full_rev + 5;
    let at_mid = dir.path().join("mid.db");
    let segs = through_segments(&events, full_rev);
    backup::rebuild::rebuild(&full, segs.into_iter().map(Ok), mid, &at_mid).expect("replay");
    let mid_keys = key_bucket(&at_mid);
    let last = store::mvcc::Revision::parse(&mid_keys.last().expect("keys").0).expect("rev");
    assert_eq!(last.main, mid);
    assert!(key_bucket(&live).starts_with(&mid_keys));
}

#[tokio::test]
async fn replay_refuses_a_missing_revision_and_a_short_log() {
    let tc = TestCluster::plain(1).await;
    let mut c = tc.any_client().await.expect("client");
    writes(&mut c, 0).await.expect("writes");
    let dir = tempfile::tempdir().expect("tempdir");
    let full = dir.path().join("full.db");
    let full_rev = save(&tc, &full);
    writes(&mut c, 1).await.expect("writes");
    let end = c
        .get("/", None)
        .await
        .expect("get")
        .header()
        .expect("header")
        .revision();
    let mut events = to_events(&watch_until(&mut c, full_rev + 1, end).await);

    let out = dir.path().join("short.db");
    let err = backup::rebuild::rebuild(
        &full,
        through_segments(&events, full_rev).into_iter().map(Ok),
        end + 1,
        &out,
    )
    .expect_err("short");
    assert!(err.to_string().contains("missing"), "{err}");
    assert!(!out.exists() && !dir.path().join("short.db.part").exists());

    // Drop one whole revision from the middle: the replay must refuse, not skip it.
    let gone = full_rev + 3;
    events.retain(|e| e.revision != gone);
    let segs = vec![events.clone()];
    let as_segments = segs.into_iter().map(|evs| {
        Ok(segment::Segment {
            header: segment::Header {
                version: 1,
                event_count: evs.len() as u32,
                cluster_id: 1,
                member_id: 1,
                first_revision: evs[0].revision,
                last_revision: evs[evs.len() - 1].revision,
                prev_last_revision: full_rev,
                created_ms: 0,
            },
            events: evs,
        })
    });
    let out = dir.path().join("hole.db");
    let err = backup::rebuild::rebuild(&full, as_segments, end, &out).expect_err("hole");
    assert!(err.to_string().contains("does not follow"), "{err}");
    assert!(!out.exists());
}
