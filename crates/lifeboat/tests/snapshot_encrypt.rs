//! `snapshot save --encrypt-to` against real etcd: only ciphertext on disk, proven sound like a
//! plain save, and `verify`/`inspect`/`restore --identity` open it; a tampered file or the wrong
//! key is refused and nothing is restored.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod common;

use std::path::Path;
use std::time::Duration;

use common::lifeboat;
use testkit::restored::{self, Plan};
use testkit::{TestCluster, data};

// Throwaway keys made for this test only.
const KEY: &str = "AGE-SECRET-KEY-1DMJEKWU8CFEXFMMY6VU04MD0E4CUUW24GF9HEKFC7SP86K6MQFNSMPA4RX";
const RECIPIENT: &str = "age1vxte58wq5tq4trlj4vaxrwdx68h402v2veh35hcdpx6dgvucx9aqq5wuzq";
const OTHER_KEY: &str =
    "AGE-SECRET-KEY-12HRPZ9ARMQFWF5EJ4XPQW2CZQWDV5DYQ0SPJQUP8VQWWGVV5RU3QPCV6DT";

fn code(cmd: &mut assert_cmd::Command) -> (Option<i32>, String, String) {
    let out = cmd.output().expect("lifeboat runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn encrypted_save_holds_only_ciphertext_and_restores_with_the_identity() {
    let mut tc = TestCluster::plain(1).await;
    let mut c = tc.any_client().await.unwrap();
    data::put_keys(&mut c, "/registry/secrets/default/s-", 300)
        .await
        .unwrap();
    let (before, rev) = restored::all_kvs(&mut c).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.txt");
    std::fs::write(&key, format!("# restore key\n{KEY}\n")).unwrap();
    let other = dir.path().join("other.txt");
    std::fs::write(&other, format!("{OTHER_KEY}\n")).unwrap();
    let recipients = dir.path().join("recipients.txt");
    std::fs::write(&recipients, format!("# backup recipients\n\n{RECIPIENT}\n")).unwrap();

    let (rc, _, err) = code(
        lifeboat()
            .args(["snapshot", "save", "--encrypt-to", "not-a-key"])
            .arg(dir.path().join("x.db"))
            .args(tc.cli_args()),
    );
    assert_eq!(rc, Some(3), "{err}");

    let (rc, out, err) = code(
        lifeboat()
            .args(["snapshot", "save", "-o", "json", "--encrypt-to"])
            .arg(&recipients)
            .arg(dir.path().join("b.db"))
            .args(tc.cli_args()),
    );
    assert_eq!(rc, Some(0), "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let file = dir.path().join("b.db.age");
    assert_eq!(json["path"], file.display().to_string());
    assert_eq!(json["manifest"]["encrypted_to"][0], RECIPIENT);
    assert_eq!(json["manifest"]["revision"], rev);
    assert!(!dir.path().join("b.db").exists() && !dir.path().join("b.db.age.part").exists());
    let bytes = std::fs::read(&file).unwrap();
    assert!(bytes.starts_with(b"age-encryption.org/v1\n"));
    assert!(!contains(&bytes, b"/registry/secrets/") && !contains(&bytes, b"value-1"));
    tc.cluster.stop(0);

    let verify = |extra: &[&Path], f: &Path| {
        let mut cmd = lifeboat();
        cmd.args(["snapshot", "verify"]);
        for p in extra {
            cmd.arg("--identity").arg(p);
        }
        code(cmd.arg(f))
    };
    let (rc, _, err) = verify(&[], &file);
    assert_eq!(rc, Some(3));
    assert!(err.contains("--identity"), "{err}");
    let (rc, out, _) = verify(&[&key], &file);
    assert_eq!(rc, Some(0), "{out}");
    let (rc, _, err) = verify(&[&other], &file);
    assert_eq!(rc, Some(3));
    assert!(err.contains("cannot decrypt"), "{err}");
    let (rc, out, err) = code(
        lifeboat()
            .args(["snapshot", "inspect", "-o", "json", "--identity"])
            .arg(&key)
            .arg(&file),
    );
    assert_eq!(rc, Some(0), "{err}");
    let inspect: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(inspect["revision"], rev);

    let mut tampered = bytes.clone();
    let mid = tampered.len() / 2;
    tampered[mid] ^= 0x01;
    let bad = dir.path().join("tampered.db.age");
    std::fs::write(&bad, &tampered).unwrap();
    let (rc, _, _) = verify(&[&key], &bad);
    assert_ne!(rc, Some(0));

    let plan = Plan::new(&["e1"], false).unwrap();
    let root = dir.path().join("restored");
    let restore = |f: &Path| {
        let mut cmd = lifeboat();
        cmd.args([
            "snapshot",
            "restore",
            "-o",
            "json",
            "--name=e1",
            "--identity",
        ])
        .arg(&key)
        .arg(format!("--initial-cluster={}", plan.initial_cluster()))
        .arg(format!(
            "--initial-advertise-peer-urls={}",
            plan.peer_url(0)
        ))
        .arg("--data-dir")
        .arg(root.join("e1"))
        .arg(f);
        code(&mut cmd)
    };
    let (rc, _, err) = restore(&bad);
    assert_eq!(rc, Some(3));
    assert!(err.contains("nothing was written"), "{err}");
    assert!(!root.exists());
    let (rc, out, err) = restore(&file);
    assert_eq!(rc, Some(0), "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["hash_check"], "verified");
    let r = plan.start(&root, "etcd-cluster", None).unwrap();
    r.wait_healthy(Duration::from_secs(60)).await.unwrap();
    let (after, _) = restored::all_kvs(&mut r.client(0).await.unwrap())
        .await
        .unwrap();
    assert!(after == before);
}
