//! Issue 16 part 2: the policy model kept live from etcd. `policy_etcd::LiveView` follows puts
//! and deletes of nodes, pods and policies written as the API server stores them (protobuf,
//! JSON), re-lists when its watch was compacted away and keeps following through compactions;
//! `lifeboat policy watch` turns critical when the incident's lockout policy is written
//! straight into etcd, says so on stdout and on /metrics, and goes back to ok when it is
//! deleted. Real etcd (any version the suite runs).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use etcd_client::{Client, CompactionOptions};
use policy_etcd::{LiveView, View};
use serde_json::Value;
use testkit::TestCluster;

/// Bound on waiting for a view or a line: a hang fails the test (not a performance assertion).
const WAIT: Duration = Duration::from_secs(60);

fn ips(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("198.18.0.{i}")).collect()
}

/// The sample control plane of `n` nodes as the API server stores it.
fn cluster(n: usize) -> Vec<(String, Vec<u8>)> {
    ops::kube::sample::control_plane(&ips(n)).unwrap()
}

/// What `cluster(4)` holds beyond `cluster(3)`: the fourth node and its pods.
fn fourth_node() -> Vec<(String, Vec<u8>)> {
    let three: Vec<String> = cluster(3).into_iter().map(|(k, _)| k).collect();
    cluster(4)
        .into_iter()
        .filter(|(k, _)| !three.contains(k))
        .collect()
}

async fn seed(c: &mut Client) {
    for (k, v) in cluster(3) {
        c.put(k, v, None).await.unwrap();
    }
}

/// Waits (bounded) until the view satisfies `ok`.
async fn until(view: &LiveView, what: &str, ok: impl Fn(&View) -> bool) -> Arc<View> {
    let mut rx = view.subscribe();
    let found = tokio::time::timeout(WAIT, rx.wait_for(|v| ok(v))).await;
    match found {
        Ok(Ok(v)) => v.clone(),
        _ => panic!("the view never showed {what}: {:?}", view.view().revision),
    }
}

fn nodes(v: &View) -> usize {
    v.loaded.inventory.nodes.len()
}

fn pods(v: &View) -> usize {
    v.loaded.inventory.pods.len()
}

fn has_lockout(v: &View) -> bool {
    v.loaded
        .policies
        .cilium
        .iter()
        .any(|p| format!("{p:?}").contains(ops::kube::sample::LOCKOUT_POLICY))
}

#[tokio::test]
async fn live_view_follows_puts_and_deletes() {
    let tc = TestCluster::plain(1).await;
    let mut c = tc.any_client().await.unwrap();
    seed(&mut c).await;
    let view = LiveView::start(c.clone(), policy::input::InputSpec::default())
        .await
        .unwrap();
    let start = view.view();
    assert_eq!(nodes(&start), 3);
    assert!(!has_lockout(&start));
    let pods_before = pods(&start);

    // A node and its pods (protobuf, as the API server stores core objects).
    for (k, v) in fourth_node() {
        c.put(k, v, None).await.unwrap();
    }
    let v = until(&view, "the fourth node", |v| {
        nodes(v) == 4 && pods(v) > pods_before
    })
    .await;
    assert!(v.revision > start.revision);
    assert_eq!(view.current().inventory.nodes.len(), 4);

    // A policy (JSON, as the API server stores custom resources), then its deletion.
    let (key, value) = ops::kube::sample::lockout_policy().unwrap();
    c.put(key.clone(), value, None).await.unwrap();
    until(&view, "the lockout policy", has_lockout).await;
    c.delete(key, None).await.unwrap();
    until(&view, "the lockout policy gone", |v| !has_lockout(v)).await;

    // Deleting the node's keys takes it out again; an unrelated key changes nothing.
    for (k, _) in fourth_node() {
        c.delete(k, None).await.unwrap();
    }
    c.put("/registry/events/default/x", "noise", None)
        .await
        .unwrap();
    // The keys go one delete at a time and the view may publish between them (a node gone
    // while its pods are not yet): wait for both.
    let v = until(&view, "three nodes and their pods again", |v| {
        nodes(v) == 3 && pods(v) == pods_before
    })
    .await;
    assert_eq!(pods(&v), pods_before);
    assert_eq!(v.relists, 0, "nothing forced a new listing");
    assert!(v.error.is_none());
}

#[tokio::test]
async fn a_compacted_watch_relists_and_compactions_under_the_watch_are_survived() {
    let tc = TestCluster::plain(1).await;
    let mut c = tc.any_client().await.unwrap();
    seed(&mut c).await;
    let (docs, listed_at) = policy_etcd::live::list(&mut c).await.unwrap();

    // Changes after the listing, then a compaction past it: the watch from listed_at + 1
    // cannot be served and the view must list again (and say so), not miss the node.
    for (k, v) in fourth_node() {
        c.put(k, v, None).await.unwrap();
    }
    let rev = c.get("x", None).await.unwrap().header().unwrap().revision();
    c.compact(rev, Some(CompactionOptions::new().with_physical()))
        .await
        .unwrap();
    let view = LiveView::resume(
        c.clone(),
        policy::input::InputSpec::default(),
        docs,
        listed_at,
    )
    .unwrap();
    assert_eq!(nodes(&view.view()), 3, "starts from the stale listing");
    let v = until(&view, "a new listing with the fourth node", |v| {
        v.relists == 1 && nodes(v) == 4
    })
    .await;
    assert!(
        v.last_relist.as_deref().unwrap_or("").contains("compacted"),
        "{:?}",
        v.last_relist
    );

    // A compaction while the watch is caught up: the watch goes on.
    c.put("/registry/events/default/x", "noise", None)
        .await
        .unwrap();
    let rev = c.get("x", None).await.unwrap().header().unwrap().revision();
    c.compact(rev, None).await.unwrap();
    let (key, value) = ops::kube::sample::lockout_policy().unwrap();
    c.put(key.clone(), value, None).await.unwrap();
    until(&view, "the lockout policy after a compaction", has_lockout).await;
    c.delete(key, None).await.unwrap();
    let v = until(&view, "the lockout policy gone", |v| !has_lockout(v)).await;
    assert_eq!(
        v.relists, 1,
        "a compaction behind the watch needs no new listing"
    );
}

/// `lifeboat policy watch` as a child process, its stdout lines on a channel.
struct Watch {
    child: Child,
    lines: mpsc::Receiver<String>,
    metrics: std::net::SocketAddr,
}

impl Watch {
    fn start(conn: &[String]) -> Watch {
        let metrics = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("lifeboat"))
            .args(["policy", "watch", "-o", "json", "--metrics-listen"])
            .arg(metrics.to_string())
            .args(conn)
            .env_remove("LIFEBOAT_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Watch {
            child,
            lines,
            metrics,
        }
    }

    /// The next verdict change (bounded wait).
    fn next(&self) -> Value {
        let line = self
            .lines
            .recv_timeout(WAIT)
            .expect("a verdict change line in time");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    }

    /// The value of one gauge on /metrics.
    fn gauge(&self, name: &str) -> Option<f64> {
        let mut conn = std::net::TcpStream::connect(self.metrics).ok()?;
        conn.write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n")
            .ok()?;
        let mut body = String::new();
        conn.read_to_string(&mut body).ok()?;
        body.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.trim().parse().ok())
    }

    /// Polls /metrics (bounded) until `name` reads `want`.
    fn gauge_becomes(&self, name: &str, want: f64) {
        let deadline = std::time::Instant::now() + WAIT;
        while std::time::Instant::now() < deadline {
            if self.gauge(name) == Some(want) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("{name} never read {want} (last: {:?})", self.gauge(name));
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn policy_watch_turns_critical_on_a_lockout_and_back_to_ok() {
    let tc = TestCluster::tls(1).await;
    let mut c = tc.any_client().await.unwrap();
    seed(&mut c).await;
    let watch = Watch::start(&tc.cli_args());

    let first = watch.next();
    assert_eq!(first["from"], Value::Null, "{first}");
    // Without policies the sample cluster may draw warnings (findings), never a cut.
    let calm = first["to"].clone();
    assert_ne!(calm, "critical", "{first}");
    let calm_code = if calm == "ok" { 0.0 } else { 1.0 };
    watch.gauge_becomes("lifeboat_policy_verdict", calm_code);

    // The incident: the lockout policy written straight into etcd, as the API server would.
    let (key, value) = ops::kube::sample::lockout_policy().unwrap();
    c.put(key.clone(), value, None).await.unwrap();
    let change = watch.next();
    assert_eq!(
        (&change["from"], &change["to"]),
        (&calm, &"critical".into()),
        "{change}"
    );
    let cuts = change["critical_cuts"].as_array().unwrap();
    assert!(
        cuts.iter()
            .any(|c| c.as_str().unwrap_or("").contains("2379")),
        "etcd named among the cuts: {change}"
    );
    watch.gauge_becomes("lifeboat_policy_verdict", 2.0);
    assert!(watch.gauge("lifeboat_policy_critical_cuts").unwrap() >= 1.0);
    assert!(
        watch.gauge("lifeboat_policy_watch_revision").unwrap()
            >= change["revision"].as_f64().unwrap()
    );

    c.delete(key, None).await.unwrap();
    let back = watch.next();
    assert_eq!(
        (&back["from"], &back["to"]),
        (&"critical".into(), &calm),
        "{back}"
    );
    watch.gauge_becomes("lifeboat_policy_verdict", calm_code);
    watch.gauge_becomes("lifeboat_policy_critical_cuts", 0.0);

    // SIGTERM ends it cleanly.
    let mut watch = watch;
    // SAFETY: a plain kill(2) of our own child.
    let _ = unsafe { libc::kill(watch.child.id() as i32, libc::SIGTERM) };
    let status = watch.child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

/// `lifeboat agent --policy-watch`: the same loop inside the agent, its gauges on the agent's
/// own /metrics beside the backup's.
#[tokio::test]
async fn the_agent_serves_the_policy_verdict_with_policy_watch() {
    let tc = TestCluster::plain(1).await;
    let mut c = tc.any_client().await.unwrap();
    seed(&mut c).await;
    let (key, value) = ops::kube::sample::lockout_policy().unwrap();
    c.put(key, value, None).await.unwrap();
    let store = tempfile::tempdir().unwrap();
    let metrics = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let child = Command::new(assert_cmd::cargo::cargo_bin("lifeboat"))
        .args(["agent", "--policy-watch", "--work-dir"])
        .arg(store.path())
        .arg("--store")
        .arg(format!("file://{}", store.path().display()))
        .arg("--metrics-listen")
        .arg(metrics.to_string())
        .args(tc.cli_args())
        .env_remove("LIFEBOAT_BACKUP_STORE")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (_tx, lines) = mpsc::channel();
    let agent = Watch {
        child,
        lines,
        metrics,
    };
    agent.gauge_becomes("lifeboat_policy_verdict", 2.0);
    // The backup's gauges are still there: one exposition, not one replacing the other.
    assert!(agent.gauge("lifeboat_agent_leader").is_some());
}
