//! deploy/prometheus/lifeboat.rules.yaml: valid for Prometheus (`promtool check rules`), its
//! unit tests pass (`promtool test rules`), and every metric it reads is one the agent exports.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

fn rules_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/prometheus")
}

/// Runs promtool; a missing promtool fails the test (never a silent skip).
fn promtool(args: &[&str]) {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(rules_dir())
        .output()
        .unwrap_or_else(|e| {
            panic!("promtool cannot run ({e}): run scripts/setup-promtool.sh to install it")
        });
    assert!(
        out.status.success(),
        "promtool {args:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn rules_pass_promtool_check() {
    promtool(&["check", "rules", "lifeboat.rules.yaml"]);
}

#[test]
fn rules_pass_their_unit_tests() {
    promtool(&["test", "rules", "lifeboat.rules.test.yaml"]);
}

/// `lifeboat_*` names in a text (a name is letters, digits and underscores).
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("lifeboat_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let name = &tail[..end];
        names.insert(name.strip_suffix("_total").unwrap_or(name).to_string());
        rest = &tail[end..];
    }
    names
}

#[test]
fn rules_read_only_metrics_the_agent_exports() {
    let rules = std::fs::read_to_string(rules_dir().join("lifeboat.rules.yaml")).unwrap();
    // The agent's own gauges, and those of its policy watch (`--policy-watch`).
    let text = backup::agent::metrics::Metrics::new().encode()
        + &policy_etcd::metrics::PolicyMetrics::new().encode();
    let exported: BTreeSet<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .map(str::to_string)
        .collect();
    let missing: Vec<_> = metric_names(&rules)
        .difference(&exported)
        .cloned()
        .collect();
    assert!(missing.is_empty(), "rules read {missing:?}, not exported");
}
