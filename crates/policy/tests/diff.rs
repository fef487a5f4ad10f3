//! `policy diff`: verdict changes between policy sets and between inventories.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

use policy::check::CheckOptions;
use policy::diff::diff;
use policy::inventory::reference::reference_cluster;
use policy::inventory::{ContainerPort, Inventory, Pod, read::labels};
use policy::model::{PolicySet, Protocol};
use policy::parse;
use policy::source::load_bytes;

fn policies(text: &str) -> PolicySet {
    let docs = load_bytes("d.yaml", text.as_bytes()).expect("yaml");
    parse::policies(&docs).policies
}

fn shop(web_labels: &[(&str, &str)]) -> Inventory {
    let mut inv = reference_cluster();
    inv.pods.push(std::sync::Arc::new(Pod {
        namespace: "shop".into(),
        name: "web".into(),
        labels: labels(&[("app", "web")]),
        node: Some("worker-1".into()),
        service_account: "default".into(),
        ..Default::default()
    }));
    inv.pods.push(std::sync::Arc::new(Pod {
        namespace: "shop".into(),
        name: "db".into(),
        labels: labels(&[("app", "db")]),
        node: Some("worker-2".into()),
        service_account: "default".into(),
        ports: vec![ContainerPort {
            name: Some("pg".into()),
            port: 5432,
            protocol: Protocol::Tcp,
        }],
        ..Default::default()
    }));
    let web = inv.pods.len() - 2;
    std::sync::Arc::make_mut(&mut inv.pods[web]).labels = labels(web_labels);
    inv.normalise();
    inv
}

const DB_POLICY: &str = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: db, namespace: shop}\nspec:\n  podSelector: {matchLabels: {app: db}}\n  ingress:\n  - from: [{podSelector: {matchLabels: {app: web}}}]\n    ports: [{port: 5432}]\n";

#[test]
fn lockout_policy_diff_lists_critical_changes_first() {
    let inv = reference_cluster();
    let report = diff(
        (&inv, &PolicySet::default()),
        (&inv, &policies(include_str!("fixtures/lockout-ccnp.yaml"))),
        &CheckOptions::default(),
    );
    assert!(!report.changes.is_empty());
    assert!(
        report.changes[0].critical
            && report.changes[0].before == "allow"
            && report.changes[0].after == "deny"
    );
    assert!(report.changes.iter().any(|c| c.port == 2380));
    assert_eq!(report.outcome(), policy::findings::Outcome::Critical);
    let same = diff(
        (&inv, &PolicySet::default()),
        (&inv, &PolicySet::default()),
        &CheckOptions::default(),
    );
    assert!(same.changes.is_empty());
    assert_eq!(same.outcome(), policy::findings::Outcome::Clean);
}

#[test]
fn relabelled_workload_falls_out_of_a_policy() {
    let set = policies(DB_POLICY);
    let (before, after) = (shop(&[("app", "web")]), shop(&[("component", "web")]));
    let report = diff((&before, &set), (&after, &set), &CheckOptions::default());
    let c = report
        .changes
        .iter()
        .find(|c| c.src == "shop/web" && c.dst == "shop/db")
        .expect("web->db changes");
    assert_eq!((c.before, c.after, c.port), ("allow", "deny", 5432));
    assert!(
        c.explanation_after.contains("default-deny"),
        "{}",
        c.explanation_after
    );
    assert_eq!(report.outcome(), policy::findings::Outcome::Warnings);
}
