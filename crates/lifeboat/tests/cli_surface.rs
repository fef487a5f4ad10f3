//! The command line's own surface: usage errors exit 64 wherever they are found, `-o json`
//! answers errors in JSON, `--version` names the build, the kubectl plugin name, completions
//! and man pages, and kubectl's default namespace.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod common;

use common::lifeboat;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/etcd-3.4.23/snapshot.db"
);

fn json_error(out: &std::process::Output) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON on stdout ({e}): {} / {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    v["error"].clone()
}

#[test]
fn a_usage_mistake_found_after_parsing_exits_64_and_says_so_in_json() {
    let out = lifeboat()
        .args(["snapshot", "restore", FIXTURE, "--all", "-o", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let e = json_error(&out);
    assert_eq!(e["code"], "USAGE");
    assert_eq!(e["exit"], 64);
    assert!(
        e["message"].as_str().unwrap().contains("--output-root"),
        "{e}"
    );
}

#[test]
fn a_flag_clap_refuses_is_answered_in_json_too() {
    let out = lifeboat()
        .args(["status", "--no-such-flag", "-o", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let e = json_error(&out);
    assert_eq!(e["code"], "USAGE");
    assert!(
        e["message"].as_str().unwrap().contains("--no-such-flag"),
        "{e}"
    );
}

#[test]
fn a_refused_input_file_is_an_error_object_with_its_kind() {
    let out = lifeboat()
        .args(["snapshot", "verify", "/dev/zero", "-o", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let e = json_error(&out);
    assert_eq!(e["exit"], 3);
    let text = e.to_string();
    assert!(
        text.contains("not a regular file") || text.contains("character device"),
        "{e}"
    );
}

#[test]
fn errors_without_json_stay_on_stderr() {
    let out = lifeboat()
        .args(["snapshot", "restore", FIXTURE, "--all"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(out.stdout.is_empty());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.starts_with("lifeboat: ") && text.contains("--output-root"),
        "{text}"
    );
}

#[test]
fn version_names_the_commit_and_the_build_date() {
    let out = lifeboat().arg("--version").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("lifeboat "), "{text}");
    assert!(
        text.contains("(commit ") && text.contains(", built 20"),
        "{text}"
    );
}

#[test]
fn run_as_kubectl_lifeboat_help_names_the_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("kubectl-lifeboat");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_lifeboat"), &link).unwrap();
    let out = std::process::Command::new(&link)
        .arg("--help")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Usage: kubectl lifeboat"), "{text}");
}

#[test]
fn completions_and_man_pages_come_from_the_command_tree() {
    let out = lifeboat()
        .args(["generate", "completion", "bash"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let script = String::from_utf8_lossy(&out.stdout);
    assert!(
        script.contains("lifeboat") && script.contains("--endpoints"),
        "{script}"
    );

    let dir = tempfile::tempdir().unwrap();
    let out = lifeboat()
        .args(["generate", "man", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for page in [
        "lifeboat.1",
        "lifeboat-status.1",
        "lifeboat-snapshot-restore.1",
    ] {
        let text = std::fs::read_to_string(dir.path().join(page)).unwrap();
        assert!(text.contains(".TH"), "{page}");
    }
}

#[test]
fn a_namespaced_object_without_n_is_looked_up_in_default() {
    // The fixture's CiliumNetworkPolicy lives in `demo`: with -n it is found, without it the
    // lookup goes to `default`, as kubectl's would, and finds nothing there.
    let out = lifeboat()
        .args([
            "kube",
            "get",
            "cnp",
            "allow-dns",
            "-n",
            "demo",
            "--snapshot",
            FIXTURE,
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = lifeboat()
        .args([
            "kube",
            "get",
            "cnp",
            "allow-dns",
            "--snapshot",
            FIXTURE,
            "-o",
            "json",
        ])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let e = json_error(&out);
    assert!(e.to_string().contains("/default/allow-dns"), "{e}");
}

#[test]
fn verbose_flags_turn_diagnostics_on_stderr() {
    let out = lifeboat()
        .args(["--log-level", "debug", "snapshot", "verify", FIXTURE])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let out = lifeboat()
        .args(["--log-level", "loud", "snapshot", "verify", FIXTURE])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
}

/// Mistakes in what names the object or the member are usage errors (64), found before any
/// data is read or any member is asked.
#[test]
fn a_wrong_resource_type_namespace_or_peer_url_exits_64() {
    let cases: [&[&str]; 4] = [
        &["kube", "get", "no-such-type", "x", "--snapshot", FIXTURE],
        &["kube", "list", "no-such-type", "--snapshot", FIXTURE],
        &[
            "kube",
            "list",
            "nodes",
            "-n",
            "kube-system",
            "--snapshot",
            FIXTURE,
        ],
        &[
            "member",
            "add",
            "m4",
            "--peer-urls",
            "not a url",
            "--endpoints",
            "https://127.0.0.1:1",
        ],
    ];
    for args in cases {
        let out = lifeboat()
            .args(args.iter().copied().chain(["-o", "json"]))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(64), "{args:?}: {out:?}");
        assert_eq!(json_error(&out)["code"], "USAGE", "{args:?}");
    }
}
