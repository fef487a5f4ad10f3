//! age-encrypted snapshots read through the decrypting view: the same answers as the plain
//! file, and a tampered, foreign-key or key-less read refused.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod common;

use std::io::Write;
use std::path::Path;

use age::secrecy::ExposeSecret;
use store::encrypted::Identities;
use store::report;
use store::restore::{self, Bump, Request, Target};

fn encrypt(plain: &[u8], to: &age::x25519::Recipient, out: &Path) {
    let enc = age::Encryptor::with_recipients(std::iter::once(to as &dyn age::Recipient)).unwrap();
    let mut w = enc
        .wrap_output(std::fs::File::create(out).unwrap())
        .unwrap();
    w.write_all(plain).unwrap();
    w.finish().unwrap();
}

fn identity_file(dir: &Path, name: &str) -> (age::x25519::Identity, std::path::PathBuf) {
    let id = age::x25519::Identity::generate();
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!("# test key\n{}\n", id.to_string().expose_secret()),
    )
    .unwrap();
    (id, path)
}

#[test]
fn encrypted_snapshot_verifies_inspects_and_restores_like_the_plain_one() {
    let dir = tempfile::tempdir().unwrap();
    let (id, key) = identity_file(dir.path(), "key.txt");
    let file = dir.path().join("snapshot.db.age");
    let plain = std::fs::read(common::snapshot()).unwrap();
    encrypt(&plain, &id.to_public(), &file);
    assert!(store::encrypted::is_age(&file));
    let ids = Identities::load(&key).unwrap();

    let clear = report::inspect(&common::snapshot()).unwrap();
    let enc = report::inspect_with(&file, Some(&ids)).unwrap();
    assert_eq!(
        (
            enc.hash,
            enc.revision,
            enc.total_key,
            enc.total_size,
            enc.file_size
        ),
        (
            clear.hash,
            clear.revision,
            clear.total_key,
            clear.total_size,
            clear.file_size
        )
    );
    assert!(report::verify_with(&file, Some(&ids)).unwrap().sound);

    let c = restore::parse("a=http://127.0.0.1:24801", "t").unwrap();
    let t = [Target {
        name: "a".into(),
        data_dir: dir.path().join("a"),
    }];
    let out = restore::restore(&Request {
        snapshot: &file,
        cluster: &c,
        targets: &t,
        skip_hash_check: false,
        bump: Bump::Off,
        move_aside: None,
        identities: Some(&ids),
        etcd_version: Some(store::restore::EtcdVersion::new(3, 4)),
    })
    .unwrap();
    assert_eq!(out.hash_check, "verified");
    assert_eq!(out.db.revision, 37);
}

#[test]
fn tampered_foreign_or_keyless_reads_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (id, key) = identity_file(dir.path(), "key.txt");
    let (_, other) = identity_file(dir.path(), "other.txt");
    let file = dir.path().join("s.age");
    let plain = std::fs::read(common::snapshot()).unwrap();
    encrypt(&plain, &id.to_public(), &file);
    let ids = Identities::load(&key).unwrap();

    let e = report::verify(&file).unwrap_err().to_string();
    assert!(e.contains("--identity"), "{e}");
    let e = report::verify_with(&file, Some(&Identities::load(&other).unwrap()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("cannot decrypt"), "{e}");

    let mut bytes = std::fs::read(&file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    let tampered = dir.path().join("tampered.age");
    std::fs::write(&tampered, &bytes).unwrap();
    let verdict = report::verify_with(&tampered, Some(&ids));
    assert!(
        verdict.as_ref().map_or(true, |r| !r.sound),
        "a tampered file must not verify: {verdict:?}"
    );
    let c = restore::parse("a=http://127.0.0.1:24801", "t").unwrap();
    let t = [Target {
        name: "a".into(),
        data_dir: dir.path().join("out/a"),
    }];
    let err = restore::restore(&Request {
        snapshot: &tampered,
        cluster: &c,
        targets: &t,
        skip_hash_check: false,
        bump: Bump::Off,
        move_aside: None,
        identities: Some(&ids),
        etcd_version: Some(store::restore::EtcdVersion::new(3, 4)),
    })
    .unwrap_err();
    assert!(err.to_string().contains("nothing was written"), "{err}");
    assert!(!dir.path().join("out").exists());
}
