//! Every value the fixtures README lists for the snapshot and the dbs, reproduced exactly.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod common;

use store::analyze::{Status, analyze};
use store::schema::EtcdMeta;
use store::snapshot::{ShaStatus, SnapshotFile};

#[test]
fn snapshot_status_matches_etcdctl() {
    let snap = SnapshotFile::open(&common::snapshot()).expect("open");
    assert_eq!((snap.file_len, snap.region_len), (24_608, 24_576));
    let db = snap.db().expect("bbolt");
    let a = analyze(&db);
    assert_eq!(
        a.status,
        Status {
            hash: 2_275_284_803,
            revision: 37,
            total_key: 42,
            total_size: 24_576
        }
    );
    assert_eq!(a.live_keys, 33);
    assert!(
        a.structure_problems.is_empty(),
        "{:?}",
        a.structure_problems
    );
    assert!(a.schema_problems.is_empty(), "{:?}", a.schema_problems);
    let json = serde_json::to_value(a.status).expect("json");
    assert_eq!(
        json,
        serde_json::json!({"hash":2275284803u32,"revision":37,"totalKey":42,"totalSize":24576})
    );
}

#[test]
fn snapshot_sha256_trailer_matches() {
    let snap = SnapshotFile::open(&common::snapshot()).expect("open");
    let want = "77f2e0d99c275b35528c1eddc580c58679046e04425cd5b53169d4a5979e3d70";
    assert_eq!(
        snap.sha_status().expect("sha"),
        ShaStatus::Ok {
            sha256: want.into()
        }
    );
}

#[test]
fn snapshot_meta_members_and_compaction() {
    let snap = SnapshotFile::open(&common::snapshot()).expect("open");
    let db = snap.db().expect("bbolt");
    let m = EtcdMeta::read(&db).expect("meta");
    assert_eq!(m.consistent_index, Some(45));
    assert_eq!(m.term, None);
    assert_eq!(
        (m.scheduled_compact_revision, m.finished_compact_revision),
        (Some(10), Some(10))
    );
    assert_eq!(m.members.len(), 1);
    let mem = &m.members[0];
    assert_eq!(mem.id, "e17fdf966dadd245");
    assert_eq!(mem.name, "m1");
    assert_eq!(mem.peer_urls, ["http://127.0.0.1:23801"]);
    assert_eq!(mem.client_urls, ["http://127.0.0.1:23791"]);
    assert!(m.removed_members.is_empty());
    assert_eq!(m.cluster_version.as_deref(), Some("3.4.0"));
    assert_eq!(
        m.buckets,
        [
            "alarm",
            "auth",
            "authRoles",
            "authUsers",
            "cluster",
            "key",
            "lease",
            "members",
            "members_removed",
            "meta"
        ]
    );
    assert!(m.problems.is_empty(), "{:?}", m.problems);
}

#[test]
fn snapshot_kubernetes_view() {
    let snap = SnapshotFile::open(&common::snapshot()).expect("open");
    let db = snap.db().expect("bbolt");
    let k = analyze(&db).kube;
    let names: Vec<_> = k.resources.iter().map(|r| r.resource.as_str()).collect();
    assert!(names.contains(&"namespaces"), "{names:?}");
    assert!(
        names.contains(&"cilium.io/ciliumnetworkpolicies"),
        "{names:?}"
    );
    assert!(
        names.contains(&"cilium.io/ciliumclusterwidenetworkpolicies"),
        "{names:?}"
    );
    let ns = k
        .resources
        .iter()
        .find(|r| r.resource == "namespaces")
        .expect("namespaces");
    assert_eq!(ns.encodings.get("protobuf"), Some(&1));
    let cnp = k
        .resources
        .iter()
        .find(|r| r.resource == "cilium.io/ciliumnetworkpolicies")
        .expect("cnp");
    assert_eq!(cnp.encodings.get("json"), Some(&1));
    assert!(k.namespaces.iter().any(|n| n.namespace == "demo"));
    assert!(!k.largest.is_empty());
    assert!(k.largest.windows(2).all(|w| w[0].bytes >= w[1].bytes));
}

#[test]
fn data_dir_dbs_match_etcdctl() {
    let d1 = common::extract("datadir-m1-3.4.23.tar.gz");
    let db = bolt::Db::open(&d1.path().join("d1/member/snap/db")).expect("d1 db");
    assert_eq!(db.metas()[1].expect("meta 1").txid, 19);
    let a = analyze(&db);
    assert_eq!(
        a.status,
        Status {
            hash: 2_275_284_803,
            revision: 37,
            total_key: 42,
            total_size: 24_576
        }
    );

    let r = common::extract("restored-a-b-3.4.23.tar.gz");
    let db = bolt::Db::open(&r.path().join("restored-a/member/snap/db")).expect("restored-a db");
    let a = analyze(&db);
    assert_eq!(
        a.status,
        Status {
            hash: 3_257_334_519,
            revision: 37,
            total_key: 42,
            total_size: 24_576
        }
    );
    let m = EtcdMeta::read(&db).expect("meta");
    assert_eq!(m.consistent_index, Some(2));
    // The 3.4 restore quirk: the old member stays in the bucket.
    assert!(m.members.iter().any(|x| x.id == "e17fdf966dadd245"));

    let c = common::extract("c2-after-force-new-cluster-3.4.23.tar.gz");
    let db = bolt::Db::open(&c.path().join("c2f/member/snap/db")).expect("c2f db");
    let a = analyze(&db);
    assert_eq!(
        a.status,
        Status {
            hash: 2_679_413_230,
            revision: 9,
            total_key: 14,
            total_size: 20_480
        }
    );
    let m = EtcdMeta::read(&db).expect("meta");
    assert_eq!(m.removed_members.len(), 2);
    assert_eq!(m.members.len(), 1);
}
