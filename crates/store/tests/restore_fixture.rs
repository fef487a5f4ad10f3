//! Native restore against etcd 3.4.23's own output for the same inputs (fixture
//! `restored-a-b`: `etcdctl snapshot restore snapshot.db` for a=…:24801, b=…:24802, token
//! `tok-restore`): WAL and snap byte for byte, IDs, and a backend that differs only where
//! 3.4 is known to be wrong (it leaves the old member in `members`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod common;

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::Path;

use store::mvcc::Revision;
use store::restore::{self, Bump, EtcdVersion, NewCluster, Request, RestoreError, Target};
use store::schema::EtcdMeta;

const INITIAL: &str = "a=http://127.0.0.1:24801,b=http://127.0.0.1:24802";
const WAL: &str = "member/wal/0000000000000000-0000000000000000.wal";
const SNAP: &str = "member/snap/0000000000000001-0000000000000002.snap";

fn cluster() -> NewCluster {
    restore::parse(INITIAL, "tok-restore").unwrap()
}

fn targets(root: &Path) -> Vec<Target> {
    ["a", "b"]
        .iter()
        .map(|n| Target {
            name: n.to_string(),
            data_dir: root.join(format!("restored-{n}")),
        })
        .collect()
}

/// Every (bucket, key) -> value of a db.
fn contents(path: &Path) -> BTreeMap<(Vec<u8>, Vec<u8>), Vec<u8>> {
    let db = bolt::Db::open(path).unwrap();
    let mut out = BTreeMap::new();
    let report = db.walk(10, &mut |e| {
        if let Some(b) = e.path.first() {
            out.insert((b.clone(), e.key.to_vec()), e.value.to_vec());
        }
        ControlFlow::Continue(())
    });
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    out
}

#[test]
fn ids_wal_and_snap_match_etcd_byte_for_byte() {
    let c = cluster();
    assert_eq!(
        format!("{:x}", c.member("a").unwrap().id),
        "a952749a57bc8bf8"
    );
    assert_eq!(
        format!("{:x}", c.member("b").unwrap().id),
        "6f05ef644d46119b"
    );
    assert_eq!(format!("{:x}", c.cluster_id), "cb91783416cdb48b");
    let golden = common::extract("restored-a-b-3.4.23.tar.gz");
    for name in ["a", "b"] {
        let dir = golden.path().join(format!("restored-{name}"));
        let want = std::fs::read(dir.join(WAL)).unwrap();
        let ours = restore::wal_bytes(&c, c.member(name).unwrap().id, EtcdVersion::new(3, 4));
        assert_eq!(want.len(), 64_000_000);
        assert_eq!(&want[..ours.len()], ours.as_slice(), "WAL of {name}");
        assert!(want[ours.len()..].iter().all(|&b| b == 0));
        assert_eq!(
            std::fs::read(dir.join(SNAP)).unwrap(),
            restore::snap_bytes(&c, EtcdVersion::new(3, 4))
        );
    }
    assert_eq!(
        restore::snap_name(&c),
        "0000000000000001-0000000000000002.snap"
    );
}

#[test]
fn restore_of_the_fixture_snapshot_matches_etcd_except_the_trimmed_members() {
    let out = tempfile::tempdir().unwrap();
    let c = cluster();
    let t = targets(out.path());
    let outcome = restore::restore(&Request {
        snapshot: &common::snapshot(),
        cluster: &c,
        targets: &t,
        skip_hash_check: false,
        bump: Bump::Off,
        move_aside: None,
        identities: None,
        etcd_version: Some(EtcdVersion::new(3, 4)),
    })
    .unwrap();
    assert_eq!(outcome.hash_check, "verified");
    assert_eq!(outcome.cluster_id, "cb91783416cdb48b");
    assert!(outcome.db.kubernetes);
    assert_eq!(outcome.db.revision, 37);
    assert_eq!(outcome.db.trimmed_members, 1);
    assert_eq!(outcome.db.alarms, 0);
    assert!(outcome.db.bump.is_none());

    let golden = common::extract("restored-a-b-3.4.23.tar.gz");
    for name in ["a", "b"] {
        let ours = out.path().join(format!("restored-{name}"));
        let theirs = golden.path().join(format!("restored-{name}"));
        assert_eq!(
            std::fs::read(ours.join(WAL)).unwrap(),
            std::fs::read(theirs.join(WAL)).unwrap()
        );
        assert_eq!(
            std::fs::read(ours.join(SNAP)).unwrap(),
            std::fs::read(theirs.join(SNAP)).unwrap()
        );

        let mut got = contents(&ours.join("member/snap/db"));
        let mut want = contents(&theirs.join("member/snap/db"));
        // 3.4 leaves the old member; 3.5+ (and we) replace the bucket with the new members.
        let members: Vec<_> = got
            .keys()
            .filter(|(b, _)| b == b"members")
            .cloned()
            .collect();
        let member_keys: Vec<&[u8]> = members.iter().map(|(_, k)| k.as_slice()).collect();
        assert_eq!(
            member_keys,
            [b"6f05ef644d46119b".as_slice(), b"a952749a57bc8bf8"]
        );
        for k in members {
            got.remove(&k);
        }
        want.retain(|(b, _), _| b != b"members");
        // For 3.4 no term is written, as 3.4's etcdctl writes none.
        assert!(!got.contains_key(&(b"meta".to_vec(), b"term".to_vec())));
        assert_eq!(got, want, "{name}");
    }
    // Nothing temporary is left beside the dirs.
    let names: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn the_default_bump_on_kubernetes_data_marks_everything_older_compacted() {
    let out = tempfile::tempdir().unwrap();
    let c = cluster();
    let t = &targets(out.path())[..1];
    let outcome = restore::restore(&Request {
        snapshot: &common::snapshot(),
        cluster: &c,
        targets: t,
        skip_hash_check: false,
        bump: Bump::Auto,
        move_aside: None,
        identities: None,
        etcd_version: Some(EtcdVersion::new(3, 4)),
    })
    .unwrap();
    let b = outcome
        .db
        .bump
        .expect("bumped: the fixture holds /registry/ keys");
    assert_eq!(
        (b.amount, b.revision, b.automatic),
        (1_000_000_000, 1_000_000_037, true)
    );
    let db = bolt::Db::open(&t[0].data_dir.join("member/snap/db")).unwrap();
    let key = db.bucket(b"key").unwrap().unwrap();
    let (last, value) = db.last(&key).unwrap().unwrap();
    assert_eq!(Revision::parse(&last).unwrap().main, 1_000_000_037);
    assert!(value.is_empty());
    let meta = EtcdMeta::read(&db).unwrap();
    assert_eq!(meta.scheduled_compact_revision, Some(1_000_000_037));
    assert_eq!(meta.finished_compact_revision, Some(10));
    assert_eq!(meta.consistent_index, Some(2));
    assert_eq!(meta.members.len(), 2);
}

fn refused(bytes: &[u8], skip: bool) -> (RestoreError, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.db");
    std::fs::write(&file, bytes).unwrap();
    let c = cluster();
    let t = targets(&dir.path().join("out"));
    let err = restore::restore(&Request {
        snapshot: &file,
        cluster: &c,
        targets: &t,
        skip_hash_check: skip,
        bump: Bump::Off,
        move_aside: None,
        identities: None,
        etcd_version: Some(EtcdVersion::new(3, 4)),
    })
    .unwrap_err();
    // Not even the output root it would have created is left.
    let out = dir.path().join("out");
    assert!(!out.exists(), "{err}: left {}", out.display());
    (err, dir)
}

#[test]
fn truncated_bit_flipped_or_raw_inputs_are_refused_and_nothing_is_written() {
    let good = std::fs::read(common::snapshot()).unwrap();
    let (e, _d) = refused(&good[..good.len() - 100], false);
    assert!(e.to_string().contains("no SHA-256 trailer"), "{e}");
    let mut flipped = good.clone();
    flipped[3 * 4096 + 700] ^= 0x10;
    let (e, _d) = refused(&flipped, false);
    assert!(e.to_string().contains("SHA-256 mismatch"), "{e}");
    assert!(e.to_string().contains("nothing was written"), "{e}");
    // With the hash check skipped, a page whose header is damaged still fails the walk.
    let mut broken = good[..24_576].to_vec();
    broken[3 * 4096] ^= 0xff;
    let (e, _d) = refused(&broken, true);
    assert!(matches!(e, RestoreError::Refused { .. }), "{e}");
}

#[test]
fn a_raw_db_needs_skip_hash_check_and_then_restores() {
    let good = std::fs::read(common::snapshot()).unwrap();
    let (e, dir) = refused(&good[..24_576], false);
    assert!(e.to_string().contains("--skip-hash-check"), "{e}");
    let c = cluster();
    let t = targets(&dir.path().join("out"));
    let outcome = restore::restore(&Request {
        snapshot: &dir.path().join("bad.db"),
        cluster: &c,
        targets: &t,
        skip_hash_check: true,
        bump: Bump::Off,
        move_aside: None,
        identities: None,
        etcd_version: Some(EtcdVersion::new(3, 4)),
    })
    .unwrap();
    assert_eq!(outcome.hash_check, "absent");
    assert_eq!(outcome.restored.len(), 2);
}

#[test]
fn a_non_empty_target_is_refused_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let t = targets(dir.path());
    std::fs::create_dir_all(&t[1].data_dir).unwrap();
    std::fs::write(t[1].data_dir.join("precious"), b"keep").unwrap();
    let c = cluster();
    let err = restore::restore(&Request {
        snapshot: &common::snapshot(),
        cluster: &c,
        targets: &t,
        skip_hash_check: false,
        bump: Bump::Off,
        move_aside: None,
        identities: None,
        etcd_version: Some(EtcdVersion::new(3, 4)),
    })
    .unwrap_err();
    assert!(err.to_string().contains("not empty"), "{err}");
    assert_eq!(
        std::fs::read(t[1].data_dir.join("precious")).unwrap(),
        b"keep"
    );
    assert!(!t[0].data_dir.exists());
    // An empty dir is fine and gets filled.
    std::fs::remove_file(t[1].data_dir.join("precious")).unwrap();
    restore::restore(&Request {
        snapshot: &common::snapshot(),
        cluster: &c,
        targets: &t,
        skip_hash_check: false,
        bump: Bump::Off,
        move_aside: None,
        identities: None,
        etcd_version: Some(EtcdVersion::new(3, 4)),
    })
    .unwrap();
    assert!(t[1].data_dir.join(WAL).exists());
}

/// A minimal backend written with the compact writer: `key` (one put), `meta` and an `alarm`
/// entry, but no `members` buckets (as in a 3.3 snapshot), with a SHA-256 trailer.
fn synthetic_snapshot(path: &Path) {
    use sha2::{Digest, Sha256};
    let mut w = bolt::Writer::new(std::io::Cursor::new(Vec::new()), 4096).unwrap();
    w.begin_bucket(b"alarm", 0).unwrap();
    w.put(b"\x08\x01\x10\x01", b"").unwrap();
    w.end_bucket().unwrap();
    w.begin_bucket(b"key", 0).unwrap();
    let rev = Revision {
        main: 5,
        sub: 0,
        tombstone: false,
    }
    .to_key();
    // mvccpb.KeyValue{key "/a", create 5, mod 5, version 1, value "v"}
    w.put(&rev, b"\x0a\x02/a\x10\x05\x18\x05\x20\x01\x2a\x01v")
        .unwrap();
    w.end_bucket().unwrap();
    w.begin_bucket(b"meta", 0).unwrap();
    w.put(b"consistent_index", &9u64.to_be_bytes()).unwrap();
    w.end_bucket().unwrap();
    let (cur, _) = w.finish(3).unwrap();
    let mut bytes = cur.into_inner();
    let sum = Sha256::digest(&bytes);
    bytes.extend_from_slice(&sum);
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn missing_member_buckets_are_created_and_alarms_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.db");
    synthetic_snapshot(&file);
    let c = cluster();
    let t = targets(dir.path());
    let out = restore::restore(&Request {
        snapshot: &file,
        cluster: &c,
        targets: &t,
        skip_hash_check: false,
        bump: Bump::By(100),
        move_aside: None,
        identities: None,
        etcd_version: Some(EtcdVersion::new(3, 4)),
    })
    .unwrap();
    assert_eq!(out.db.alarms, 1);
    assert!(!out.db.kubernetes);
    assert_eq!(
        out.db.bump.map(|b| (b.revision, b.automatic)),
        Some((105, false))
    );
    let db = bolt::Db::open(&t[0].data_dir.join("member/snap/db")).unwrap();
    let meta = EtcdMeta::read(&db).unwrap();
    assert_eq!(meta.members.len(), 2);
    assert!(meta.buckets.iter().any(|b| b == "members_removed"));
    assert_eq!(meta.consistent_index, Some(2));
    assert_eq!(meta.scheduled_compact_revision, Some(105));
}

#[test]
fn member_ids_with_leading_zero_digits_restore_and_are_stored_unpadded() {
    // Find a peer URL whose member ID starts with a zero nibble (1 in 16 do).
    let (url, id) = (1u16..)
        .map(|p| format!("http://127.0.0.1:{}", 20000 + p))
        .map(|u| {
            let id = restore::member_id(std::slice::from_ref(&u), "t");
            (u, id)
        })
        .find(|(_, id)| *id < 1 << 60)
        .unwrap();
    let c = restore::parse(&format!("z={url}"), "t").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let t = [Target {
        name: "z".into(),
        data_dir: dir.path().join("z"),
    }];
    restore::restore(&Request {
        snapshot: &common::snapshot(),
        cluster: &c,
        targets: &t,
        skip_hash_check: false,
        bump: Bump::Off,
        move_aside: None,
        identities: None,
        etcd_version: Some(EtcdVersion::new(3, 4)),
    })
    .unwrap();
    let got = contents(&t[0].data_dir.join("member/snap/db"));
    let keys: Vec<Vec<u8>> = got
        .keys()
        .filter(|(b, _)| b == b"members")
        .map(|(_, k)| k.clone())
        .collect();
    assert_eq!(keys, [format!("{id:x}").into_bytes()]);
    assert!(keys[0].len() < 16, "unpadded, as etcd keys them");
}

#[test]
fn staging_dirs_of_killed_restores_are_removed_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    // pid 1 always runs; a pid above the kernel's maximum never does.
    let dead = dir.path().join(".restored-a.lifeboat-restore-4194305");
    let dead_n = dir.path().join(".restored-a.lifeboat-restore-4194305-1");
    let live = dir.path().join(".restored-a.lifeboat-restore-1");
    let stranger = dir.path().join(".restored-a.lifeboat-restore-x");
    for d in [&dead, &dead_n, &live, &stranger] {
        std::fs::create_dir_all(d.join("member/snap")).unwrap();
        std::fs::write(d.join("member/snap/db"), b"partial").unwrap();
    }
    let c = cluster();
    let t = targets(dir.path());
    let out = restore::restore(&Request {
        snapshot: &common::snapshot(),
        cluster: &c,
        targets: &t,
        skip_hash_check: false,
        bump: Bump::Off,
        move_aside: None,
        identities: None,
        etcd_version: Some(EtcdVersion::new(3, 4)),
    })
    .unwrap();
    assert_eq!(out.removed_leftovers, [dead.clone(), dead_n.clone()]);
    assert!(!dead.exists() && !dead_n.exists());
    assert!(
        live.exists() && stranger.exists(),
        "only dead owners' dirs go"
    );
    let json = serde_json::to_value(&out).unwrap();
    assert_eq!(json["removed_leftovers"].as_array().unwrap().len(), 2);
}
