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
use std::time::Instant;

use policy::check::CheckOptions;
use policy_etcd::documents::Documents;
use webhook::baseline::Baseline;

#[path = "common/generated.rs"]
mod generated;

use generated::{Failure, objects, summary, update};

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
