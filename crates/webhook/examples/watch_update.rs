//! How long a watch update takes to reach the webhook's published baseline: a generated
//! cluster (`gen_cluster cluster DIR ...`) written into a real etcd (the `testkit` one,
//! `LIFEBOAT_ETCD_BIN`), followed by a `LiveView` and the background baseline
//! (`policy_etcd::Derived`, as `webhook serve --from-etcd` runs them); then UPDATES writes of
//! each kind (a pod added, a node added, a NetworkPolicy changed), one at a time, each timed
//! from just before the etcd put to the publication of the view (documents applied, input
//! built) and of the baseline at the write's revision. Prints p50/p99/max per kind.
//!
//!   target/release/examples/gen_cluster cluster /tmp/gen 5000 2000 150000 10000
//!   target/release/examples/watch_update /tmp/gen [UPDATES]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use etcd_client::{Client, Txn, TxnOp};
use policy::check::CheckOptions;
use policy::yaml::{Node, Value};
use policy_etcd::derived::{Compute, Derived};
use webhook::baseline::Baseline;

type Failure = Box<dyn std::error::Error>;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Failure> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or("usage: watch_update DIR [UPDATES]")?);
    let updates: usize = args.next().map_or(Ok(50), |n| n.parse())?;
    let tc = testkit::TestCluster::plain(1).await;
    let mut client = tc.any_client().await?;
    let started = Instant::now();
    let written = load(&mut client, &dir).await?;
    println!(
        "watch_update: {written} objects written to etcd in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let view = policy_etcd::LiveView::start(client.clone(), Default::default()).await?;
    let listed = started.elapsed();
    let opts = CheckOptions::default();
    // What `webhook serve --from-etcd` runs: the baseline maker that keeps compiled rules.
    let make = webhook::inventory::computer(opts, webhook::metrics::Metrics::new());
    let compute: Compute<Baseline> = Arc::new(move |v| make(Arc::clone(&v.loaded)));
    let baselines = Derived::start(view.subscribe(), compute).await?;
    let first = baselines.current();
    println!(
        "watch_update: listed + input built in {:.1} s, first baseline {:.1} s ({} nodes, {} pods, {} flows)",
        listed.as_secs_f64(),
        first.took.as_secs_f64(),
        first.view.loaded.inventory.nodes.len(),
        first.view.loaded.inventory.pods.len(),
        first.value.report.flows.len()
    );
    for kind in ["pod added", "node added", "policy changed"] {
        let mut to_view = Vec::with_capacity(updates);
        let mut to_baseline = Vec::with_capacity(updates);
        for i in 0..updates {
            let (key, value) = update(kind, i);
            let mut views = view.subscribe();
            let mut published = baselines.subscribe();
            let t = Instant::now();
            let put = client.put(key, value, None).await?;
            let revision = put.header().map_or(0, |h| h.revision());
            let mut seen_view = None;
            loop {
                if seen_view.is_none() && views.borrow_and_update().revision >= revision {
                    seen_view = Some(t.elapsed());
                }
                if published.borrow_and_update().view.revision >= revision {
                    break;
                }
                tokio::select! {
                    r = views.changed(), if seen_view.is_none() => r?,
                    r = published.changed() => r?,
                }
            }
            to_baseline.push(t.elapsed());
            to_view.push(seen_view.unwrap_or_else(|| t.elapsed()));
        }
        println!(
            "watch_update: {kind}, {updates} updates: view {}; baseline {}",
            summary(&mut to_view),
            summary(&mut to_baseline)
        );
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .unwrap_or("");
    println!(
        "watch_update: {}",
        hwm.split_whitespace().collect::<Vec<_>>().join(" ")
    );
    Ok(())
}

fn summary(times: &mut [Duration]) -> String {
    times.sort();
    let at = |q: f64| {
        let i = ((q * times.len() as f64) as usize).min(times.len().saturating_sub(1));
        times.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    format!(
        "p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        at(0.5),
        at(0.99),
        at(1.0)
    )
}

/// The i-th write of a kind: new objects for pods and nodes, a changed spec for a policy the
/// generator made (`np-0` in `ns0`).
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

/// Every object of the generated cluster put under the key the API server would use, in
/// transactions of 100.
async fn load(client: &mut Client, dir: &std::path::Path) -> Result<usize, Failure> {
    let docs = policy::source::load_path(dir, inputs::Kind::INVENTORY)?;
    let mut ops = Vec::new();
    let mut written = 0;
    for doc in &docs {
        let json = to_json(&doc.node);
        let Some(key) = key_of(&json) else { continue };
        ops.push(TxnOp::put(key, serde_json::to_vec(&json)?, None));
        if ops.len() == 100 {
            written += ops.len();
            client
                .txn(Txn::new().and_then(std::mem::take(&mut ops)))
                .await?;
        }
    }
    written += ops.len();
    if !ops.is_empty() {
        client.txn(Txn::new().and_then(ops)).await?;
    }
    Ok(written)
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
