//! Where a watch update's time goes, without etcd: a generated cluster (`gen_cluster cluster
//! DIR ...`) put into `policy_etcd::Documents` as the watch would, its input built and its
//! baseline computed; then UPDATES changes of each kind (a pod added, a node added, a
//! NetworkPolicy changed), each timed in its three phases: the put (decode, convert), the
//! input build, the baseline after it. Prints p50/p99 per phase and kind. `watch_update`
//! times the same path end to end through a real etcd.
//!
//!   target/release/examples/gen_cluster cluster /tmp/gen 5000 2000 150000 10000
//!   target/release/examples/update_phases /tmp/gen [UPDATES]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use policy::check::CheckOptions;
use policy::yaml::{Node, Value};
use policy_etcd::documents::Documents;
use webhook::baseline::Baseline;

type Failure = Box<dyn std::error::Error>;

fn main() -> Result<(), Failure> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or("usage: update_phases DIR [UPDATES]")?);
    let updates: usize = args.next().map_or(Ok(50), |n| n.parse())?;
    let started = Instant::now();
    let mut docs = Documents::new();
    for (key, value) in objects(&dir)? {
        docs.put(key.as_bytes(), &value, 1);
    }
    let spec = Default::default();
    let loaded = Arc::new(docs.build(&spec)?);
    let opts = CheckOptions::default();
    let mut baseline = Baseline::compute_after(loaded, opts.clone(), None);
    println!(
        "update_phases: read, built and judged in {:.1} s ({} flows)",
        started.elapsed().as_secs_f64(),
        baseline.report.flows.len()
    );
    let mut retired = Vec::new();
    for kind in ["pod added", "node added", "policy changed"] {
        let (mut put, mut build, mut judge) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..updates {
            let (key, value) = update(kind, i);
            let t = Instant::now();
            docs.put(key.as_bytes(), &value, 2 + i as i64);
            put.push(t.elapsed());
            let t = Instant::now();
            let loaded = Arc::new(docs.build(&spec)?);
            build.push(t.elapsed());
            let t = Instant::now();
            let next = Baseline::compute_after(loaded, opts.clone(), Some(&baseline.compiled()));
            judge.push(t.elapsed());
            // Freed later, as the webhook frees them off the publishing path.
            retired.push(std::mem::replace(&mut baseline, next));
        }
        println!(
            "update_phases: {kind}: put {}; build {}; baseline {}",
            summary(&mut put),
            summary(&mut build),
            summary(&mut judge)
        );
        retired.clear();
    }
    Ok(())
}

fn summary(times: &mut [Duration]) -> String {
    times.sort();
    let at = |q: f64| {
        let i = ((q * times.len() as f64) as usize).min(times.len().saturating_sub(1));
        times.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    format!("p50 {:.1} ms, p99 {:.1} ms", at(0.5), at(0.99))
}

/// The i-th change of a kind, as `watch_update` writes it.
fn update(kind: &str, i: usize) -> (String, Vec<u8>) {
    let json = match kind {
        "pod added" => serde_json::json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("bench-{i}"), "namespace": "ns1", "labels": {"app": "app1"}},
            "spec": {"nodeName": "node-7", "containers": [{"name": "main"}]},
            "status": {"podIP": format!("10.250.{}.{}", i / 250, i % 250 + 1)}}),
        "node added" => serde_json::json!({"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": format!("bench-node-{i}"), "labels": {"kubernetes.io/os": "linux"}},
            "status": {"addresses": [{"type": "InternalIP", "address": format!("172.31.{}.{}", i / 250, i % 250 + 1)}]}}),
        _ => serde_json::json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "np-0", "namespace": "ns0"},
            "spec": {"podSelector": {"matchLabels": {"app": format!("app{}", i % 6)}},
                     "policyTypes": ["Ingress"],
                     "ingress": [{"ports": [{"port": 8080 + (i % 7) as i64, "protocol": "TCP"}]}]}}),
    };
    let key = key_of(&json).unwrap_or_default();
    (key, serde_json::to_vec(&json).unwrap_or_default())
}

/// Every object of the generated cluster with the key the API server would store it under.
fn objects(dir: &std::path::Path) -> Result<Vec<(String, Vec<u8>)>, Failure> {
    let docs = policy::source::load_path(dir, inputs::Kind::INVENTORY)?;
    let mut out = Vec::new();
    for doc in &docs {
        let json = to_json(&doc.node);
        if let Some(key) = key_of(&json) {
            out.push((key, serde_json::to_vec(&json)?));
        }
    }
    Ok(out)
}

fn key_of(obj: &serde_json::Value) -> Option<String> {
    let name = obj["metadata"]["name"].as_str()?;
    let ns = obj["metadata"]["namespace"].as_str().unwrap_or("default");
    let key = match obj["kind"].as_str()? {
        "Node" => format!("/registry/minions/{name}"),
        "Namespace" => format!("/registry/namespaces/{name}"),
        "Pod" => format!("/registry/pods/{ns}/{name}"),
        "Service" => format!("/registry/services/specs/{ns}/{name}"),
        "NetworkPolicy" => format!("/registry/networkpolicies/{ns}/{name}"),
        "CiliumNetworkPolicy" => format!("/registry/cilium.io/ciliumnetworkpolicies/{ns}/{name}"),
        "CiliumClusterwideNetworkPolicy" => {
            format!("/registry/cilium.io/ciliumclusterwidenetworkpolicies/{name}")
        }
        "ConfigMap" if name == "cilium-config" => format!("/registry/configmaps/{ns}/{name}"),
        _ => return None,
    };
    Some(key)
}

fn to_json(node: &Node) -> serde_json::Value {
    match &node.value {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => (*b).into(),
        Value::Int(i) => (*i).into(),
        Value::Float(f) => (*f).into(),
        Value::Str(s) => s.clone().into(),
        Value::Seq(items) => items.iter().map(to_json).collect(),
        Value::Map(pairs) => pairs
            .iter()
            .map(|(k, v)| (k.clone(), to_json(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
    }
}
