//! deploy/: the example agent configs are ones the agent accepts, the Kubernetes manifests are
//! valid YAML of the expected kinds, and every flag the examples pass exists.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod common;

use std::path::{Path, PathBuf};

use common::lifeboat;

fn deploy() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(deploy().join(rel)).unwrap()
}

fn docs(rel: &str) -> Vec<serde_json::Value> {
    serde_saphyr::from_multiple(&read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The agent reads the file; a too-short `--lease-ttl` given after it is then refused as a
/// usage error, which is only reached once the file parsed (a bad file exits 3 first).
fn agent_accepts(config: &Path) {
    let out = lifeboat()
        .args(["agent", "--config"])
        .arg(config)
        .args(["--lease-ttl", "1s", "--endpoints", "http://127.0.0.1:1"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(64),
        "{}: {stderr}",
        config.display()
    );
    assert!(stderr.contains("--lease-ttl 1s is too short"), "{stderr}");
}

/// Every `--flag` in `text` is one `lifeboat agent --help` lists.
fn flags_exist(what: &str, text: &str) {
    let help = lifeboat().args(["agent", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout).to_string();
    let mut seen = 0;
    for word in text.split(|c: char| c.is_whitespace() || c == '"' || c == '=') {
        if let Some(flag) = word.strip_prefix("--")
            && !flag.is_empty()
        {
            assert!(
                help.contains(&format!("--{flag} ")) || help.contains(&format!("--{flag}\n")),
                "{what} passes --{flag}, which `lifeboat agent` does not take"
            );
            seen += 1;
        }
    }
    assert!(seen > 0, "{what}: no flags found");
}

#[test]
fn the_example_config_is_accepted() {
    agent_accepts(&deploy().join("agent.yaml"));
}

#[test]
fn the_daemonset_is_valid_and_its_config_accepted() {
    let docs = docs("kubernetes/lifeboat-agent-daemonset.yaml");
    let kinds: Vec<_> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["ConfigMap", "DaemonSet"]);
    let config = docs[0]["data"]["agent.yaml"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("agent.yaml");
    std::fs::write(&file, config).unwrap();
    agent_accepts(&file);
    let container = &docs[1]["spec"]["template"]["spec"]["containers"][0];
    let args: Vec<_> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(args[0], "agent");
    flags_exist("the DaemonSet", &args[1..].join(" "));
}

#[test]
fn the_static_pod_is_valid_and_its_flags_exist() {
    let docs = docs("kubeadm/lifeboat-agent.yaml");
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0]["kind"], "Pod");
    let command = docs[0]["spec"]["containers"][0]["command"][2]
        .as_str()
        .unwrap();
    let agent = command
        .split("lifeboat agent")
        .nth(1)
        .expect("runs lifeboat agent");
    flags_exist("the static pod", agent);
}

#[test]
fn the_systemd_unit_runs_the_agent_with_flags_that_exist() {
    let unit = read("systemd/lifeboat-agent.service");
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart");
    let agent = exec.split(" agent ").nth(1).expect("runs lifeboat agent");
    flags_exist("the systemd unit", agent);
}
