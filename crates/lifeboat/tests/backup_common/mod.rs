//! Shared by the backup tests: real etcd history, watch capture, segments, key buckets.

#![allow(dead_code)]

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

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

/// A one-member cluster after the first round of [`writes`], and a full snapshot of it:
/// (cluster, client, work dir, the full's path, its revision). Keep the cluster bound while
/// the client is used: dropping it stops etcd.
pub async fn cluster_with_full() -> (TestCluster, Client, tempfile::TempDir, PathBuf, i64) {
    let tc = TestCluster::plain(1).await;
    let mut c = tc.any_client().await.expect("client");
    writes(&mut c, 0).await.expect("writes");
    let dir = tempfile::tempdir().expect("tempdir");
    let full = dir.path().join("full.db");
    let full_rev = save(&tc, &full);
    (tc, c, dir, full, full_rev)
}

/// The cluster's revision now (the header of a read).
pub async fn current_revision(c: &mut Client) -> i64 {
    c.get("/", None)
        .await
        .expect("get")
        .header()
        .expect("header")
        .revision()
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

/// moto's S3 server on a free loopback port, killed on drop.
pub struct Moto(std::process::Child);

impl Moto {
    pub fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        // A test that stopped it (SIGSTOP) may have failed before resuming it.
        let _ = std::process::Command::new("kill")
            .args(["-CONT", &self.0.id().to_string()])
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One raw HTTP request (moto accepts unsigned requests): creates the bucket.
fn create_bucket(port: u16, bucket: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let req = format!(
        "PUT /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    resp.starts_with("HTTP/1.1 200") || resp.starts_with("HTTP/1.0 200")
}

pub fn start_moto(bucket: &str) -> (Moto, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let child = std::process::Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("moto_server cannot start ({e}): run scripts/setup-s3.sh"));
    let moto = Moto(child);
    for _ in 0..300 {
        if create_bucket(port, bucket) {
            return (moto, port);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("moto_server on port {port} did not answer within 30 s");
}

/// The AWS_* variables that point the S3 client at moto.
pub fn moto_env(port: u16) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}")),
        ("AWS_ALLOW_HTTP", "true".to_string()),
        ("AWS_ACCESS_KEY_ID", "test".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
        ("AWS_REGION", "us-east-1".to_string()),
    ]
}
