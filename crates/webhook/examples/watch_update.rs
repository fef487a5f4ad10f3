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
use std::time::Instant;

use policy::check::CheckOptions;
use policy_etcd::derived::{Compute, Derived};
use webhook::baseline::Baseline;

#[path = "common/generated.rs"]
mod generated;

use generated::{Failure, load, summary, update};

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
