//! "Read what bbolt reads": copies of a real etcd member's `member/snap/db` taken while a
//! writer keeps etcd committing (what is rescued from a dying node), and a Kubernetes db
//! whose meta names a freelist page that is now a leaf (the state of the Kubernetes db that
//! etcd tools such as auger publish as test data). Every copy must open and read; what
//! differs from a clean file must be a finding of its own kind, not a refusal.
//!
//! etcd on Linux never persists a freelist (NoFreelistSync), so live copies cannot catch
//! one mid-rewrite; those cases are crafted in `crates/bolt/tests/findings.rs`, and the
//! freelist-is-a-leaf file is made here from the real etcd 3.4.23 fixture.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use assert_cmd::Command;
use bolt::{Db, NO_FREELIST};
use ops::local::LocalClusterSpec;
use testkit::TestCluster;

/// Copies per test run: enough that several straddle a commit at a 5 ms batch interval.
const COPIES: usize = 40;

const PAGE: usize = 4096;

/// The real etcd 3.4.23 fixture as a raw db (no trailer) whose two meta pages name page 3,
/// the `key` bucket's leaf, as their freelist, re-signed as bbolt signs a meta: a read-write
/// open (etcd's) reads that leaf as a freelist and refuses it; a read-only open need not.
fn freelist_leaf_db(dir: &Path) -> PathBuf {
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/etcd-3.4.23/snapshot.db"
    );
    let mut b = std::fs::read(fixture).expect("fixture snapshot.db");
    b.truncate(6 * PAGE);
    for meta in 0..2 {
        let base = meta * PAGE;
        b[base + 48..base + 56].copy_from_slice(&3u64.to_le_bytes());
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &x in &b[base + 16..base + 72] {
            h ^= u64::from(x);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        b[base + 72..base + 80].copy_from_slice(&h.to_le_bytes());
    }
    let path = dir.join("kube-db-freelist-leaf.db");
    std::fs::write(&path, b).expect("write");
    path
}

/// Read the file in small chunks with pauses, as a copy off a slow failing disk would, so
/// the copy spans several of etcd's commits.
fn slow_copy(path: &Path, pause: Duration) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 16 << 10];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&buf[..n]);
        if !pause.is_zero() {
            std::thread::sleep(pause);
        }
    }
}

#[derive(Default, Debug)]
struct Tally {
    copies: usize,
    /// No problem and no finding: must read exactly what the writer wrote.
    clean: usize,
    /// Findings (past the mark, meta twins): readable, flagged as possibly mixed.
    warned: usize,
    /// Structural problems with no finding: torn within the high-water mark, named.
    unsound: Vec<String>,
    /// Sound as bbolt sees it, but not etcd data: named by the schema check.
    schema: Vec<String>,
    kinds: std::collections::BTreeMap<&'static str, usize>,
}

/// The value size the writer used for `cm-{n}`: mostly small, every 16th one spilling
/// onto overflow pages.
fn size_of(n: usize) -> usize {
    if n % 16 == 15 {
        9000
    } else {
        100 + (n * 1237) % 3000
    }
}

/// Open, check and read one copy; panics on anything a copy must never do.
fn examine(i: usize, bytes: Vec<u8>, t: &mut Tally) {
    let db =
        Db::from_source(Box::new(bytes)).unwrap_or_else(|e| panic!("copy {i} does not open: {e}"));
    assert_eq!(
        db.meta().freelist,
        NO_FREELIST,
        "copy {i}: etcd persisted a freelist"
    );
    let r = db.check();
    t.copies += 1;
    for w in &r.warnings {
        assert!(
            matches!(w.kind(), "past_high_water" | "meta_twins"),
            "copy {i}: unexpected finding {w}"
        );
        *t.kinds.entry(w.kind()).or_default() += 1;
    }
    if !r.warnings.is_empty() {
        t.warned += 1;
        return;
    }
    if let Some(p) = r.problems.first() {
        t.unsound.push(format!("copy {i}: {p}"));
        return;
    }
    // A reused page can also leave a tree that is sound as bbolt sees it but not etcd
    // data (a value that is not an mvccpb.KeyValue): the schema check names it.
    let a = store::analyze::check(&db);
    if let Some(p) = a.schema_problems.first() {
        t.schema.push(format!("copy {i}: {p}"));
        return;
    }
    // Nothing flagged: the copy must hold exactly what the writer wrote.
    t.clean += 1;
    let keys = store::keys::list(&db, b"/registry/configmaps/")
        .unwrap_or_else(|e| panic!("copy {i}: the keys do not list: {e}"));
    assert!(!keys.is_empty(), "copy {i}: no keys");
    for k in &keys {
        let n: usize = k
            .key
            .rsplit("cm-")
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("copy {i}: foreign key {}", k.key));
        assert_eq!(k.value_size as usize, size_of(n), "copy {i}: {}", k.key);
        assert!(k.create_revision <= k.mod_revision, "copy {i}: {}", k.key);
    }
}

async fn write_until(
    mut client: etcd_client::Client,
    stop: Arc<AtomicBool>,
) -> Result<u64, etcd_client::Error> {
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        // Page splits, overflow pages, and freed pages reused after deletes and compactions.
        let size = size_of(n as usize);
        let key = format!("/registry/configmaps/ns-{}/cm-{n:06}", n % 7);
        client.put(key, vec![b'x'; size], None).await?;
        if n % 5 == 4 {
            let old = format!("/registry/configmaps/ns-{}/cm-{:06}", (n - 3) % 7, n - 3);
            client.delete(old, None).await?;
        }
        if n % 200 == 199 {
            let rev = client
                .get("/", None)
                .await?
                .header()
                .map_or(0, |h| h.revision());
            client.compact(rev - 50, None).await?;
        }
        n += 1;
    }
    Ok(n)
}

#[tokio::test]
async fn db_copied_under_write_load_always_reads() {
    let tc = TestCluster::start(LocalClusterSpec {
        members: 1,
        tls: false,
        extra_args: vec!["--backend-batch-interval=5ms".into()],
        ..LocalClusterSpec::default()
    })
    .await;
    let db_path = tc.cluster.members()[0].data_dir.join("member/snap/db");
    let client = tc.client(0).await.expect("client");
    let stop = Arc::new(AtomicBool::new(false));
    let writer = tokio::spawn(write_until(client, stop.clone()));
    tokio::time::sleep(Duration::from_secs(2)).await;

    let mut tally = Tally::default();
    for i in 0..COPIES {
        let pause = Duration::from_micros(if i % 2 == 0 { 0 } else { 300 });
        let p = db_path.clone();
        let bytes = tokio::task::spawn_blocking(move || slow_copy(&p, pause))
            .await
            .expect("copy thread")
            .expect("copy");
        examine(i, bytes, &mut tally);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let written = writer.await.expect("writer task").expect("writes");
    assert!(written > 100, "the writer barely ran ({written} puts)");

    // Quiesced (etcd's compaction also writes, in batches, after the writer stops): once
    // two copies agree, the file is clean, with no finding at all.
    let mut prev = Vec::new();
    let mut stable = None;
    for _ in 0..150 {
        let now = slow_copy(&db_path, Duration::ZERO).expect("copy");
        if now == prev {
            stable = Some(now);
            break;
        }
        prev = now;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let db = Db::from_source(Box::new(stable.expect("etcd kept writing for 30 s"))).expect("opens");
    let r = db.check();
    assert!(r.problems.is_empty() && r.warnings.is_empty(), "{r:?}");

    eprintln!("{written} puts; {tally:?}");
    assert_eq!(tally.copies, COPIES);
    // Fast copies mostly fall between commits: clean ones must exist to prove the check.
    assert!(tally.clean > 0, "no clean copy: {tally:?}");
}

fn lifeboat() -> Command {
    Command::cargo_bin("lifeboat").expect("binary")
}

/// `snapshot inspect` and `kube list/get --snapshot` used to refuse such a file
/// ("freelist page 3: flags 0x0002, expected freelist 0x0010").
#[test]
fn freelist_leaf_kubernetes_db_reads_through_the_cli() {
    let t = tempfile::tempdir().expect("tmp");
    let f = freelist_leaf_db(t.path());
    let f = f.to_str().expect("utf8");
    let out = lifeboat()
        .args(["snapshot", "inspect", f, "-o", "json"])
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    // The same objects as the untouched fixture shows: the freelist changed nothing readable.
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/etcd-3.4.23/snapshot.db"
    );
    let clean = lifeboat()
        .args(["snapshot", "inspect", fixture, "-o", "json"])
        .output()
        .expect("run");
    let clean: serde_json::Value = serde_json::from_slice(&clean.stdout).expect("json");
    assert!(clean["kubernetes"]["objects"].as_u64() > Some(0));
    assert_eq!(v["kubernetes"], clean["kubernetes"]);
    assert_eq!(v["members"][0]["id"], "e17fdf966dadd245");

    // verify: sound (the data is whole), with the freelist named as a warning of its own.
    let out = lifeboat()
        .args(["snapshot", "verify", f, "-o", "json"])
        .output()
        .expect("run");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(out.status.code(), Some(0), "{v}");
    assert_eq!(v["sound"], true, "{v}");
    let kinds: Vec<&str> = v["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .filter_map(|w| w["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["freelist_unreadable"], "{v}");

    let out = lifeboat()
        .args(["kube", "list", "-A", "--snapshot", f, "-o", "json"])
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for r in [
        "namespaces",
        "ciliumnetworkpolicies",
        "ciliumclusterwidenetworkpolicies",
    ] {
        assert!(text.contains(r), "{r} missing: {text}");
    }
    let out = lifeboat()
        .args(["kube", "get", "namespaces", "demo", "--snapshot", f])
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("kind: Namespace"));
}

/// The same file as a member's db: `datadir inspect` shows its data and says etcd would
/// not start on it (etcd 3.4.23: `panic: invalid freelist page: N, page type is leaf`).
#[test]
fn freelist_leaf_db_in_a_data_dir_is_read_and_flagged() {
    let t = tempfile::tempdir().expect("tmp");
    let made = tempfile::tempdir().expect("tmp");
    let snap = t.path().join("member/snap");
    std::fs::create_dir_all(&snap).expect("mkdir");
    std::fs::create_dir_all(t.path().join("member/wal")).expect("mkdir");
    std::fs::copy(freelist_leaf_db(made.path()), snap.join("db")).expect("copy");
    let out = lifeboat()
        .args(["datadir", "inspect", "-o", "json"])
        .arg(t.path())
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["db"]["consistent_index"], 45);
    let blockers = v["start_blockers"].to_string();
    assert!(blockers.contains("invalid freelist page"), "{blockers}");
}

/// What the finding recommends works: `snapshot restore` of the file writes a fresh db (no
/// freelist) that real etcd starts on and serves every key from (etcd itself, on the file as
/// it is, panics `invalid freelist page`).
#[tokio::test]
async fn freelist_leaf_db_restores_and_real_etcd_serves_it() {
    use testkit::restored::{self, Plan};
    let tmp = tempfile::tempdir().expect("tmp");
    let root = tmp.path();
    let made = tempfile::tempdir().expect("tmp");
    let plan = Plan::new(&["a1"], false).expect("ports");
    let out = lifeboat()
        .args(["snapshot", "restore"])
        .arg(freelist_leaf_db(made.path()))
        .args([
            "--skip-hash-check",
            "--name=a1",
            &format!("--initial-cluster={}", plan.initial_cluster()),
            &format!("--initial-advertise-peer-urls={}", plan.peer_url(0)),
            "--initial-cluster-token=t-leaf",
        ])
        .arg(format!("--data-dir={}", root.join("a1").display()))
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = plan.start(root, "t-leaf", None).expect("etcd starts");
    r.wait_healthy(testkit::STARTUP_TIMEOUT)
        .await
        .expect("healthy");
    let mut c = r.client(0).await.expect("client");
    let (kvs, _) = restored::all_kvs(&mut c).await.expect("read");
    let keys: Vec<String> = kvs
        .keys()
        .map(|k| String::from_utf8_lossy(k).into_owned())
        .collect();
    for k in [
        "/registry/namespaces/demo",
        "/registry/cilium.io/ciliumnetworkpolicies/demo/allow-dns",
        "/registry/cilium.io/ciliumclusterwidenetworkpolicies/default-deny",
    ] {
        assert!(keys.iter().any(|x| x == k), "{k} not served: {keys:?}");
    }
}
