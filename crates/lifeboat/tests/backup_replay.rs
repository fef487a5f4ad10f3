//! Replay against a real etcd: a full snapshot plus the watch events captured while writes go
//! on (puts, overwrites, deletes, multi-op transactions, a leased key, a prefix delete) must
//! rebuild exactly the snapshot the live cluster has at that revision: every revision key
//! and value of the `key` bucket, compared byte for byte, and `snapshot diff` clean.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod backup_common;
mod common;

use backup::layout::{DeltaName, FullName};
use backup::segment;
use backup_common::{key_bucket, save, through_segments, to_events, watch_until, writes};
use common::lifeboat;
use etcd_client::WatchOptions;
use testkit::TestCluster;

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
    let outcome =
        backup::rebuild::rebuild(&full, None, segments.into_iter().map(Ok), end, &rebuilt)
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
    backup::rebuild::rebuild(&full, None, segs.into_iter().map(Ok), mid, &at_mid).expect("replay");
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
        None,
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
    let err = backup::rebuild::rebuild(&full, None, as_segments, end, &out).expect_err("hole");
    assert!(err.to_string().contains("does not follow"), "{err}");
    assert!(!out.exists());
}
