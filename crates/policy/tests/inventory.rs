//! Inventory reading: the parallel path for big lists gives the same inventory as the general
//! path; workloads expand from templates; errors name file and line.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

use policy::inventory::read::{inventory, inventory_from_path};
use policy::source::{load_bytes, load_path};

fn big_pod_list(n: usize) -> String {
    let mut s = String::from("apiVersion: v1\nitems:\n");
    for i in 0..n {
        s.push_str(&format!(
            "- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: p{i}\n    namespace: ns{}\n    labels:\n      app: a{}\n      \"quoted\": 'v''{i}'\n  spec:\n    nodeName: n{}\n    containers:\n    - name: c\n      ports:\n      - {{name: http, containerPort: {}, protocol: TCP}}\n  status:\n    podIP: 10.1.{}.{}\n",
            i % 7, i % 5, i % 3, 8000 + i % 100, (i / 256) % 256, i % 256
        ));
    }
    s.push_str("kind: List\nmetadata:\n  resourceVersion: \"\"\n");
    s
}

#[test]
fn parallel_big_list_matches_general_path() {
    let dir = tempfile::tempdir().expect("tmp");
    let text = big_pod_list(6000);
    assert!(text.len() > 1 << 20, "big enough for the parallel path");
    std::fs::write(dir.path().join("pods.yaml"), &text).expect("write");
    let fast = inventory_from_path(dir.path()).expect("fast");
    let slow =
        inventory(&load_path(dir.path(), inputs::Kind::INVENTORY).expect("docs")).expect("general");
    assert_eq!(fast.pods.len(), 6000);
    assert_eq!(fast.pods.len(), slow.pods.len());
    for (a, b) in fast.pods.iter().zip(&slow.pods) {
        assert_eq!(
            (&a.namespace, &a.name, &a.labels, a.ip, &a.node, &a.ports),
            (&b.namespace, &b.name, &b.labels, b.ip, &b.node, &b.ports)
        );
    }
    assert_eq!(
        fast.pods[5].labels.get("quoted").map(String::as_str),
        Some("v'5")
    );
}

#[test]
fn bad_field_in_big_list_names_file_and_line() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut text = big_pod_list(6000);
    text = text.replacen("nodeName: n2", "nodeName: [n2]", 1);
    std::fs::write(dir.path().join("pods.yaml"), &text).expect("write");
    let err = inventory_from_path(dir.path()).expect_err("wrong type");
    let msg = err.to_string();
    assert!(
        msg.contains("pods.yaml:") && msg.contains("spec.nodeName"),
        "{msg}"
    );
    let line: usize = text
        .lines()
        .position(|l| l.contains("nodeName: [n2]"))
        .expect("line")
        + 1;
    assert!(
        msg.contains(&format!("pods.yaml:{line}:")),
        "{msg} (line {line})"
    );
}

#[test]
fn workloads_expand_from_templates() {
    let docs = load_bytes("w.yaml", b"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: [{name: c, ports: [{containerPort: 80, name: http}]}]\n---\napiVersion: batch/v1\nkind: CronJob\nmetadata: {name: nightly}\nspec:\n  jobTemplate:\n    spec:\n      template:\n        metadata: {labels: {job: nightly}}\n        spec: {containers: [{name: c}]}\n").expect("yaml");
    let inv = inventory(&docs).expect("inventory");
    let web = inv
        .pods
        .iter()
        .find(|p| p.name == "web-0")
        .expect("web pod");
    assert_eq!(web.labels.get("app").map(String::as_str), Some("web"));
    assert_eq!(
        web.owner.as_ref().map(|o| o.kind.as_str()),
        Some("Deployment")
    );
    assert_eq!(
        web.named_port("http", policy::model::Protocol::Tcp),
        Some(80)
    );
    assert!(
        inv.pods
            .iter()
            .any(|p| p.name == "nightly-0" && p.namespace == "default")
    );
    assert!(inv.namespace("shop").is_some_and(|n| {
        n.labels
            .get("kubernetes.io/metadata.name")
            .map(String::as_str)
            == Some("shop")
    }));
}

mod props {
    use policy::source::load_bytes;
    use proptest::prelude::*;

    const SAMPLE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/netpol-analyzer/cases/onlineboutique/input/pods.yaml"
    );
    const SAMPLE_JSON: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/netpol-analyzer/cases/test_with_named_ports/input/ns_list.json"
    );

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        /// Mutated real inventories (YAML and JSON): an error or an inventory, never a panic.
        #[test]
        fn mutated_inventories_never_panic(json in any::<bool>(), edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8), cut in any::<usize>()) {
            let mut bytes = std::fs::read(if json { SAMPLE_JSON } else { SAMPLE }).expect("corpus");
            let n = bytes.len();
            for (pos, b) in edits {
                bytes[pos % n] = b;
            }
            bytes.truncate(cut % n + 1);
            if let Ok(docs) = load_bytes("m.yaml", &bytes) {
                let _ = policy::inventory::read::inventory(&docs);
                let _ = policy::parse::policies(&docs);
            }
        }
    }
}
