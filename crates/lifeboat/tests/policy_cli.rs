//! `lifeboat policy ...` from the binary: the field report's lockout policy, its fix, the
//! np-guard corpus, and malformed input.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod common;

use common::lifeboat;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../policy/tests/fixtures");
const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/netpol-analyzer/cases"
);

#[test]
fn the_lockout_policy_is_critical_and_names_the_control_plane_ports() {
    let out = lifeboat()
        .args(["policy", "check", "-o", "json", "-f"])
        .arg(format!("{FIXTURES}/lockout-ccnp.yaml"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["assumed_inventory"], true);
    let denied: Vec<u64> = json["flows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["verdict"] == "deny" && f["critical"] == true)
        .filter_map(|f| f["port"].as_u64())
        .collect();
    for port in [2379, 2380, 6443, 10250] {
        assert!(
            denied.contains(&port),
            "{port} not among critical denials {denied:?}"
        );
    }
    let with_fix = json["flows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["verdict"] == "deny")
        .all(|f| f["fix"].is_string());
    assert!(with_fix, "every denied flow carries a fix");
}

#[test]
fn the_corrected_policy_is_clean() {
    let out = lifeboat()
        .args(["policy", "check", "-f"])
        .arg(format!("{FIXTURES}/lockout-ccnp-fixed.yaml"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn connectivity_from_the_binary_matches_np_guard() {
    let case = format!("{CORPUS}/onlineboutique");
    let out = lifeboat()
        .args(["policy", "connectivity", "--dir"])
        .arg(format!("{case}/input"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut ours: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    let expected = std::fs::read_to_string(format!("{case}/expected_connlist.txt")).unwrap();
    let mut theirs: Vec<String> = expected
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    ours.sort();
    theirs.sort();
    assert_eq!(ours, theirs);
}

#[test]
fn malformed_policy_is_one_clear_error_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nspec:\n  ingress: [\n",
    )
    .unwrap();
    let out = lifeboat()
        .args(["policy", "check", "-f"])
        .arg(&bad)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("bad.yaml"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn connectivity_speaks_txt_json_and_dot_through_dash_o() {
    let dir = format!("{CORPUS}/minimal_test_in_ns/input");
    let run = |o: &str| {
        lifeboat()
            .args(["policy", "connectivity", "-o", o, "--dir", &dir])
            .output()
            .unwrap()
    };
    let dot = run("dot");
    assert_eq!(dot.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&dot.stdout).starts_with("digraph"));
    let txt = run("txt");
    let table = lifeboat()
        .args(["policy", "connectivity", "--dir", &dir])
        .output()
        .unwrap();
    assert_eq!(txt.stdout, table.stdout, "-o txt is the default listing");
    let json = run("json");
    assert!(serde_json::from_slice::<serde_json::Value>(&json.stdout).is_ok());
    // Elsewhere txt and dot mean nothing: a usage error, not a surprise.
    let other = lifeboat().args(["status", "-o", "dot"]).output().unwrap();
    assert_eq!(other.status.code(), Some(64));
}

#[test]
fn lint_names_the_cilium_version_that_added_a_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("range.yaml");
    std::fs::write(
        &path,
        "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: range, namespace: shop}\nspec:\n  endpointSelector: {matchLabels: {app: web}}\n  ingress:\n  - fromEntities: [cluster]\n    toPorts: [{ports: [{port: '8000', endPort: 8100, protocol: TCP}]}]\n",
    )
    .unwrap();
    // (version, reported?) C1: a field the cluster's CRD lacks is a finding.
    for (version, reported) in [("1.15.7", true), ("1.16.0", false)] {
        let out = lifeboat()
            .args([
                "policy",
                "lint",
                "-o",
                "json",
                "--cilium-version",
                version,
                "-f",
            ])
            .arg(&path)
            .output()
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let hit = json["findings"].as_array().unwrap().iter().any(|f| {
            f["code"] == "field-not-in-cilium-version"
                && f["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("endPort was added in Cilium 1.16"))
        });
        assert_eq!(hit, reported, "{version}: {json}");
    }
}

#[test]
fn connectivity_lists_cilium_policies_with_entities() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("all.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop, labels: {app: web}}\nspec: {containers: [{name: c}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: db, namespace: shop, labels: {app: db}}\nspec: {containers: [{name: c}]}\n---\napiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: web, namespace: shop}\nspec:\n  endpointSelector: {matchLabels: {app: web}}\n  egress:\n  - toEntities: [kube-apiserver]\n    toPorts: [{ports: [{port: '6443', protocol: TCP}]}]\n",
    )
    .unwrap();
    let out = lifeboat()
        .args(["policy", "connectivity", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    // C2.4: web egress default-deny; C8: only the kube-apiserver entity on 6443.
    assert!(
        text.lines()
            .any(|l| l == "shop/web[Pod] => kube-apiserver[Entity] : TCP 6443"),
        "{text}"
    );
    assert!(!text.contains("shop/web[Pod] => shop/db[Pod]"), "{text}");
    assert!(
        text.contains("shop/db[Pod] => shop/web[Pod] : All Connections"),
        "{text}"
    );
}

#[test]
fn check_judges_to_fqdns_by_the_name_a_flow_gives() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("p.yaml");
    std::fs::write(
        &policy,
        "apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: out}\nspec:\n  endpointSelector: {matchLabels: {k8s:io.kubernetes.pod.namespace: kube-system}}\n  egress:\n  - toEndpoints: [{}]\n    toPorts:\n    - ports: [{port: '53', protocol: ANY}]\n      rules: {dns: [{matchPattern: '*'}]}\n  - toFQDNs: [{matchName: api.example.com}]\n    toPorts: [{ports: [{port: '443', protocol: TCP}]}]\n",
    )
    .unwrap();
    let flows = dir.path().join("flows.yaml");
    std::fs::write(
        &flows,
        "- {name: named, src: kube-system/coredns-5d78c9869d-0, dst: 203.0.113.7, port: 443, fqdn: api.example.com}\n- {name: unnamed, src: kube-system/coredns-5d78c9869d-0, dst: 203.0.113.7, port: 443}\n",
    )
    .unwrap();
    let out = lifeboat()
        .args(["policy", "check", "-o", "json", "-f"])
        .arg(&policy)
        .arg("--flows")
        .arg(&flows)
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let flow = |name: &str| {
        json["flows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} in {json}"))
    };
    // C12: with the name, the toFQDNs rule decides; without it, it depends on DNS.
    assert_eq!(flow("named")["verdict"], "allow", "{}", flow("named"));
    assert_eq!(flow("unnamed")["verdict"], "deny");
    assert_eq!(flow("unnamed")["depends_on_dns"], true);
    assert!(
        flow("unnamed")["explanation"]
            .as_str()
            .is_some_and(|e| e.contains("depends on DNS"))
    );
}

/// Issue 12: an input that yields no policy, or cannot be read, is exit 3 with the file named,
/// never "0 denied".
#[test]
fn inputs_that_yield_no_policy_are_errors_not_an_all_clear() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.yaml");
    std::fs::write(&empty, "").unwrap();
    let pod = dir.path().join("pod.yaml");
    std::fs::write(&pod, "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\n").unwrap();
    let cases: [(&str, &std::path::Path, &str); 6] = [
        (
            "check",
            std::path::Path::new("/dev/zero"),
            "character device",
        ),
        (
            "lint",
            std::path::Path::new("/dev/zero"),
            "character device",
        ),
        ("check", &empty, "holds no NetworkPolicy"),
        ("lint", &empty, "holds no NetworkPolicy"),
        ("check", &pod, "Pod web"),
        ("check", dir.path(), "holds no NetworkPolicy"),
    ];
    for (cmd, path, says) in cases {
        let out = lifeboat()
            .args(["policy", cmd, "-f"])
            .arg(path)
            .timeout(std::time::Duration::from_secs(20))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(3),
            "{cmd} {}: {stderr}",
            path.display()
        );
        assert!(stderr.contains(&path.display().to_string()), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
        assert!(!String::from_utf8_lossy(&out.stdout).contains("denied"));
    }
    // --flows and --cilium-config are read the same way.
    for flag in ["--flows", "--cilium-config", "--cluster"] {
        let out = lifeboat()
            .args(["policy", "check", "-f"])
            .arg(format!("{FIXTURES}/lockout-ccnp-fixed.yaml"))
            .args([flag, "/dev/zero"])
            .timeout(std::time::Duration::from_secs(20))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{flag}: {stderr}");
        assert!(stderr.contains("/dev/zero"), "{flag}: {stderr}");
    }
}

/// A policy folder with a symlink loop is refused at once, not followed.
#[test]
fn a_policy_folder_with_a_link_loop_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        format!("{FIXTURES}/lockout-ccnp-fixed.yaml"),
        dir.path().join("p.yaml"),
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::os::unix::fs::symlink(dir.path(), dir.path().join("sub/up")).unwrap();
    let out = lifeboat()
        .args(["policy", "lint", "-f"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("symlink loop"), "{stderr}");
}

/// `policy diff --cluster`: the policies the cluster files hold are in force on both sides, and
/// a side's policy with the same name replaces its version (A1). Here the cluster runs the
/// incident's policy and the fix is proposed: the control-plane flows come back.
#[test]
fn diff_applies_each_side_to_the_policies_in_force() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = "apiVersion: v1\nkind: Node\nmetadata: {name: cp-1, labels: {node-role.kubernetes.io/control-plane: ''}}\nstatus: {addresses: [{type: InternalIP, address: 198.18.0.1}]}\n---\napiVersion: v1\nkind: Node\nmetadata: {name: cp-2, labels: {node-role.kubernetes.io/control-plane: ''}}\nstatus: {addresses: [{type: InternalIP, address: 198.18.0.2}]}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cilium-config, namespace: kube-system}\ndata: {enable-host-firewall: 'true'}\n---\n";
    let bad = std::fs::read_to_string(format!("{FIXTURES}/lockout-ccnp.yaml")).unwrap();
    let cluster = dir.path().join("cluster.yaml");
    std::fs::write(&cluster, format!("{nodes}{bad}")).unwrap();
    let other = dir.path().join("other.yaml");
    std::fs::write(
        &other,
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x, namespace: shop}\nspec: {podSelector: {}}\n",
    )
    .unwrap();
    let out = lifeboat()
        .args(["policy", "diff", "-o", "json", "--before"])
        .arg(&other)
        .arg("--after")
        .arg(format!("{FIXTURES}/lockout-ccnp-fixed.yaml"))
        .arg("--cluster")
        .arg(&cluster)
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let restored: Vec<u64> = json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["before"] == "deny" && c["after"] == "allow")
        .filter_map(|c| c["port"].as_u64())
        .collect();
    for port in [2379, 6443, 10250] {
        assert!(
            restored.contains(&port),
            "{port} not in {restored:?}: {json}"
        );
    }
}
