//! The write load of `scripts/bench-backup.sh`: `--concurrency` clients each putting unique
//! keys back to back for `--seconds` (or, with `--events N`, transactions of `--txn-ops`
//! puts until N events are written). Prints one JSON line: what etcd acknowledged, how fast,
//! and the revisions it spanned, so the script can check the agent shipped all of it.
//!
//! `bench-put-load --endpoints http://127.0.0.1:2379 --concurrency 64 --seconds 60`

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use etcd_client::{Client, Txn, TxnOp};

struct Args {
    endpoints: Vec<String>,
    concurrency: u64,
    seconds: f64,
    events: Option<u64>,
    txn_ops: u64,
    value_bytes: usize,
    prefix: String,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        endpoints: vec!["http://127.0.0.1:2379".into()],
        concurrency: 64,
        seconds: 60.0,
        events: None,
        txn_ops: 1,
        value_bytes: 256,
        prefix: "/bench/load/".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let num = |v: &str| v.parse::<u64>().map_err(|e| format!("{flag} {v}: {e}"));
        match flag.as_str() {
            "--endpoints" => a.endpoints = v.split(',').map(String::from).collect(),
            "--concurrency" => a.concurrency = num(&v)?.max(1),
            "--seconds" => a.seconds = v.parse().map_err(|e| format!("{flag} {v}: {e}"))?,
            "--events" => a.events = Some(num(&v)?),
            "--txn-ops" => a.txn_ops = num(&v)?.clamp(1, 1024),
            "--value-bytes" => a.value_bytes = num(&v)? as usize,
            "--prefix" => a.prefix = v,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(a)
}

struct Shared {
    acked_events: AtomicU64,
    next: AtomicU64,
    first_revision: AtomicI64,
    last_revision: AtomicI64,
    errors: AtomicU64,
}

/// One client's loop: claim the next batch of sequence numbers, write it, record the answer.
async fn writer(mut c: Client, a: Arc<Args>, s: Arc<Shared>, until: Instant) {
    let value = "v".repeat(a.value_bytes);
    loop {
        if Instant::now() >= until && a.events.is_none() {
            return;
        }
        let start = s.next.fetch_add(a.txn_ops, Ordering::Relaxed);
        if a.events.is_some_and(|n| start >= n) {
            return;
        }
        let ops: Vec<TxnOp> = (start..start + a.txn_ops)
            .map(|i| TxnOp::put(format!("{}{i:012}", a.prefix), value.clone(), None))
            .collect();
        let answer = if a.txn_ops == 1 {
            c.put(format!("{}{start:012}", a.prefix), value.clone(), None)
                .await
                .map(|r| r.header().map(|h| h.revision()))
        } else {
            c.txn(Txn::new().and_then(ops))
                .await
                .map(|r| r.header().map(|h| h.revision()))
        };
        match answer {
            Ok(Some(rev)) => {
                s.acked_events.fetch_add(a.txn_ops, Ordering::Relaxed);
                s.first_revision.fetch_min(rev, Ordering::Relaxed);
                s.last_revision.fetch_max(rev, Ordering::Relaxed);
            }
            _ => {
                s.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a = match parse() {
        Ok(a) => Arc::new(a),
        Err(e) => {
            eprintln!("bench-put-load: {e}");
            std::process::exit(64);
        }
    };
    let client = match Client::connect(a.endpoints.clone(), None).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("bench-put-load: cannot connect to {:?}: {e}", a.endpoints);
            std::process::exit(3);
        }
    };
    let s = Arc::new(Shared {
        acked_events: AtomicU64::new(0),
        next: AtomicU64::new(0),
        first_revision: AtomicI64::new(i64::MAX),
        last_revision: AtomicI64::new(0),
        errors: AtomicU64::new(0),
    });
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(a.seconds);
    let tasks: Vec<_> = (0..a.concurrency)
        .map(|_| tokio::spawn(writer(client.clone(), a.clone(), s.clone(), until)))
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    let secs = started.elapsed().as_secs_f64();
    let acked = s.acked_events.load(Ordering::Relaxed);
    println!(
        "{{\"acked_events\":{acked},\"seconds\":{secs:.3},\"events_per_second\":{:.1},\"first_revision\":{},\"last_revision\":{},\"errors\":{},\"concurrency\":{},\"txn_ops\":{}}}",
        acked as f64 / secs.max(1e-9),
        s.first_revision.load(Ordering::Relaxed),
        s.last_revision.load(Ordering::Relaxed),
        s.errors.load(Ordering::Relaxed),
        a.concurrency,
        a.txn_ops
    );
}
