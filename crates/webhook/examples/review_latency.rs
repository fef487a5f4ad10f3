//! Review latency of the webhook's judge, in process: the baseline of a generated cluster
//! (`gen_cluster cluster DIR ...`) computed once, then REVIEWS policy changes judged in turn
//! (CREATE of a NetworkPolicy, a CiliumNetworkPolicy and a host CCNP, as
//! scripts/bench-webhook.sh sends them over HTTPS). Prints p50/p99/max and the peak RSS.
//!
//!   cargo run --release -p webhook --example review_latency -- DIR [REVIEWS]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use policy::check::CheckOptions;
use webhook::baseline::Baseline;
use webhook::review::Change;

/// The last one is the field incident's policy put in place of the generator's host policy
/// (`host-baseline`): host ingress only from one CIDR and `cluster` on 9100, so the control
/// plane's own flows are newly cut: a refused change, timed apart.
const OBJECTS: [&str; 4] = [
    "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: bench, namespace: ns-7}
spec: {podSelector: {}, policyTypes: [Egress]}
",
    "apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: bench, namespace: ns-11}
spec: {endpointSelector: {}, egress: [{toEntities: [world]}]}
",
    "apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: bench-host}
spec:
  nodeSelector: {matchLabels: {}}
  ingress: [{fromEntities: [cluster], toPorts: [{ports: [{port: '9100', protocol: TCP}]}]}]
",
    "apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: host-baseline}
spec:
  nodeSelector: {matchLabels: {}}
  ingress:
  - fromCIDR: [103.10.20.30/32]
    toPorts: [{ports: [{port: '9100', protocol: TCP}]}]
  - fromEntities: [cluster]
    toPorts: [{ports: [{port: '9100', protocol: TCP}]}]
",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or("usage: review_latency DIR [REVIEWS]")?);
    let reviews: usize = args.next().map_or(Ok(300), |n| n.parse())?;
    let start = Instant::now();
    let loaded = policy::input::on_cluster(Default::default(), Some(dir.as_path()), None, None)?;
    let read = start.elapsed();
    let baseline = Baseline::compute(Arc::new(loaded), CheckOptions::default());
    println!(
        "review_latency: inventory read {:.1} s, baseline {:.1} s ({} flows)",
        read.as_secs_f64(),
        (start.elapsed() - read).as_secs_f64(),
        baseline.report.flows.len()
    );
    let mut changes = Vec::new();
    for yaml in OBJECTS {
        let docs = policy::source::load_bytes("bench", yaml.as_bytes())?;
        let set = policy::parse::policies(&docs).policies;
        let knp = set.network_policies.iter().map(|p| p.key());
        let key = knp
            .chain(set.cilium.iter().map(|p| p.key()))
            .next()
            .ok_or("bench object did not parse")?;
        changes.push(Change::Policy {
            key,
            new: Some(set),
            notes: Vec::new(),
        });
    }
    let mut times: Vec<Duration> = Vec::with_capacity(reviews);
    let mut refused_times: Vec<Duration> = Vec::new();
    let mut denied = 0;
    let mut refused_critical = 0;
    let refused = changes.len() - 1;
    for i in 0..reviews {
        let t = Instant::now();
        let outcome = baseline.evaluate(&changes[i % changes.len()]);
        let took = t.elapsed();
        times.push(took);
        denied += outcome.newly_denied.len();
        if i % changes.len() == refused {
            refused_times.push(took);
            refused_critical = outcome.newly_denied.iter().filter(|f| f.critical).count();
        }
    }
    refused_times.sort();
    let refused_at = |q: f64| {
        let i =
            ((q * refused_times.len() as f64) as usize).min(refused_times.len().saturating_sub(1));
        refused_times
            .get(i)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "review_latency: the incident's policy in place of host-baseline ({refused_critical} critical flows newly cut, refused), {} reviews: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        refused_times.len(),
        refused_at(0.50),
        refused_at(0.99),
        refused_at(1.0)
    );
    times.sort();
    let at = |q: f64| {
        let i = ((q * times.len() as f64) as usize).min(times.len().saturating_sub(1));
        times.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "review_latency: {reviews} reviews: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({denied} newly denied flows in all)",
        at(0.50),
        at(0.99),
        at(1.0)
    );
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .unwrap_or("");
    println!(
        "review_latency: {}",
        hwm.split_whitespace().collect::<Vec<_>>().join(" ")
    );
    Ok(())
}
