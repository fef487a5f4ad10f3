//! The certificate reloader on real files and real keys: a new pair is taken, a pair whose
//! key is not the certificate's (or that is not PEM) keeps the previous one, and a bad pair
//! at start is an error naming the file.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

use std::path::Path;
use std::sync::Arc;

use webhook::metrics::Metrics;
use webhook::tls::{CertReloader, provider};

/// A self-signed pair for localhost written through a rename; returns the certificate's DER.
fn issue(dir: &Path) -> Vec<u8> {
    let pair = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    write(dir, &pair.cert.pem(), &pair.signing_key.serialize_pem());
    pair.cert.der().to_vec()
}

fn write(dir: &Path, cert: &str, key: &str) {
    for (name, text) in [("cert.pem", cert), ("key.pem", key)] {
        let tmp = dir.join(format!("{name}.tmp"));
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, dir.join(name)).unwrap();
    }
}

fn served(r: &CertReloader) -> Vec<u8> {
    r.current().unwrap().end_entity_cert().unwrap().to_vec()
}

#[test]
fn a_new_pair_is_taken_and_a_bad_one_keeps_the_previous() {
    let dir = tempfile::tempdir().unwrap();
    let first = issue(dir.path());
    let metrics = Metrics::new();
    let r = CertReloader::new(
        &dir.path().join("cert.pem"),
        &dir.path().join("key.pem"),
        provider(),
        Arc::clone(&metrics),
    )
    .unwrap();
    assert_eq!(served(&r), first);
    assert!(!r.refresh(), "unchanged files are not re-read");

    let second = issue(dir.path());
    assert!(r.refresh());
    assert_eq!(served(&r), second);

    // The certificate with another key: not taken.
    let cert = std::fs::read_to_string(dir.path().join("cert.pem")).unwrap();
    let other = rcgen::KeyPair::generate().unwrap().serialize_pem();
    write(dir.path(), &cert, &other);
    assert!(!r.refresh());
    assert_eq!(served(&r), second);
    // Not PEM at all: not taken either.
    write(dir.path(), "garbage", "garbage");
    assert!(!r.refresh());
    assert_eq!(served(&r), second);
    let text = metrics.encode();
    assert!(
        text.contains("lifeboat_webhook_cert_reloads_total{result=\"failed\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("lifeboat_webhook_cert_reloads_total{result=\"ok\"} 1"),
        "{text}"
    );

    // A good pair again is taken again.
    let third = issue(dir.path());
    assert!(r.refresh());
    assert_eq!(served(&r), third);
}

#[test]
fn a_bad_pair_at_start_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "not pem", "not pem");
    let err = CertReloader::new(
        &dir.path().join("cert.pem"),
        &dir.path().join("key.pem"),
        provider(),
        Metrics::new(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("cert.pem") && err.contains("no PEM certificate"),
        "{err}"
    );
}
