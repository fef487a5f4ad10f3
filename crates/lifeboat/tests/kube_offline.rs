//! `lifeboat kube` on snapshot files, no etcd needed: a Secret put into the fixture snapshot
//! from a backup, then shown (redacted everywhere, the last-applied copy too), printed as
//! kubectl prints it, and edited with encryption kept; edited backups with bad keys refused;
//! secret keys given as recipients never echoed.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod common;

use std::path::{Path, PathBuf};

use common::lifeboat;
use serde_json::{Value, json};

// Throwaway keys made for these tests only.
const KEY: &str = "AGE-SECRET-KEY-1DMJEKWU8CFEXFMMY6VU04MD0E4CUUW24GF9HEKFC7SP86K6MQFNSMPA4RX";
const RECIPIENT: &str = "age1vxte58wq5tq4trlj4vaxrwdx68h402v2veh35hcdpx6dgvucx9aqq5wuzq";
const PASSWORD: &str = "hunter2-plaintext";

fn fixture() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/etcd-3.4.23/snapshot.db"
    ))
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = lifeboat().args(args).output().expect("lifeboat runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8 path")
}

/// A Secret as `kubectl apply` leaves it: its values in `data` and, in the clear, in the
/// last-applied annotation.
fn secret_value() -> Vec<u8> {
    let applied = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "db", "namespace": "demo"},
        "stringData": {"password": PASSWORD}});
    let obj = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "db", "namespace": "demo", "annotations": {
            "kubectl.kubernetes.io/last-applied-configuration": applied.to_string()}},
        "data": {"password": "aHVudGVyMi1wbGFpbnRleHQ="}, "type": "Opaque"});
    let Value::Object(m) = obj else {
        unreachable!()
    };
    registry::envelope::encode(&m, registry::Encoding::Protobuf).expect("encode")
}

fn backup(dir: &Path, name: &str, key: &str, value: Vec<u8>) -> PathBuf {
    let kv = store::objects::LatestKv {
        key: key.as_bytes().to_vec(),
        value,
        create_revision: 0,
        mod_revision: 0,
        version: 0,
        lease: 0,
    };
    let b = ops::kube::Backup::of(&kv, "test".into());
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_vec(&b).expect("json")).expect("write");
    p
}

/// The fixture with the Secret `demo/db` in it.
fn with_secret(dir: &Path) -> PathBuf {
    let b = backup(
        dir,
        "secret.json",
        "/registry/secrets/demo/db",
        secret_value(),
    );
    let out = dir.join("with-secret.db");
    let (code, _, err) = run(&[
        "kube",
        "put",
        "-f",
        s(&b),
        "--snapshot",
        s(&fixture()),
        "--out",
        s(&out),
        "--yes",
    ]);
    assert_eq!(code, 0, "{err}");
    out
}

#[test]
fn a_secret_is_redacted_everywhere_including_last_applied() {
    let dir = tempfile::tempdir().expect("tmp");
    let snap = with_secret(dir.path());
    let base = [
        "kube",
        "get",
        "secret",
        "db",
        "-n",
        "demo",
        "--snapshot",
        s(&snap),
    ];
    for format in [
        &["-o", "json"][..],
        &["-o", "yaml"],
        &["-o", "json", "--envelope"],
        &[],
    ] {
        let args: Vec<&str> = base.iter().chain(format).copied().collect();
        let (code, out, err) = run(&args);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert!(
            !out.contains(PASSWORD),
            "{args:?} printed the password: {out}"
        );
        assert!(
            !out.contains("aHVudGVy"),
            "{args:?} printed the data: {out}"
        );
        assert!(out.contains("redacted"), "{args:?}: {out}");
    }
    let args: Vec<&str> = base
        .iter()
        .chain(&["-o", "json", "--show-secrets"])
        .copied()
        .collect();
    let (_, out, _) = run(&args);
    assert!(out.contains(PASSWORD), "--show-secrets shows it: {out}");
}

#[test]
fn get_json_is_the_object_as_kubectl_prints_it() {
    let (code, out, err) = run(&[
        "kube",
        "get",
        "ns",
        "demo",
        "--snapshot",
        s(&fixture()),
        "-o",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["kind"], "Namespace");
    assert_eq!(v["metadata"]["name"], "demo");
    assert!(v["metadata"]["resourceVersion"].is_string(), "{v}");
    assert!(
        v.get("object").is_none() && v.get("encoding").is_none(),
        "{v}"
    );
    let (_, out, _) = run(&[
        "kube",
        "get",
        "ns",
        "demo",
        "--snapshot",
        s(&fixture()),
        "-o",
        "json",
        "--envelope",
    ]);
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["object"]["kind"], "Namespace");
    assert_eq!(v["encoding"], "protobuf");
}

#[test]
fn put_refuses_a_backup_whose_key_was_edited() {
    let dir = tempfile::tempdir().expect("tmp");
    let cases = [
        ("/registry/../../etc/x", ".."),
        ("/etc/x", "/registry/"),
        ("/registry/secrets//db", "empty"),
        ("/registry/secrets/demo/other", "named"),
        ("/registry/secrets/kube-system/db", "namespace"),
        ("/registry/configmaps/demo/db", "Secret"),
    ];
    for (i, (key, why)) in cases.iter().enumerate() {
        let b = backup(dir.path(), &format!("b{i}.json"), key, secret_value());
        let out = dir.path().join(format!("out{i}.db"));
        let (code, _, err) = run(&[
            "kube",
            "put",
            "-f",
            s(&b),
            "--snapshot",
            s(&fixture()),
            "--out",
            s(&out),
            "--yes",
        ]);
        assert_eq!(code, 3, "{key} was accepted: {err}");
        assert!(
            err.contains("refusing its key") && err.contains(why),
            "{key}: {err}"
        );
        assert!(!out.exists(), "{key}: something was written");
    }
}

#[test]
fn an_encrypted_snapshot_stays_encrypted_when_edited() {
    let dir = tempfile::tempdir().expect("tmp");
    let key = dir.path().join("key.txt");
    std::fs::write(&key, format!("# test key\n{KEY}\n")).expect("key");
    let b = backup(
        dir.path(),
        "secret.json",
        "/registry/secrets/demo/db",
        secret_value(),
    );
    let sealed = dir.path().join("sealed.db.age");
    let (code, out, err) = run(&[
        "kube",
        "put",
        "-f",
        s(&b),
        "--snapshot",
        s(&fixture()),
        "--out",
        s(&sealed),
        "--yes",
        "--encrypt-to",
        RECIPIENT,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("encrypted (age) to"), "{out}");
    let bytes = std::fs::read(&sealed).expect("read");
    assert!(bytes.starts_with(b"age-encryption.org/v1\n"));

    // Deleting from it: the output is encrypted again, to the identity's public key.
    let fixed = dir.path().join("fixed.db");
    let (code, out, err) = run(&[
        "kube",
        "delete",
        "ns",
        "demo",
        "--snapshot",
        s(&sealed),
        "--identity",
        s(&key),
        "--out",
        s(&fixed),
        "--yes",
        "--backup-dir",
        s(&dir.path().join("bk")),
        "-o",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["out_encrypted_to"], json!([RECIPIENT]));
    let bytes = std::fs::read(&fixed).expect("read");
    assert!(
        bytes.starts_with(b"age-encryption.org/v1\n"),
        "written in the clear"
    );
    assert!(
        !bytes
            .windows(PASSWORD.len())
            .any(|w| w == PASSWORD.as_bytes())
    );
    let (code, _, err) = run(&["snapshot", "verify", s(&fixed), "--identity", s(&key)]);
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = run(&[
        "kube",
        "get",
        "ns",
        "demo",
        "--snapshot",
        s(&fixed),
        "--identity",
        s(&key),
    ]);
    assert_eq!(code, 3, "deleted: {out}");

    // The object's backup is encrypted too, and put back with the identity.
    let backup = v["backup"].as_str().expect("backup path").to_string();
    assert!(backup.ends_with(".json.age"), "{backup}");
    let sealed_backup = std::fs::read(&backup).expect("read");
    assert!(sealed_backup.starts_with(b"age-encryption.org/v1\n"));
    let back = dir.path().join("back.db");
    let (code, _, err) = run(&[
        "kube",
        "put",
        "-f",
        &backup,
        "--snapshot",
        s(&fixed),
        "--out",
        s(&back),
        "--yes",
    ]);
    assert_eq!(code, 3, "an encrypted backup needs the identity: {err}");
    assert!(err.contains("--identity"), "{err}");
    let (code, _, err) = run(&[
        "kube",
        "put",
        "-f",
        &backup,
        "--snapshot",
        s(&fixed),
        "--identity",
        s(&key),
        "--out",
        s(&back),
        "--yes",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        std::fs::read(&back)
            .expect("read")
            .starts_with(b"age-encryption.org/v1\n")
    );
    let (code, _, err) = run(&[
        "kube",
        "get",
        "ns",
        "demo",
        "--snapshot",
        s(&back),
        "--identity",
        s(&key),
    ]);
    assert_eq!(code, 0, "put back: {err}");

    // In the clear only when asked.
    let clear = dir.path().join("clear.db");
    let (code, out, err) = run(&[
        "kube",
        "delete",
        "ns",
        "demo",
        "--snapshot",
        s(&sealed),
        "--identity",
        s(&key),
        "--out",
        s(&clear),
        "--yes",
        "--backup-dir",
        s(&dir.path().join("bk")),
        "--plaintext-out",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("NOT encrypted"), "{out}");
    assert!(!std::fs::read(&clear).expect("read").starts_with(b"age-"));
}

#[test]
fn an_identity_given_as_recipient_is_never_echoed() {
    let dir = tempfile::tempdir().expect("tmp");
    let key = dir.path().join("key.txt");
    std::fs::write(&key, format!("# test key\n{KEY}\n")).expect("key");
    let b = backup(
        dir.path(),
        "secret.json",
        "/registry/secrets/demo/db",
        secret_value(),
    );
    let out = dir.path().join("x.db");
    for to in [s(&key), KEY] {
        let (code, stdout, err) = run(&[
            "kube",
            "put",
            "-f",
            s(&b),
            "--snapshot",
            s(&fixture()),
            "--out",
            s(&out),
            "--yes",
            "--encrypt-to",
            to,
        ]);
        assert_ne!(code, 0);
        assert!(
            !err.contains("AGE-SECRET-KEY") && !stdout.contains("AGE-SECRET-KEY"),
            "{err}"
        );
        assert!(
            err.contains("not a recipient") && err.contains("age1"),
            "{err}"
        );
        // `snapshot save` parses it before it connects anywhere.
        let (code, _, err) = run(&[
            "snapshot",
            "save",
            s(&dir.path().join("s.db")),
            "--encrypt-to",
            to,
            "--endpoints",
            "http://127.0.0.1:9",
        ]);
        assert_ne!(code, 0);
        assert!(!err.contains("AGE-SECRET-KEY"), "{err}");
        assert!(err.contains("not a recipient"), "{err}");
    }
    assert!(!out.exists());
}

#[test]
fn an_unsound_snapshot_is_not_laundered_by_an_edit() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut bytes = std::fs::read(fixture()).expect("read");
    bytes[24_600] ^= 1; // the trailer no longer matches the content
    let bad = dir.path().join("bad.db");
    std::fs::write(&bad, &bytes).expect("write");
    let out = dir.path().join("fixed.db");
    let bk = dir.path().join("bk");
    let (code, _, err) = run(&[
        "kube",
        "delete",
        "ns",
        "demo",
        "--snapshot",
        s(&bad),
        "--out",
        s(&out),
        "--yes",
        "--backup-dir",
        s(&bk),
    ]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("unsound") && err.contains("sha256"), "{err}");
    assert!(!out.exists() && !bk.exists(), "nothing written");
}
