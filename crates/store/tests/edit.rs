//! Offline delete on the real etcd 3.4.23 fixture snapshot: the new file is a sound snapshot
//! with exactly that key gone and everything else identical.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

use std::path::PathBuf;

use store::edit::{EditError, delete_to_snapshot};
use store::objects::latest;
use store::snapshot::SnapshotFile;

const CCNP: &[u8] = b"/registry/cilium.io/ciliumclusterwidenetworkpolicies/default-deny";

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/etcd-3.4.23/snapshot.db")
}

#[test]
fn delete_writes_a_sound_snapshot_without_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("edited.db");
    let src = SnapshotFile::open(&fixture()).expect("fixture");
    let db = src.db().expect("db");
    let before = latest(&db, b"").expect("walk");
    let outcome = delete_to_snapshot(&db, &out, &[CCNP.to_vec()]).expect("delete");
    assert_eq!(outcome.deleted.len(), 1);
    // Revision 37 is the fixture's current revision; the tombstone goes one above.
    assert_eq!(outcome.revision, 38);

    let report = store::report::verify(&out).expect("verify runs");
    assert!(report.sound, "{report:?}");
    let edited = SnapshotFile::open(&out).expect("edited");
    let after = latest(&edited.db().expect("db"), b"").expect("walk");
    let expected: Vec<_> = before.iter().filter(|kv| kv.key != CCNP).cloned().collect();
    assert_eq!(after, expected);
    assert_eq!(before.len(), after.len() + 1);
    let parts = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
        .count();
    assert_eq!(parts, 0, "no temporary file left");
}

#[test]
fn missing_keys_and_existing_outputs_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = SnapshotFile::open(&fixture()).expect("fixture");
    let db = src.db().expect("db");
    let out = dir.path().join("x.db");
    let err = delete_to_snapshot(&db, &out, &[b"/registry/pods/none/none".to_vec()]).unwrap_err();
    assert!(matches!(err, EditError::NotFound(_)), "{err}");
    assert!(!out.exists() && !dir.path().join("x.db.part").exists());
    std::fs::write(&out, b"keep me").expect("write");
    let err = delete_to_snapshot(&db, &out, &[CCNP.to_vec()]).unwrap_err();
    assert!(err.to_string().contains("exists"), "{err}");
    assert_eq!(std::fs::read(&out).expect("read"), b"keep me");
}

#[test]
fn put_adds_a_revision_and_keeps_create_revision() {
    use store::edit::{Change, apply_to_snapshot};
    let dir = tempfile::tempdir().expect("tempdir");
    let src = SnapshotFile::open(&fixture()).expect("fixture");
    let db = src.db().expect("db");
    let old = latest(&db, CCNP)
        .expect("walk")
        .into_iter()
        .find(|kv| kv.key == CCNP)
        .expect("ccnp");
    let out = dir.path().join("put.db");
    let changes = [
        Change::Put {
            key: CCNP.to_vec(),
            value: b"{\"replaced\":true}\n".to_vec(),
        },
        Change::Put {
            key: b"/registry/namespaces/new".to_vec(),
            value: b"{}\n".to_vec(),
        },
    ];
    let outcome = apply_to_snapshot(&db, &out, &changes).expect("apply");
    assert_eq!(outcome.revision, 38);
    assert!(store::report::verify(&out).expect("verify").sound);
    let edited = SnapshotFile::open(&out).expect("edited");
    let after = latest(&edited.db().expect("db"), b"/registry/").expect("walk");
    let ccnp = after.iter().find(|kv| kv.key == CCNP).expect("ccnp kept");
    assert_eq!(ccnp.value, b"{\"replaced\":true}\n");
    assert_eq!(
        (ccnp.create_revision, ccnp.mod_revision, ccnp.version),
        (old.create_revision, 38, old.version + 1)
    );
    let new = after
        .iter()
        .find(|kv| kv.key == b"/registry/namespaces/new")
        .expect("new key");
    assert_eq!(
        (new.create_revision, new.mod_revision, new.version),
        (38, 38, 1)
    );
}

/// The encrypted edit streams through age with its meta pages computed by a first pass: the
/// file it writes decrypts to exactly the bytes the plain edit writes, on a db of many pages.
#[test]
fn the_encrypted_edit_holds_exactly_the_plain_edit() {
    use std::io::Read;
    let dir = tempfile::tempdir().expect("tempdir");
    let src = SnapshotFile::open(&fixture()).expect("fixture");
    let db = src.db().expect("db");
    // A bigger source first: 3000 keys of 1 KiB, several MiB of pages.
    let puts: Vec<store::edit::Change> = (0..3000)
        .map(|i| store::edit::Change::Put {
            key: format!("/registry/configmaps/default/cm-{i:05}").into_bytes(),
            value: vec![b'v'; 1024],
        })
        .collect();
    let big = dir.path().join("big.db");
    store::edit::apply_to_snapshot(&db, &big, &puts).expect("grow");
    let big_snap = SnapshotFile::open(&big).expect("big");
    let big_db = big_snap.db().expect("db");
    assert!(big_db.size() > 2 << 20, "{} bytes", big_db.size());

    let change = [store::edit::Change::Delete(CCNP.to_vec())];
    let plain = dir.path().join("plain.db");
    store::edit::apply_to_snapshot(&big_db, &plain, &change).expect("plain edit");
    let id = age::x25519::Identity::generate();
    let sealed = dir.path().join("sealed.db.age");
    store::edit::apply_to_encrypted_snapshot(&big_db, &sealed, &change, &[id.to_public()])
        .expect("encrypted edit");

    let cipher = std::fs::read(&sealed).expect("read");
    assert!(cipher.starts_with(store::encrypted::MAGIC));
    let dec = age::Decryptor::new(&cipher[..]).expect("age file");
    let mut clear = Vec::new();
    dec.decrypt(std::iter::once(&id as &dyn age::Identity))
        .expect("decrypts")
        .read_to_end(&mut clear)
        .expect("read");
    assert_eq!(clear, std::fs::read(&plain).expect("plain"));
    let ids = store::encrypted::Identities::from_keys(vec![Box::new(id)]);
    let report = store::report::verify_with(&sealed, Some(&ids)).expect("verify");
    assert!(report.sound, "{:?}", report.checks);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn parts_of_killed_edits_are_removed_and_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("edited.db");
    // pid 1 always runs; a pid above the kernel's maximum never does.
    let dead = dir.path().join("edited.db.4194305-0000abcd.part");
    let live = dir.path().join("edited.db.1-0000abcd.part");
    for p in [&dead, &live] {
        std::fs::write(p, b"partial").expect("write");
    }
    let src = SnapshotFile::open(&fixture()).expect("fixture");
    let db = src.db().expect("db");
    let outcome = delete_to_snapshot(&db, &out, &[CCNP.to_vec()]).expect("delete");
    assert_eq!(outcome.removed_stale_parts, std::slice::from_ref(&dead));
    assert!(!dead.exists() && live.exists());
}
