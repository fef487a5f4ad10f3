//! Replay against a real etcd: a full snapshot plus the watch events captured while writes go
//! on (puts, overwrites, deletes, multi-op transactions, a leased key, a prefix delete) must
//! rebuild exactly the snapshot the live cluster has at that revision: every revision key
//! and value of the `key` bucket, compared byte for byte, and `snapshot diff` clean.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod backup_common;
mod common;

use backup::layout::{DeltaName, FullName};
use backup::segment;
use backup_common::{
    cluster_with_full, current_revision, key_bucket, save, through_segments, to_events,
    watch_until, writes,
};
use common::lifeboat;
use etcd_client::WatchOptions;

#[tokio::test]
async fn replay_of_watched_events_equals_the_live_snapshot() {
    let (tc, mut c, dir, full, full_rev) = cluster_with_full().await;

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
    let (_tc, mut c, dir, full, full_rev) = cluster_with_full().await;
    writes(&mut c, 1).await.expect("writes");
    let end = current_revision(&mut c).await;
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

/// Each segment encoded to its own file, as `backup restore` keeps its downloads.
fn segment_files(dir: &std::path::Path, segments: &[segment::Segment]) -> Vec<std::path::PathBuf> {
    let mut prev_last = segments[0].header.prev_last_revision;
    segments
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let info = segment::SegmentInfo {
                cluster_id: s.header.cluster_id,
                member_id: s.header.member_id,
                prev_last_revision: prev_last,
                created_ms: s.header.created_ms,
            };
            prev_last = s.header.last_revision;
            let path = dir.join(format!("{i:03}.seg"));
            std::fs::write(&path, segment::encode(info, &s.events).expect("encodes"))
                .expect("write");
            path
        })
        .collect()
}

fn read_segment(path: &std::path::Path) -> Result<segment::Segment, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    segment::decode(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// The replay with the segments decoded on another thread, as `backup restore` runs it.
fn rebuild_ahead(
    full: &std::path::Path,
    files: &[std::path::PathBuf],
    end: i64,
    out: &std::path::Path,
) -> Result<store::replay::ReplayOutcome, String> {
    std::thread::scope(|scope| {
        let segments = backup::rebuild::decoded_ahead(scope, files.iter().map(|p| read_segment(p)));
        backup::rebuild::rebuild(full, None, segments, end, out).map_err(|e| e.to_string())
    })
}

#[tokio::test]
async fn segments_decoded_ahead_rebuild_the_same_bytes_and_fail_the_same_way() {
    let (_tc, mut c, dir, full, full_rev) = cluster_with_full().await;
    for round in 1..4 {
        writes(&mut c, round).await.expect("writes");
    }
    let end = current_revision(&mut c).await;
    let events = to_events(&watch_until(&mut c, full_rev + 1, end).await);
    let segments = through_segments(&events, full_rev);
    assert!(segments.len() > 3, "several segments");
    let files = segment_files(dir.path(), &segments);

    // Read in line and decoded ahead: the same file, byte for byte.
    let in_line = dir.path().join("in-line.db");
    let sequential = backup::rebuild::rebuild(
        &full,
        None,
        files.iter().map(|p| read_segment(p)),
        end,
        &in_line,
    )
    .expect("replay in line");
    let ahead = dir.path().join("ahead.db");
    let pipelined = rebuild_ahead(&full, &files, end, &ahead).expect("replay ahead");
    assert_eq!(sequential, pipelined);
    assert_eq!(
        std::fs::read(&in_line).unwrap(),
        std::fs::read(&ahead).unwrap()
    );

    // A target inside the chain: the consumer stops early and the decoding thread with it.
    let mid = dir.path().join("mid.db");
    let at_mid = rebuild_ahead(&full, &files, full_rev + 5, &mid).expect("replay to mid");
    assert_eq!(at_mid.revision, full_rev + 5);

    // A corrupt segment in the middle of the chain: the same error as read in line, and
    // neither OUT nor its .part is left.
    let bad = &files[files.len() / 2];
    let mut bytes = std::fs::read(bad).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(bad, &bytes).unwrap();
    let out = dir.path().join("bad-in-line.db");
    let in_line_err = backup::rebuild::rebuild(
        &full,
        None,
        files.iter().map(|p| read_segment(p)),
        end,
        &out,
    )
    .expect_err("a corrupt segment fails the replay")
    .to_string();
    assert!(in_line_err.contains("checksum"), "{in_line_err}");
    let out = dir.path().join("bad-ahead.db");
    let ahead_err = rebuild_ahead(&full, &files, end, &out).expect_err("and ahead too");
    assert_eq!(ahead_err, in_line_err);
    for leftover in ["bad-in-line.db", "bad-ahead.db", "bad-ahead.db.part"] {
        assert!(!dir.path().join(leftover).exists(), "{leftover} is left");
    }
}
