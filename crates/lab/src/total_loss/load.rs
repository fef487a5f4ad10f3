//! The steady write load of the total-loss drill: writers that put unique keys at a fixed
//! rate and record every acknowledged put (key, value digest, revision, when the answer came).
//! What they record is the truth the restored cluster is judged against.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Keys of the load: `/drill/load/<writer>/<sequence>`, each written once.
pub(crate) const PREFIX: &str = "/drill/load/";

/// Writers in parallel: a busy API server has many requests in flight.
const WRITERS: u32 = 8;

/// One put etcd acknowledged.
#[derive(Debug, Clone)]
pub(crate) struct Ack {
    pub(super) key: String,
    pub(super) digest: u64,
    pub(super) revision: i64,
    /// When the answer arrived.
    pub(super) at: Instant,
    /// The same moment, ms since the epoch (for people).
    pub(super) at_ms: i64,
}

pub(crate) struct Load {
    acks: Arc<Mutex<Vec<Ack>>>,
    failed: Arc<Mutex<usize>>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    pub(super) started: Instant,
}

/// What the writers did, once stopped.
pub(crate) struct Written {
    pub(super) acks: Vec<Ack>,
    pub(super) failed: usize,
    pub(super) seconds: f64,
}

/// The value of one write: small, like most Kubernetes objects' status updates.
fn value(writer: u32, seq: u64) -> String {
    format!(
        "{{\"writer\":{writer},\"seq\":{seq},\"pad\":\"{}\"}}",
        "x".repeat(96)
    )
}

/// Starts `WRITERS` writers sharing `rate` puts per second through `client`.
pub(crate) fn start(client: &ops::client::EndpointClient, rate: u32) -> Load {
    let acks = Arc::new(Mutex::new(Vec::new()));
    let failed = Arc::new(Mutex::new(0usize));
    let (stop, stop_rx) = watch::channel(false);
    let period = Duration::from_secs_f64(f64::from(WRITERS) / f64::from(rate.max(1)));
    let tasks = (0..WRITERS)
        .map(|w| {
            let mut c = client.client.clone();
            let (acks, failed, mut stop_rx) = (acks.clone(), failed.clone(), stop_rx.clone());
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(period);
                // A slow answer delays the next put instead of bursting: a steady rate.
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                for seq in 0u64.. {
                    tokio::select! {
                        _ = tick.tick() => {}
                        _ = stop_rx.changed() => return,
                    }
                    let key = format!("{PREFIX}{w:02}/{seq:09}");
                    let value = value(w, seq);
                    let answer = tokio::select! {
                        r = c.put(key.clone(), value.clone(), None) => r,
                        _ = stop_rx.changed() => return,
                    };
                    match answer.ok().and_then(|r| r.header().map(|h| h.revision())) {
                        Some(revision) => {
                            let ack = Ack {
                                digest: ops::kv::digest(value.as_bytes()),
                                key,
                                revision,
                                at: Instant::now(),
                                at_ms: backup::time::now_ms(),
                            };
                            if let Ok(mut a) = acks.lock() {
                                a.push(ack);
                            }
                        }
                        None => {
                            if let Ok(mut f) = failed.lock() {
                                *f += 1;
                            }
                        }
                    }
                }
            })
        })
        .collect();
    Load {
        acks,
        failed,
        stop,
        tasks,
        started: Instant::now(),
    }
}

impl Load {
    /// Acknowledged puts so far.
    pub(crate) fn acknowledged(&self) -> usize {
        self.acks.lock().map(|a| a.len()).unwrap_or(0)
    }

    /// The newest revision acknowledged so far (0 before the first answer).
    pub(crate) fn newest_revision(&self) -> i64 {
        self.acks
            .lock()
            .ok()
            .and_then(|a| a.iter().map(|x| x.revision).max())
            .unwrap_or(0)
    }

    /// Stops every writer (a put still on the wire is abandoned: it was never acknowledged).
    pub(crate) async fn stop(self) -> Written {
        let seconds = self.started.elapsed().as_secs_f64();
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        let acks = self.acks.lock().map(|a| a.clone()).unwrap_or_default();
        let failed = self.failed.lock().map(|f| *f).unwrap_or(0);
        Written {
            acks,
            failed,
            seconds,
        }
    }
}
