//! Restore on mutated backends (hash check skipped, meta checksums re-sealed so the damage
//! reaches the tree): it fails cleanly or writes a sound db, never panics, and a failure
//! leaves nothing behind.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod common;

use proptest::prelude::*;
use store::restore::{self, Bump, Request, Target};

/// Re-sign both meta pages (FNV-1a over bytes 16..72 of each).
fn reseal(b: &mut [u8]) {
    for base in [0usize, 4096] {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &x in &b[base + 16..base + 72] {
            h ^= u64::from(x);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        b[base + 72..base + 80].copy_from_slice(&h.to_le_bytes());
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn mutated_backends_restore_soundly_or_not_at_all(
        edits in prop::collection::vec((2 * 4096usize..24_576, any::<u8>()), 1..6),
    ) {
        let mut bytes = std::fs::read(common::snapshot()).unwrap();
        bytes.truncate(24_576);
        for (at, v) in edits {
            bytes[at] = v;
        }
        reseal(&mut bytes);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("m.db");
        std::fs::write(&file, &bytes).unwrap();
        let cluster = restore::parse("a=http://127.0.0.1:1", "t").unwrap();
        let out = dir.path().join("out");
        let targets = [Target { name: "a".into(), data_dir: out.join("a") }];
        let r = restore::restore(&Request {
            snapshot: &file,
            cluster: &cluster,
            targets: &targets,
            skip_hash_check: true,
            bump: Bump::Auto,
            move_aside: None,
            identities: None,
            etcd_version: Some(store::restore::EtcdVersion::new(3, 4)),
        });
        match r {
            Ok(_) => {
                let db = bolt::Db::open(&out.join("a/member/snap/db")).unwrap();
                prop_assert!(db.check().problems.is_empty());
            }
            Err(_) => prop_assert!(!out.exists()),
        }
    }
}
