//! Policies proposed on top of the ones in force: a proposed object replaces the one in force
//! with the same kind, namespace and name (as `kubectl apply` does); duplicates among the
//! proposed files are said; a proposed file without a policy is an error, not an all-clear.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

use std::path::{Path, PathBuf};

use policy::check::{CheckOptions, check};
use policy::error::LoadError;
use policy::input::{InputSpec, load_from_documents, load_policies};
use policy::source::load_bytes;

const FIXED: &str = include_str!("fixtures/lockout-ccnp-fixed.yaml");
const BAD: &str = include_str!("fixtures/lockout-ccnp.yaml");

/// Two control-plane nodes and a worker, the host firewall on: what etcd would hold.
const CLUSTER: &str = "apiVersion: v1
kind: Node
metadata: {name: cp-1, labels: {node-role.kubernetes.io/control-plane: ''}}
status: {addresses: [{type: InternalIP, address: 198.18.0.1}]}
---
apiVersion: v1
kind: Node
metadata: {name: cp-2, labels: {node-role.kubernetes.io/control-plane: ''}}
status: {addresses: [{type: InternalIP, address: 198.18.0.2}]}
---
apiVersion: v1
kind: Node
metadata: {name: worker-1}
status: {addresses: [{type: InternalIP, address: 198.18.0.3}]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cilium-config, namespace: kube-system}
data: {enable-host-firewall: 'true'}
";

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

fn in_force(policies: &str) -> Vec<policy::source::Document> {
    load_bytes("etcd", format!("{CLUSTER}---\n{policies}").as_bytes()).expect("docs")
}

fn critical_denials(report: &policy::check::CheckReport) -> Vec<u16> {
    report
        .flows
        .iter()
        .filter(|f| f.critical && !f.allowed())
        .map(|f| f.port)
        .collect()
}

#[test]
fn a_proposed_policy_replaces_the_one_in_force_with_its_name() {
    let dir = tempfile::tempdir().expect("tmp");
    let bad = write(dir.path(), "bad.yaml", BAD);
    let spec = InputSpec {
        policies: vec![bad.clone()],
        ..InputSpec::default()
    };
    // The corrected policy is in force; the incident's version is proposed under its name.
    let loaded = load_from_documents(&in_force(FIXED), &spec).expect("load");
    assert_eq!(loaded.policies.cilium.len(), 1, "one object, not a merge");
    assert_eq!(
        loaded.policies.cilium[0].origin.file,
        bad.display().to_string()
    );
    let replaced = loaded
        .findings
        .iter()
        .find(|f| f.code == "replaces-policy-in-force")
        .expect("the replacement is said");
    assert!(
        replaced
            .message
            .contains("restrict-node-exporter-hostport-9100")
    );
    let report = check(
        &loaded.inventory,
        &loaded.policies,
        &CheckOptions::default(),
        loaded.findings,
    );
    let denied = critical_denials(&report);
    for port in [2379, 2380, 6443, 10250] {
        assert!(denied.contains(&port), "{port} not in {denied:?}");
    }
    assert_eq!(report.outcome(), policy::findings::Outcome::Critical);

    // The other way round: the fix proposed over the bad version in force is clean.
    let fixed = write(dir.path(), "fixed.yaml", FIXED);
    let spec = InputSpec {
        policies: vec![fixed],
        ..InputSpec::default()
    };
    let loaded = load_from_documents(&in_force(BAD), &spec).expect("load");
    let report = check(
        &loaded.inventory,
        &loaded.policies,
        &CheckOptions::default(),
        loaded.findings,
    );
    assert!(critical_denials(&report).is_empty(), "{:?}", report.flows);
}

#[test]
fn policies_with_other_names_or_namespaces_stay_in_force() {
    let dir = tempfile::tempdir().expect("tmp");
    let cnp = |ns: &str| {
        format!(
            "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {{name: web, namespace: {ns}}}\nspec:\n  endpointSelector: {{}}\n  ingress: [{{}}]\n"
        )
    };
    let proposed = write(dir.path(), "p.yaml", &cnp("shop"));
    let spec = InputSpec {
        policies: vec![proposed],
        ..InputSpec::default()
    };
    // Same name, other namespace; same name, other kind (a NetworkPolicy `web` in shop).
    let knp = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: web, namespace: shop}\nspec: {podSelector: {}}\n";
    let loaded = load_from_documents(&in_force(&format!("{}---\n{knp}", cnp("other"))), &spec)
        .expect("load");
    assert_eq!(loaded.policies.cilium.len(), 2);
    assert_eq!(loaded.policies.network_policies.len(), 1);
    assert!(
        !loaded
            .findings
            .iter()
            .any(|f| f.code == "replaces-policy-in-force")
    );
}

#[test]
fn the_same_policy_twice_among_the_proposed_is_a_finding_and_the_later_counts() {
    let dir = tempfile::tempdir().expect("tmp");
    let a = write(dir.path(), "a.yaml", FIXED);
    let b = write(dir.path(), "b.yaml", BAD);
    let (set, findings) = load_policies(&[a.clone(), b.clone()]).expect("load");
    assert_eq!(set.cilium.len(), 1, "not merged");
    assert_eq!(set.cilium[0].origin.file, b.display().to_string());
    let dup = findings
        .iter()
        .find(|f| f.code == "duplicate-policy")
        .expect("a finding");
    assert!(
        dup.message.contains(&b.display().to_string()),
        "{}",
        dup.message
    );
    assert!(dup.message.contains("counts"), "{}", dup.message);
    // The order decides, whatever the content: the fixed version given last counts.
    let (set, _) = load_policies(&[b, a.clone()]).expect("load");
    assert_eq!(set.cilium[0].origin.file, a.display().to_string());
    // Two documents of one file: the later document counts.
    let both = write(dir.path(), "both.yaml", &format!("{BAD}\n---\n{FIXED}"));
    let (set, findings) = load_policies(&[both]).expect("load");
    assert_eq!(set.cilium.len(), 1);
    assert_eq!(set.cilium[0].origin.doc, 2);
    assert!(findings.iter().any(|f| f.code == "duplicate-policy"));
}

#[test]
fn a_file_without_a_policy_is_an_error_naming_what_it_holds() {
    let dir = tempfile::tempdir().expect("tmp");
    let cases = [
        ("empty.yaml", "", "empty"),
        ("scalar.yaml", "hello\n", "a string"),
        (
            "pod.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop}\n",
            "Pod shop/web",
        ),
        (
            "unknown.yaml",
            "apiVersion: x/v1\nkind: Gizmo\nmetadata: {name: g}\n",
            "Gizmo g",
        ),
    ];
    for (name, text, found) in cases {
        let path = write(dir.path(), name, text);
        match load_policies(std::slice::from_ref(&path)) {
            Err(e @ LoadError::NoPolicy { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains(name), "{msg}");
                assert!(msg.contains(found), "{msg}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    // A folder of such files is no better.
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).expect("mkdir");
    write(
        &sub,
        "pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\n",
    );
    assert!(matches!(
        load_policies(&[sub]),
        Err(LoadError::NoPolicy { .. })
    ));
}

#[test]
fn objects_beside_policies_are_named_and_a_mistyped_kind_is_a_warning() {
    let dir = tempfile::tempdir().expect("tmp");
    let text = format!(
        "{FIXED}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: shop}}\n---\napiVersion: cilium.io/v2\nkind: CiliumClusterWideNetworkPolicy\nmetadata: {{name: typo}}\nspec: {{}}\n"
    );
    let path = write(dir.path(), "mixed.yaml", &text);
    let (set, findings) = load_policies(&[path]).expect("load");
    assert_eq!(set.cilium.len(), 1);
    let other = findings
        .iter()
        .find(|f| f.code == "not-a-policy")
        .expect("named");
    assert!(
        other.message.contains("Namespace shop"),
        "{}",
        other.message
    );
    let typo = findings
        .iter()
        .find(|f| f.code == "unknown-policy-kind")
        .expect("warned");
    assert_eq!(typo.severity, policy::findings::Severity::Warning);
    assert!(typo.message.contains("CiliumClusterWideNetworkPolicy typo"));
}

#[test]
fn reads_refuse_devices_and_link_loops() {
    // A device is refused before any read (an unbounded read of /dev/zero never ends).
    let err = load_policies(&[PathBuf::from("/dev/zero")]).expect_err("refused");
    assert!(matches!(err, LoadError::Input(_)), "{err:?}");
    assert!(err.to_string().contains("character device"), "{err}");
    // A folder with a link back up: a loop, refused, not followed.
    let dir = tempfile::tempdir().expect("tmp");
    write(dir.path(), "p.yaml", FIXED);
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).expect("mkdir");
    std::os::unix::fs::symlink(dir.path(), sub.join("up")).expect("link");
    let err = load_policies(&[dir.path().to_owned()]).expect_err("loop");
    assert!(err.to_string().contains("loop"), "{err}");
    // A link out of the folder is refused, not read.
    let outside = tempfile::tempdir().expect("tmp");
    write(outside.path(), "x.yaml", FIXED);
    let inside = tempfile::tempdir().expect("tmp");
    write(inside.path(), "p.yaml", FIXED);
    std::os::unix::fs::symlink(outside.path(), inside.path().join("out")).expect("link");
    let err = load_policies(&[inside.path().to_owned()]).expect_err("outside");
    assert!(err.to_string().contains("outside"), "{err}");
}

#[test]
fn an_inventory_without_nodes_and_a_config_without_settings_are_errors() {
    let dir = tempfile::tempdir().expect("tmp");
    let pods = write(
        dir.path(),
        "pods.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop}\n",
    );
    let err = policy::input::load_inventory(Some(&pods), None, None).expect_err("no nodes");
    assert!(matches!(err, LoadError::NoNodes { .. }), "{err:?}");
    // Another ConfigMap is not cilium-config: its data must not be taken for Cilium's.
    let cm = write(
        dir.path(),
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: coredns}\ndata: {enable-host-firewall: 'true'}\n",
    );
    let err = policy::input::load_inventory(None, Some(&cm), None).expect_err("not cilium's");
    assert!(matches!(err, LoadError::NoCiliumConfig { .. }), "{err:?}");
    let err = policy::input::load_inventory(None, None, Some("latest")).expect_err("version");
    assert!(err.to_string().contains("latest"), "{err}");
}

#[test]
fn policies_in_the_cluster_files_are_in_force_and_replaced_by_the_proposed() {
    let dir = tempfile::tempdir().expect("tmp");
    let cluster = write(
        dir.path(),
        "cluster.yaml",
        &format!("{CLUSTER}---\n{FIXED}"),
    );
    let bad = write(dir.path(), "bad.yaml", BAD);
    // Before: a policy in --cluster was ignored, so an unrelated proposal checked clean
    // although the cluster's own policy is what the nodes meet. Now it is in force...
    let knp = write(
        dir.path(),
        "knp.yaml",
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x, namespace: shop}\nspec: {podSelector: {}}\n",
    );
    let loaded = policy::input::load(&InputSpec {
        policies: vec![knp],
        cluster: Some(cluster.clone()),
        ..InputSpec::default()
    })
    .expect("load");
    assert_eq!(
        loaded.policies.cilium.len(),
        1,
        "the CCNP of --cluster is in force"
    );
    assert!(
        loaded
            .findings
            .iter()
            .any(|f| f.code == "policies-in-force-from-cluster")
    );
    // ...and the incident's version proposed under its name replaces it.
    let loaded = policy::input::load(&InputSpec {
        policies: vec![bad.clone()],
        cluster: Some(cluster),
        ..InputSpec::default()
    })
    .expect("load");
    assert_eq!(loaded.policies.cilium.len(), 1);
    assert_eq!(
        loaded.policies.cilium[0].origin.file,
        bad.display().to_string()
    );
    let report = check(
        &loaded.inventory,
        &loaded.policies,
        &CheckOptions::default(),
        loaded.findings,
    );
    assert!(critical_denials(&report).contains(&6443));
}

#[test]
fn a_cilium_config_value_the_agent_does_not_take_is_said() {
    let dir = tempfile::tempdir().expect("tmp");
    let cm = write(
        dir.path(),
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cilium-config}\ndata: {enable-policy: Always, enable-host-firewall: 'ture', cluster-name: c1}\n",
    );
    let inv = policy::input::load_inventory(None, Some(&cm), None).expect("inv");
    let unknown: Vec<&str> = inv
        .findings
        .iter()
        .filter(|f| f.code == "cilium-config-value-unknown")
        .map(|f| f.message.as_str())
        .collect();
    assert_eq!(unknown.len(), 2, "{unknown:?}");
    assert!(unknown.iter().any(|m| m.contains("enable-policy")));
    assert!(unknown.iter().any(|m| m.contains("enable-host-firewall")));
    assert_eq!(inv.cilium.cluster_name, "c1");
}

#[test]
fn a_cluster_read_without_nodes_is_an_error_not_an_all_clear() {
    // An etcd that is not the cluster's (or the wrong snapshot): policies, but no nodes.
    let docs = load_bytes("etcd", FIXED.as_bytes()).expect("docs");
    let err = load_from_documents(&docs, &InputSpec::default()).expect_err("no nodes");
    assert!(matches!(err, LoadError::NoNodesRead), "{err:?}");
    assert!(err.to_string().contains("/registry/minions/"), "{err}");
}
