//! Shared by the integration tests: the lifeboat binary with a clean environment.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test
#![allow(dead_code)]

use std::time::Duration;

use assert_cmd::Command;

/// The built binary, with no `ETCDCTL_*` leaking in from the developer's shell, and a generous
/// guard so a hang fails the test instead of stalling the suite (not a performance assertion).
pub fn lifeboat() -> Command {
    let mut cmd = Command::cargo_bin("lifeboat").expect("the lifeboat binary is built by cargo");
    for var in [
        "ETCDCTL_ENDPOINTS",
        "ETCDCTL_CACERT",
        "ETCDCTL_CERT",
        "ETCDCTL_KEY",
    ] {
        cmd.env_remove(var);
    }
    cmd.env_remove("LIFEBOAT_LOG");
    cmd.timeout(Duration::from_secs(120));
    cmd
}

/// Runs `lifeboat status -o json` with `args` and returns (exit code, JSON, stderr).
pub fn status_json(args: &[String]) -> (i32, serde_json::Value, String) {
    let out = lifeboat()
        .arg("status")
        .arg("-o")
        .arg("json")
        .args(args)
        .output()
        .expect("lifeboat runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "status -o json printed no JSON ({e}); stdout: {} stderr: {stderr}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (out.status.code().unwrap_or(-1), json, stderr)
}

pub fn codes(json: &serde_json::Value) -> Vec<String> {
    json["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f["code"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

pub fn finding<'a>(json: &'a serde_json::Value, code: &str) -> Option<&'a serde_json::Value> {
    json["findings"]
        .as_array()?
        .iter()
        .find(|f| f["code"] == code)
}
