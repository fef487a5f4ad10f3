//! When the delta log seals a segment: once its oldest event is half of `flush_every` old
//! (`deltas::seal_age`), counted from that event, so that the event plus the spool's fsync and
//! the upload stay within `flush_every`. Each segment records both times itself (its header's
//! `created_ms`, its first event's `observed_ms`, both from the agent's clock).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod backup_common;
mod common;

use std::time::Duration;

use backup::agent::deltas::{self, DeltaConfig, Stopped};
use backup::remote::Store;
use backup_common::current_revision;
use testkit::TestCluster;

/// Polls (20 s bound) until a stored segment reaches `end`; returns it.
async fn segment_reaching(store: &Store, end: i64) -> backup::segment::Segment {
    for _ in 0..200 {
        let contents = store.contents().await.expect("list");
        if let Some((name, _)) = contents.deltas.iter().find(|(d, _)| d.last_revision >= end) {
            return backup::check::fetch_segment(store, name)
                .await
                .expect("segment reads back");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no segment reached revision {end} within 20 s");
}

/// With `flush_every` 4 s, a write is sealed about 2 s after the agent saw it. A free-running
/// 4 s timer (the old behaviour) sealed a write made just after a tick nearly 4 s later, and
/// each round below writes just after the previous segment was sealed.
#[tokio::test]
async fn a_segment_is_sealed_when_its_oldest_event_is_half_flush_every_old() {
    let tc = TestCluster::plain(1).await;
    let mut c = tc.any_client().await.expect("client");
    c.put("/before", "x", None).await.expect("put");
    let start = current_revision(&mut c).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("file://{}", dir.path().display());
    let store = Store::open(&url).expect("store");
    let mut cfg = DeltaConfig::new(1, 1);
    cfg.flush_every = Duration::from_secs(4);
    assert_eq!(deltas::seal_age(cfg.flush_every), Duration::from_secs(2));
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let mut watch_client = tc.any_client().await.expect("client");
    let log_store = Store::open(&url).expect("store");
    let log = tokio::spawn(async move {
        deltas::run(&mut watch_client, &log_store, start, &cfg, &mut stop_rx).await
    });
    for round in 0..2 {
        c.put(format!("/round-{round}"), "v", None)
            .await
            .expect("put");
        let end = current_revision(&mut c).await;
        let seg = segment_reaching(&store, end).await;
        let waited = seg.header.created_ms - seg.events[0].observed_ms;
        assert!(
            (1_900..3_000).contains(&waited),
            "round {round}: the segment was sealed {waited} ms after its oldest event (flush_every 4 s: about 2,000 expected)"
        );
    }
    stop_tx.send(true).expect("stop");
    let stopped = log.await.expect("joins").expect("log ran");
    assert!(matches!(stopped, Stopped::Shutdown { .. }), "{stopped:?}");
}
