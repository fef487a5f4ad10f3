//! Connection settings: discovery from a kubeadm manifest and from an etcd env file (under
//! `--discover-root`), the environment variables, and every kind of bad input: one clear line,
//! exit 3, never a panic.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;

use common::lifeboat;
use testkit::TestCluster;

fn copy(from: &Path, to: &Path) {
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::copy(from, to).unwrap();
}

fn assert_clean_failure(out: &std::process::Output, must_mention: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "stderr: {stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "{stderr}"
    );
    for word in must_mention {
        assert!(stderr.contains(word), "stderr lacks {word:?}: {stderr}");
    }
}

#[tokio::test]
async fn discovers_a_kubeadm_manifest_under_discover_root() {
    let tc = TestCluster::tls(1).await;
    let pki = tc.cluster.pki.as_ref().unwrap();
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    copy(&pki.ca_cert, &r.join("etc/kubernetes/pki/etcd/ca.crt"));
    copy(
        &pki.client_cert,
        &r.join("etc/kubernetes/pki/etcd/healthcheck-client.crt"),
    );
    copy(
        &pki.client_key,
        &r.join("etc/kubernetes/pki/etcd/healthcheck-client.key"),
    );
    let url = tc.cluster.client_url(0);
    let manifest = format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: etcd
  namespace: kube-system
spec:
  containers:
  - name: etcd
    image: registry.k8s.io/etcd:3.4.23-0
    command:
    - etcd
    - --advertise-client-urls={url}
    - --cert-file=/etc/kubernetes/pki/etcd/server.crt
    - --client-cert-auth=true
    - --data-dir=/var/lib/etcd
    - --listen-client-urls={url}
    - --name=cp1
    - --trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt
"#
    );
    let mpath = r.join("etc/kubernetes/manifests/etcd.yaml");
    std::fs::create_dir_all(mpath.parent().unwrap()).unwrap();
    std::fs::write(&mpath, manifest).unwrap();

    let out = lifeboat()
        .args(["status", "--discover-root"])
        .arg(r)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("Endpoints from kubeadm manifest"),
        "{stdout}"
    );
    assert!(stdout.contains(&url), "{stdout}");
}

#[tokio::test]
async fn discovers_an_etcd_env_file_under_discover_root() {
    let tc = TestCluster::tls(1).await;
    let pki = tc.cluster.pki.as_ref().unwrap();
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    copy(&pki.ca_cert, &r.join("etc/ssl/etcd/ssl/ca.pem"));
    copy(
        &pki.server_cert,
        &r.join("etc/ssl/etcd/ssl/member-node1.pem"),
    );
    copy(
        &pki.server_key,
        &r.join("etc/ssl/etcd/ssl/member-node1-key.pem"),
    );
    let url = tc.cluster.client_url(0);
    let env = format!(
        "# Kubespray-style\nETCD_DATA_DIR=/var/lib/etcd\nETCD_LISTEN_CLIENT_URLS={url}\n\
         ETCD_TRUSTED_CA_FILE=/etc/ssl/etcd/ssl/ca.pem\n\
         ETCD_CERT_FILE=/etc/ssl/etcd/ssl/member-node1.pem\n\
         ETCD_KEY_FILE=/etc/ssl/etcd/ssl/member-node1-key.pem\n"
    );
    std::fs::create_dir_all(r.join("etc")).unwrap();
    std::fs::write(r.join("etc/etcd.env"), env).unwrap();

    let out = lifeboat()
        .args(["status", "--discover-root"])
        .arg(r)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Endpoints from etcd env file"), "{stdout}");
}

#[tokio::test]
async fn etcdctl_environment_variables_are_honoured() {
    let tc = TestCluster::tls(1).await;
    let pki = tc.cluster.pki.as_ref().unwrap();
    let out = lifeboat()
        .arg("status")
        .env("ETCDCTL_ENDPOINTS", tc.cluster.client_url(0))
        .env("ETCDCTL_CACERT", &pki.ca_cert)
        .env("ETCDCTL_CERT", &pki.client_cert)
        .env("ETCDCTL_KEY", &pki.client_key)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("ETCDCTL_* environment variables"),
        "{stdout}"
    );
}

#[test]
fn nothing_reachable_exits_unknown() {
    let port = ops::local::free_port().unwrap();
    let out = lifeboat()
        .args(["status", "-o", "json", "--endpoints"])
        .arg(format!("http://127.0.0.1:{port}"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["findings"][0]["code"], "NOTHING_REACHABLE");
    assert!(
        json["endpoints"][0]["errors"][0]
            .as_str()
            .unwrap()
            .contains("Connection refused")
    );
}

#[test]
fn malformed_url_is_one_clear_line() {
    let out = lifeboat()
        .args(["status", "--endpoints", "https//127.0.0.1:2379"])
        .output()
        .unwrap();
    assert_clean_failure(&out, &["invalid endpoint URL 'https//127.0.0.1:2379'"]);
    let out = lifeboat()
        .args(["status", "--endpoints", "ftp://127.0.0.1:2379"])
        .output()
        .unwrap();
    assert_clean_failure(&out, &["not http or https"]);
}

#[test]
fn plain_http_off_loopback_needs_insecure_transport() {
    let out = lifeboat()
        .args(["status", "--endpoints", "http://198.18.0.1:2379"])
        .output()
        .unwrap();
    assert_clean_failure(&out, &["--insecure-transport"]);
}

#[test]
fn missing_certificate_names_the_file() {
    let out = lifeboat()
        .args([
            "status",
            "--endpoints",
            "https://127.0.0.1:2379",
            "--cacert",
            "/nonexistent/ca.crt",
        ])
        .output()
        .unwrap();
    assert_clean_failure(&out, &["/nonexistent/ca.crt", "CA certificate"]);
    let out = lifeboat()
        .args(["status", "--endpoints", "https://127.0.0.1:2379"])
        .output()
        .unwrap();
    assert_clean_failure(&out, &["--cacert"]);
}

#[test]
fn garbage_certificate_and_mismatched_key_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let a = ops::local::Pki::generate(&dir.path().join("a")).unwrap();
    let b = ops::local::Pki::generate(&dir.path().join("b")).unwrap();
    let junk = dir.path().join("junk.crt");
    std::fs::write(&junk, "this is not a certificate\n").unwrap();
    let out = lifeboat()
        .args([
            "status",
            "--endpoints",
            "https://127.0.0.1:2379",
            "--cacert",
        ])
        .arg(&junk)
        .output()
        .unwrap();
    assert_clean_failure(&out, &[junk.to_str().unwrap()]);

    let out = lifeboat()
        .args([
            "status",
            "--endpoints",
            "https://127.0.0.1:2379",
            "--cacert",
        ])
        .arg(&a.ca_cert)
        .arg("--cert")
        .arg(&a.client_cert)
        .arg("--key")
        .arg(&b.client_key)
        .output()
        .unwrap();
    assert_clean_failure(
        &out,
        &[
            "does not belong to the certificate",
            b.client_key.to_str().unwrap(),
        ],
    );

    let out = lifeboat()
        .args([
            "status",
            "--endpoints",
            "https://127.0.0.1:2379",
            "--cacert",
        ])
        .arg(&a.ca_cert)
        .arg("--cert")
        .arg(&a.client_cert)
        .output()
        .unwrap();
    assert_clean_failure(&out, &["--cert and --key go together"]);
}

#[test]
fn a_port_that_is_not_etcd_is_explained() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // A web server stand-in: reads a little, answers plain HTTP, hangs up.
    let server = std::thread::spawn(move || {
        for stream in listener.incoming().take(4) {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 512];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let pki = ops::local::Pki::generate(dir.path()).unwrap();
    let out = lifeboat()
        .args([
            "status",
            "-o",
            "json",
            "--dial-timeout=1s",
            "--command-timeout=1s",
            "--only-given",
        ])
        .arg(format!("--endpoints=https://127.0.0.1:{port}"))
        .arg("--cacert")
        .arg(&pki.ca_cert)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let err = json["endpoints"][0]["errors"][0]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(err.contains("does not speak etcd"), "{err}");
    drop(server);
}

#[test]
fn usage_errors_exit_64_and_help_exits_0() {
    let out = lifeboat()
        .args(["status", "--no-such-flag"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let out = lifeboat().arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("status"));
    let out = lifeboat().arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("lifeboat "));
}

#[test]
fn a_closed_pipe_ends_output_quietly() {
    use std::process::{Command, Stdio};
    let bin = assert_cmd::cargo::cargo_bin("lifeboat");
    let port = ops::local::free_port().unwrap();
    // The reading end is closed before lifeboat starts, so its first write meets EPIPE however
    // the two processes are scheduled.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let child = Command::new(bin)
        .args(["status", "--endpoints"])
        .arg(format!("http://127.0.0.1:{port}"))
        .stdout(writer)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        out.status.code(),
        Some(0),
        "a closed pipe is a clean end: {stderr}"
    );
}
