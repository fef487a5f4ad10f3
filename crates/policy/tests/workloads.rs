//! Workloads expanded to pods: DaemonSets one per fitting node (nodeSelector, tolerations vs
//! taints), the others `replicas` pods spread over nodes, capped with a finding. Node placement
//! matters to node-relative rules (C8 `host`, C13.3, C14), which the last tests check.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

use policy::engine::{Engine, EpKind};
use policy::inventory::Inventory;
use policy::inventory::read::inventory;
use policy::model::Protocol;
use policy::source::load_bytes;

/// Three tainted control-plane nodes and two workers, as kubeadm sets them up.
const NODES: &str = "
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Node, metadata: {name: cp-1, labels: {node-role.kubernetes.io/control-plane: '', disk: ssd}}, spec: {taints: [{key: node-role.kubernetes.io/control-plane, effect: NoSchedule}]}, status: {addresses: [{type: InternalIP, address: 10.0.0.11}]}}
- {apiVersion: v1, kind: Node, metadata: {name: cp-2, labels: {node-role.kubernetes.io/control-plane: ''}}, spec: {taints: [{key: node-role.kubernetes.io/control-plane, effect: NoSchedule}]}, status: {addresses: [{type: InternalIP, address: 10.0.0.12}]}}
- {apiVersion: v1, kind: Node, metadata: {name: cp-3, labels: {node-role.kubernetes.io/control-plane: ''}}, spec: {taints: [{key: node-role.kubernetes.io/control-plane, effect: NoSchedule}]}, status: {addresses: [{type: InternalIP, address: 10.0.0.13}]}}
- {apiVersion: v1, kind: Node, metadata: {name: worker-1, labels: {disk: ssd}}, spec: {taints: [{key: dedicated, value: gpu, effect: PreferNoSchedule}]}, status: {addresses: [{type: InternalIP, address: 10.0.0.21}]}}
- {apiVersion: v1, kind: Node, metadata: {name: worker-2, labels: {}}, status: {addresses: [{type: InternalIP, address: 10.0.0.22}]}}
";

fn inv_with(workloads: &str) -> Inventory {
    let text = format!("{NODES}---\n{workloads}");
    let docs = load_bytes("c.yaml", text.as_bytes()).expect("yaml");
    inventory(&docs).expect("inventory")
}

fn daemonset(spec_extra: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {{name: agent, namespace: mon}}\nspec:\n  template:\n    metadata: {{labels: {{app: agent}}}}\n    spec:\n      containers: [{{name: c}}]\n{spec_extra}"
    )
}

/// Node names of the pods of `owner`, sorted.
fn nodes_of(inv: &Inventory, owner: &str) -> Vec<String> {
    let mut v: Vec<String> = inv
        .pods
        .iter()
        .filter(|p| p.owner.as_ref().is_some_and(|o| o.name == owner))
        .map(|p| p.node.clone().unwrap_or_else(|| "-".into()))
        .collect();
    v.sort();
    v
}

#[test]
fn daemonset_pods_per_fitting_node_table() {
    // (template spec lines, nodes it runs on): the scheduler's nodeSelector and
    // ToleratesTaint rules; PreferNoSchedule never keeps a pod off a node.
    let cases: &[(&str, &[&str])] = &[
        ("", &["worker-1", "worker-2"]),
        (
            "      tolerations: [{key: node-role.kubernetes.io/control-plane, operator: Exists, effect: NoSchedule}]\n",
            &["cp-1", "cp-2", "cp-3", "worker-1", "worker-2"],
        ),
        (
            "      tolerations: [{operator: Exists}]\n",
            &["cp-1", "cp-2", "cp-3", "worker-1", "worker-2"],
        ),
        // Equal with a value the taint lacks: not tolerated.
        (
            "      tolerations: [{key: node-role.kubernetes.io/control-plane, operator: Equal, value: x, effect: NoSchedule}]\n",
            &["worker-1", "worker-2"],
        ),
        // Wrong effect: not tolerated.
        (
            "      tolerations: [{key: node-role.kubernetes.io/control-plane, operator: Exists, effect: NoExecute}]\n",
            &["worker-1", "worker-2"],
        ),
        // Empty effect: tolerates every effect of that key.
        (
            "      tolerations: [{key: node-role.kubernetes.io/control-plane, operator: Exists}]\n",
            &["cp-1", "cp-2", "cp-3", "worker-1", "worker-2"],
        ),
        ("      nodeSelector: {disk: ssd}\n", &["worker-1"]),
        (
            "      nodeSelector: {disk: ssd}\n      tolerations: [{operator: Exists}]\n",
            &["cp-1", "worker-1"],
        ),
        ("      nodeSelector: {disk: nvme}\n", &[]),
    ];
    for (extra, want) in cases {
        let inv = inv_with(&daemonset(extra));
        let got = nodes_of(&inv, "agent");
        assert_eq!(got, *want, "template extra: {extra:?}");
        for p in inv.pods.iter().filter(|p| p.namespace == "mon") {
            let node = p.node.as_deref().expect("node");
            assert_eq!(p.name, format!("agent-{node}"));
            let owner = p.owner.as_ref().expect("owner");
            assert_eq!(
                (owner.kind.as_str(), owner.name.as_str()),
                ("DaemonSet", "agent")
            );
            assert_eq!(p.labels.get("app").map(String::as_str), Some("agent"));
        }
        let unschedulable = inv
            .findings
            .iter()
            .any(|f| f.code == "workload-unschedulable");
        assert_eq!(unschedulable, want.is_empty(), "{extra:?}");
    }
}

#[test]
fn host_network_daemonset_takes_node_ips_and_is_the_host_c8() {
    let inv = inv_with(&daemonset(
        "      hostNetwork: true\n      tolerations: [{operator: Exists}]\n",
    ));
    let ips: Vec<(String, String)> = inv
        .pods
        .iter()
        .filter(|p| p.namespace == "mon")
        .map(|p| {
            (
                p.node.clone().unwrap_or_default(),
                p.ip.map(|i| i.to_string()).unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(ips.len(), 5);
    for (node, ip) in &ips {
        let n = inv.node(node).expect("node");
        assert_eq!(ip, &n.addresses[0].to_string(), "{node}");
    }
    // C8: a hostNetwork pod is its node's host endpoint.
    let set = policy::model::PolicySet::default();
    let engine = Engine::new(&inv, &set);
    let ep = engine.pod("mon", "agent-cp-2").expect("pod");
    assert_eq!(ep.kind, EpKind::Host);
    assert_eq!(ep.node.as_deref(), Some("cp-2"));
}

#[test]
fn replicas_spread_over_fitting_nodes_with_owner() {
    let inv = inv_with(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  replicas: 5\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: c}]}\n---\napiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db, namespace: shop}\nspec:\n  replicas: 0\n  template:\n    metadata: {labels: {app: db}}\n    spec: {containers: [{name: c}]}\n---\napiVersion: batch/v1\nkind: Job\nmetadata: {name: batch, namespace: shop}\nspec:\n  parallelism: 2\n  template:\n    metadata: {labels: {app: batch}}\n    spec: {containers: [{name: c}]}\n",
    );
    let mut web: Vec<(String, String)> = inv
        .pods
        .iter()
        .filter(|p| p.owner.as_ref().is_some_and(|o| o.name == "web"))
        .map(|p| (p.name.clone(), p.node.clone().unwrap_or_default()))
        .collect();
    web.sort();
    // Control-plane nodes are tainted; the five replicas alternate over the two workers.
    assert_eq!(
        web,
        vec![
            ("web-0".into(), "worker-1".into()),
            ("web-1".into(), "worker-2".into()),
            ("web-2".into(), "worker-1".into()),
            ("web-3".into(), "worker-2".into()),
            ("web-4".into(), "worker-1".into()),
        ]
    );
    assert!(
        inv.pods
            .iter()
            .filter(|p| p.name.starts_with("web-"))
            .all(|p| p.owner.as_ref().is_some_and(|o| o.kind == "Deployment"))
    );
    assert_eq!(nodes_of(&inv, "db"), Vec::<String>::new(), "replicas: 0");
    assert_eq!(nodes_of(&inv, "batch").len(), 2, "Job parallelism");
    assert!(inv.findings.is_empty(), "{:?}", inv.findings);
}

#[test]
fn huge_replica_count_is_capped_with_a_finding() {
    let inv = inv_with(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: big, namespace: shop}\nspec:\n  replicas: 2000000000\n  template:\n    metadata: {labels: {app: big}}\n    spec: {containers: [{name: c}]}\n",
    );
    let n = nodes_of(&inv, "big").len();
    assert_eq!(n, policy::inventory::MAX_REPLICAS);
    let f = inv
        .findings
        .iter()
        .find(|f| f.code == "workload-expansion-capped")
        .expect("capped finding");
    assert!(f.message.contains("2000000000"), "{}", f.message);
    assert!(
        f.location
            .as_deref()
            .is_some_and(|l| l.starts_with("c.yaml:"))
    );
    // `lint` (and so `check`) reports it.
    let lint = policy::lint::lint(&policy::model::PolicySet::default(), &inv);
    assert!(lint.iter().any(|f| f.code == "workload-expansion-capped"));
}

#[test]
fn bad_replicas_and_taints_are_errors_naming_the_field() {
    let cases = [
        (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: w}\nspec:\n  replicas: many\n  template: {spec: {containers: [{name: c}]}}\n",
            "spec.replicas",
            5,
        ),
        (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: w}\nspec:\n  replicas: -3\n  template: {spec: {containers: [{name: c}]}}\n",
            "spec.replicas",
            5,
        ),
        (
            "apiVersion: v1\nkind: Node\nmetadata: {name: n}\nspec:\n  taints:\n  - {effect: NoSchedule}\n",
            "spec.taints[0].key",
            6,
        ),
        (
            "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: d}\nspec:\n  template:\n    spec:\n      containers: [{name: c}]\n      nodeSelector: [a]\n",
            "spec.template.spec.nodeSelector",
            8,
        ),
    ];
    for (text, field, line) in cases {
        let docs = load_bytes("bad.yaml", text.as_bytes()).expect("yaml");
        let errs = inventory(&docs).expect_err(field);
        assert!(
            errs.iter()
                .any(|e| e.field == field && e.line == line && e.file == "bad.yaml"),
            "{field}: {errs:?}"
        );
    }
}

#[test]
fn allow_localhost_reaches_only_the_pod_on_that_node_c14() {
    // An ingress default-deny on the daemon pods (C2.6): only each pod's own node gets in
    // through allow-localhost (C14), so which node a pod was placed on decides the verdict.
    let inv = inv_with(&daemonset(""));
    let docs = load_bytes(
        "p.yaml",
        b"apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: deny, namespace: mon}\nspec:\n  endpointSelector: {matchLabels: {app: agent}}\n  ingress: [{}]\n",
    )
    .expect("yaml");
    let parsed = policy::parse::policies(&docs);
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    let engine = Engine::new(&inv, &parsed.policies);
    let pod = engine.pod("mon", "agent-worker-1").expect("pod");
    for (src, want) in [("node/worker-1", true), ("node/worker-2", false)] {
        let s = engine.resolve(src).expect(src);
        let v = engine.flow(&s, &pod, Protocol::Tcp, 9100);
        assert_eq!(v.allowed, want, "{src}: {}", v.explanation());
    }
}

#[test]
fn workloads_with_pods_of_their_own_are_not_expanded() {
    // Pods owned through a ReplicaSet (Deployment) and a Job (CronJob) stand for their
    // workloads; a Deployment whose name is only a prefix of the ReplicaSet's parent is not
    // theirs and expands.
    let inv = inv_with(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web-api-7d9f-x1\n  namespace: shop\n  ownerReferences: [{kind: ReplicaSet, name: web-api-7d9f, controller: true}]\nspec: {nodeName: worker-1, containers: [{name: c}]}\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: nightly-2900-abc\n  namespace: shop\n  ownerReferences: [{kind: Job, name: nightly-2900, controller: true}]\nspec: {nodeName: worker-2, containers: [{name: c}]}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web-api, namespace: shop}\nspec:\n  replicas: 3\n  template: {metadata: {labels: {app: api}}, spec: {containers: [{name: c}]}}\n---\napiVersion: batch/v1\nkind: CronJob\nmetadata: {name: nightly, namespace: shop}\nspec:\n  jobTemplate: {spec: {template: {spec: {containers: [{name: c}]}}}}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  replicas: 2\n  template: {metadata: {labels: {app: web}}, spec: {containers: [{name: c}]}}\n",
    );
    let mut names: Vec<&str> = inv
        .pods
        .iter()
        .filter(|p| p.namespace == "shop")
        .map(|p| p.name.as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["nightly-2900-abc", "web-0", "web-1", "web-api-7d9f-x1"]
    );
}
