//! What the watch-update examples share: the generated cluster's objects under the keys the
//! API server stores them at, written into etcd, the updates they time, and their summary line.

// Each example uses a part of it.
#![allow(dead_code)]

use std::time::Duration;

use policy::yaml::{Node, Value};

pub type Failure = Box<dyn std::error::Error>;

/// Every object of the generated cluster in `dir` put into etcd, in transactions of 100; how
/// many.
pub async fn load(
    client: &mut etcd_client::Client,
    dir: &std::path::Path,
) -> Result<usize, Failure> {
    use etcd_client::{Txn, TxnOp};
    let mut ops = Vec::new();
    let mut written = 0;
    for (key, value) in objects(dir)? {
        ops.push(TxnOp::put(key, value, None));
        if ops.len() == 100 {
            written += ops.len();
            let batch = std::mem::take(&mut ops);
            client.txn(Txn::new().and_then(batch)).await?;
        }
    }
    written += ops.len();
    if !ops.is_empty() {
        client.txn(Txn::new().and_then(ops)).await?;
    }
    Ok(written)
}

/// The i-th change of a kind: a new pod, a new node, or the spec of the generator's `np-0` in
/// `ns0` changed.
pub fn update(kind: &str, i: usize) -> (String, Vec<u8>) {
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
pub fn objects(dir: &std::path::Path) -> Result<Vec<(String, Vec<u8>)>, Failure> {
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

pub fn key_of(obj: &serde_json::Value) -> Option<String> {
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

pub fn to_json(node: &Node) -> serde_json::Value {
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

pub fn summary(times: &mut [Duration]) -> String {
    times.sort();
    let at = |q: f64| {
        let i = ((q * times.len() as f64) as usize).min(times.len().saturating_sub(1));
        times.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    format!("p50 {:.1} ms, p99 {:.1} ms", at(0.5), at(0.99))
}
