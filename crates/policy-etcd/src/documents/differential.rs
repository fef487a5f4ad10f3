//! The input assembled from conversions kept per key, updated by random puts and deletes,
//! against the input read from scratch from every document (as `load_from_documents` did before
//! conversions were kept) after each step.

use serde_json::{Value, json};

use super::{Documents, decode};
use policy::error::LoadError;
use policy::input::{InputSpec, Loaded};
use policy::source::Document;

/// A small deterministic generator (xorshift): the sequence is the same on every run, so a
/// failure names a step that can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }
}

const NAMESPACES: [&str; 3] = ["ns0", "ns1", "kube-system"];

fn namespace(r: &mut Rng, ns: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": ns, "labels": {"team": r.pick(&["a", "b"])}}})
}

fn node(r: &mut Rng, i: usize) -> Value {
    let mut labels = json!({"kubernetes.io/os": "linux", "zone": r.pick(&["z1", "z2"])});
    if r.below(3) == 0 {
        labels["node-role.kubernetes.io/control-plane"] = json!("");
    }
    json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": format!("node{i}"), "labels": labels},
        "status": {"addresses": [{"type": "InternalIP", "address": format!("172.16.0.{}", i + 1)}]}})
}

fn pod(r: &mut Rng, ns: &str, i: usize) -> Value {
    let mut p = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("p{i}"), "namespace": ns,
                     "labels": {"app": r.pick(&["web", "db", "cache"])}},
        "spec": {"nodeName": format!("node{}", r.below(4)),
                 "containers": [{"name": "main", "image": "nginx",
                                 "ports": [{"name": "http", "containerPort": 8080 + r.below(3)}]}]},
        "status": {"podIP": format!("10.0.{}.{}", r.below(3), i + 1)}});
    match r.below(6) {
        // A Cilium agent: the cluster's Cilium version comes from its image.
        0 => {
            p["metadata"]["ownerReferences"] =
                json!([{"kind": "DaemonSet", "name": "cilium", "controller": true}]);
            p["spec"]["containers"][0]["image"] =
                json!(format!("quay.io/cilium/cilium:v1.{}.2", 14 + r.below(3)));
        }
        // A pod of the Deployment `d0`: the Deployment is then not expanded from its template.
        1 => {
            p["metadata"]["ownerReferences"] =
                json!([{"kind": "Deployment", "name": "d0", "controller": true}]);
        }
        // An API server: its node's host identity changes.
        2 if ns == "kube-system" => {
            p["metadata"]["name"] = json!(format!("kube-apiserver-{i}"));
            p["metadata"]["labels"] = json!({"component": "kube-apiserver"});
        }
        _ => {}
    }
    p
}

/// Two pods in one value (a `List`, as no API server stores, but a restored or hand-written
/// key may hold): their order among the other pods is their key's.
fn pod_list(r: &mut Rng, ns: &str, i: usize) -> Value {
    let items = vec![pod(r, ns, i + 10), pod(r, ns, i + 20)];
    json!({"apiVersion": "v1", "kind": "List", "items": items})
}

fn network_policy(r: &mut Rng, ns: &str, i: usize) -> Value {
    let port = match r.below(8) {
        // Out of range: the parser refuses the policy, so the whole input is unusable.
        0 => json!(70000),
        _ => json!(8080 + r.below(3)),
    };
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": format!("np{i}"), "namespace": ns},
        "spec": {"podSelector": {"matchLabels": {"app": r.pick(&["web", "db"])}},
                 "policyTypes": ["Ingress"],
                 "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": r.pick(&["a", "b"])}}}],
                              "ports": [{"port": port, "protocol": "TCP"}]}]}})
}

fn cilium_policy(r: &mut Rng, ns: &str, i: usize) -> Value {
    json!({"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy",
        "metadata": {"name": format!("cnp{i}"), "namespace": ns},
        "spec": {"endpointSelector": {"matchLabels": {"app": r.pick(&["web", "cache"])}},
                 "egress": [{"toEndpoints": [{"matchLabels": {"app": "db"}}],
                             "toPorts": [{"ports": [{"port": "8081", "protocol": "TCP"}]}]}]}})
}

fn other(r: &mut Rng, what: usize) -> (String, Value) {
    match what {
        0 => (
            "/registry/configmaps/kube-system/cilium-config".into(),
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "cilium-config", "namespace": "kube-system"},
                "data": {"enable-policy": r.pick(&["default", "always", "sometimes"])}}),
        ),
        1 => (
            "/registry/deployments/ns0/d0".into(),
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "d0", "namespace": "ns0"},
                "spec": {"replicas": 1 + r.below(3), "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "main"}]}}}}),
        ),
        _ => (
            "/registry/services/specs/ns1/s0".into(),
            json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "s0", "namespace": "ns1"},
                "spec": {"selector": {"app": r.pick(&["web", "db"])}, "clusterIP": "10.96.0.10",
                         "ports": [{"port": 80, "targetPort": "http"}]}}),
        ),
    }
}

/// A random key of the universe, and a value for it.
fn object(r: &mut Rng) -> (String, Value) {
    let ns = r.pick(&NAMESPACES);
    let i = r.below(5);
    match r.below(8) {
        0 => (format!("/registry/namespaces/{ns}"), namespace(r, ns)),
        1 => (format!("/registry/minions/node{}", i % 4), node(r, i % 4)),
        2 | 3 => match r.below(16) {
            // Seldom a `List` of pods, under a key a plain pod replaces: the pods are then
            // not one per key, and the input is assembled the long way.
            0 | 1 => {
                let value = match r.below(3) {
                    0 => pod_list(r, ns, i),
                    _ => pod(r, ns, i + 30),
                };
                (format!("/registry/pods/{ns}/list"), value)
            }
            // Seldom a pod that does not convert: the input is unusable until it goes.
            2 => {
                let mut p = pod(r, ns, i);
                p["status"]["podIP"] = json!("not-an-address");
                (format!("/registry/pods/{ns}/p{i}"), p)
            }
            // Seldom a pod under another namespace's key (no API server writes one): the pods
            // of a namespace may then not be one run.
            3 | 4 => {
                let elsewhere = match ns {
                    "ns0" => "ns1",
                    _ => "ns0",
                };
                (format!("/registry/pods/{ns}/p{i}"), pod(r, elsewhere, i))
            }
            _ => (format!("/registry/pods/{ns}/p{i}"), pod(r, ns, i)),
        },
        4 => (
            format!("/registry/networkpolicies/{ns}/np{i}"),
            network_policy(r, ns, i),
        ),
        5 => (
            format!("/registry/cilium.io/ciliumnetworkpolicies/{ns}/cnp{i}"),
            cilium_policy(r, ns, i),
        ),
        _ => other(r, i % 3),
    }
}

/// The input read from every document at once, in key order, as it was read before
/// conversions were kept per key.
fn from_scratch(values: &std::collections::BTreeMap<String, Vec<u8>>) -> Result<Loaded, String> {
    let mut docs: Vec<Document> = Vec::new();
    for (key, value) in values {
        if let Ok(mut d) = decode(key, value, 1) {
            docs.append(&mut d);
        }
    }
    let current = policy::parse::policies(&docs);
    if !current.errors.is_empty() {
        return Err(LoadError::Invalid(current.errors).to_string());
    }
    let inventory =
        policy::inventory::read::inventory(&docs).map_err(|e| LoadError::Invalid(e).to_string())?;
    if inventory.nodes.is_empty() {
        return Err(LoadError::NoNodesRead.to_string());
    }
    Ok(Loaded {
        policies: current.policies.into(),
        inventory,
        findings: current.findings,
    })
}

/// Everything a `Loaded` says, as text (the namespace index, a `HashMap`, is left out: its
/// lookups are compared through `namespace()`).
fn canonical(l: &Loaded) -> String {
    let inv = &l.inventory;
    let lookups: Vec<_> = NAMESPACES.iter().map(|n| inv.namespace(n)).collect();
    // Each namespace's pods as `pods_in` finds them (from runs when it can), which must be
    // what a walk over every pod finds.
    let pods_in: Vec<Vec<&str>> = NAMESPACES
        .iter()
        .map(|n| {
            let found: Vec<&str> = inv.pods_in(n).map(|p| p.name.as_str()).collect();
            let walked = inv.pods.iter().filter(|p| p.namespace == *n);
            assert_eq!(found, walked.map(|p| p.name.as_str()).collect::<Vec<_>>());
            found
        })
        .collect();
    format!(
        "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
        l.policies,
        l.findings,
        inv.assumed,
        inv.nodes,
        inv.namespaces,
        inv.pods,
        inv.services,
        inv.webhooks,
        inv.cilium,
        inv.findings,
        lookups,
        pods_in
    )
}

fn outcome(r: &Result<Loaded, String>) -> String {
    match r {
        Ok(l) => canonical(l),
        Err(e) => format!("error: {e}"),
    }
}

#[test]
fn incremental_input_equals_a_full_read_after_every_change() {
    let spec = InputSpec::default();
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    let mut values = std::collections::BTreeMap::new();
    let mut docs = Documents::new();
    let (mut usable, mut unusable) = (0, 0);
    let (mut apart, mut together) = (0, 0);
    for step in 0..600 {
        let (key, value) = object(&mut r);
        match r.below(10) {
            0..=2 => {
                docs.delete(key.as_bytes());
                values.remove(&key);
            }
            3 => {
                // Not a Kubernetes object: the key leaves the model, and is named.
                docs.put(key.as_bytes(), b"\x00junk", 1);
                values.insert(key, b"\x00junk".to_vec());
            }
            _ => {
                let bytes = serde_json::to_vec(&value).unwrap_or_default();
                docs.put(key.as_bytes(), &bytes, 1);
                values.insert(key, bytes);
            }
        }
        if docs.converted.pods_apart() {
            apart += 1;
        } else {
            together += 1;
        }
        let incremental = docs.build(&spec).map_err(|e| e.to_string());
        let scratch = from_scratch(&values);
        let (a, b) = (outcome(&incremental), outcome(&scratch));
        assert!(a == b, "step {step}: incremental\n{a}\n\nfrom scratch\n{b}");
        if let (Ok(a), Ok(b)) = (&incremental, &scratch) {
            usable += 1;
            let opts = policy::check::CheckOptions::default();
            let check = |l: &Loaded| {
                let report = policy::check::check(&l.inventory, &l.policies, &opts, Vec::new());
                format!("{:?}", report.flows)
            };
            assert_eq!(check(a), check(b), "step {step}: verdicts differ");
        } else {
            unusable += 1;
        }
    }
    // The sequence must cover both a usable input and an unusable one (an invalid policy, no
    // node), or it proves little.
    assert!(
        usable > 100 && unusable > 20,
        "{usable} usable, {unusable} unusable"
    );
    // Both ways of assembling the inventory must be compared, each often.
    assert!(
        apart > 100 && together > 50,
        "{apart} builds with the pods apart, {together} with pods elsewhere too"
    );
}
