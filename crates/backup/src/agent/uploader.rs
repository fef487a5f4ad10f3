//! Uploads spooled segments strictly in order, in a task of its own: the watch only spools.
//! A refused or stalled upload (each PUT is bounded by [`PUT_TIMEOUT`]) is retried with
//! exponential backoff (0.4 s to 12.8 s) while the spool fills; the segments after it wait.
//! Each segment's spooled copy is removed once the store has it. Before each PUT the election
//! fence is checked: a leader that lost its lease uploads nothing more.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::AgentError;
use super::deltas::DeltaConfig;
use super::metrics::{Failure, Metrics};
use super::spool::{Spool, Spooled};
use crate::publish;
use crate::remote::Store;
use crate::time;

/// One PUT of a segment (at most 8 MiB by default) that takes longer is abandoned and retried.
pub const PUT_TIMEOUT: Duration = Duration::from_secs(30);
/// While stopping, the uploader gives up after this many refusals in a row (about 1.5 min of
/// backoff): the segments stay spooled and the next term uploads them.
const FAILURES_WHILE_STOPPING: u32 = 10;
/// After a watch cut the uploader gets one try per segment and at most this long: the agent
/// must get back to etcd (a restarted member, a new leader) rather than wait on a store that
/// is down too; what is not stored stays spooled, and the next term uploads it.
pub const CUT_WAIT: Duration = Duration::from_secs(10);

#[derive(Default)]
struct Progress {
    spooled_bytes: AtomicU64,
    uploaded_revision: AtomicI64,
    /// First event's observed time of the oldest segment not yet stored; 0: none.
    oldest_pending_ms: AtomicI64,
    /// Refusals in a row after which a closed uploader gives up (0: the default).
    give_up_after: AtomicU32,
}

/// The watch's side of the uploader.
pub struct Uploader {
    tx: Option<mpsc::UnboundedSender<Spooled>>,
    progress: Arc<Progress>,
    task: Option<JoinHandle<()>>,
    /// `None` once it answered (a oneshot must not be polled again).
    failed_rx: Option<oneshot::Receiver<AgentError>>,
    spool: Spool,
}

/// Starts uploading what the spool already holds (segments up to `covered`, left by a stop
/// or by the previous term), then what is pushed.
pub fn start(
    store: Store,
    spool: Spool,
    covered: i64,
    cfg: &DeltaConfig,
) -> Result<Uploader, AgentError> {
    let mut queue = VecDeque::new();
    for (name, path) in spool.segments()? {
        if name.last_revision > covered {
            return Err(AgentError::Etcd(format!(
                "the spool {} holds {} past the delta log's start (revision {covered}): \
                 move it aside and start the agent again",
                spool.dir().display(),
                name.file_name()
            )));
        }
        let (seg, bytes) = spool.read(&path)?;
        queue.push_back(Spooled {
            name,
            path,
            bytes: bytes.len() as u64,
            first_observed_ms: seg.events.first().map_or(0, |e| e.observed_ms),
        });
    }
    let progress = Arc::new(Progress::default());
    let uploaded = queue
        .front()
        .map_or(covered, |s: &Spooled| s.name.first_revision - 1);
    progress
        .uploaded_revision
        .store(uploaded, Ordering::Relaxed);
    progress.spooled_bytes.store(
        queue.iter().map(|s| s.bytes).sum::<u64>(),
        Ordering::Relaxed,
    );
    let (tx, rx) = mpsc::unbounded_channel();
    let (failed_tx, failed_rx) = oneshot::channel();
    let worker = Worker {
        store,
        spool: spool.clone(),
        fence: cfg.fence.clone(),
        metrics: cfg.metrics.clone(),
        progress: progress.clone(),
        queue,
        rx,
        failures: 0,
    };
    let task = tokio::spawn(async move {
        if let Err(e) = worker.run().await {
            // The watch hears of it at once, or `finish` does.
            let _ = failed_tx.send(e);
        }
    });
    Ok(Uploader {
        tx: Some(tx),
        progress,
        task: Some(task),
        failed_rx: Some(failed_rx),
        spool,
    })
}

impl Uploader {
    pub fn push(&mut self, s: Spooled) {
        self.progress
            .spooled_bytes
            .fetch_add(s.bytes, Ordering::Relaxed);
        if self.progress.oldest_pending_ms.load(Ordering::Relaxed) == 0 {
            self.progress
                .oldest_pending_ms
                .store(s.first_observed_ms, Ordering::Relaxed);
        }
        if let Some(tx) = &self.tx {
            let _ = tx.send(s);
        }
    }

    pub fn spooled_bytes(&self) -> u64 {
        self.progress.spooled_bytes.load(Ordering::Relaxed)
    }

    pub fn uploaded_revision(&self) -> i64 {
        self.progress.uploaded_revision.load(Ordering::Relaxed)
    }

    pub fn oldest_pending_ms(&self) -> Option<i64> {
        Some(self.progress.oldest_pending_ms.load(Ordering::Relaxed)).filter(|&t| t > 0)
    }

    /// Resolves when the uploader stopped with an error (the fence failed, the spool broke).
    pub async fn failed(&mut self) -> AgentError {
        let Some(rx) = self.failed_rx.as_mut() else {
            return std::future::pending().await;
        };
        let answer = rx.await;
        self.failed_rx = None;
        match answer {
            Ok(e) => e,
            Err(_) => std::future::pending().await,
        }
    }

    /// No more segments: waits until every spooled one is stored, or the store refused too
    /// often (they stay spooled, and the error says where).
    pub async fn finish(self) -> Result<(), AgentError> {
        self.finish_after(FAILURES_WHILE_STOPPING).await
    }

    /// After a watch cut: uploads what it can in one try per segment within [`CUT_WAIT`],
    /// and leaves the rest spooled (the next term uploads it) instead of retrying.
    pub async fn finish_quickly(self) -> Result<(), AgentError> {
        let spool = self.spool.clone();
        match tokio::time::timeout(CUT_WAIT, self.finish_after(1)).await {
            Ok(r) => r,
            // Dropping the uploader stopped it; an abandoned PUT never shows (atomic PUTs).
            Err(_) => {
                let left = spool.segments().unwrap_or_default();
                Err(AgentError::StoreDown {
                    segments: left.len(),
                    bytes: left
                        .iter()
                        .filter_map(|(_, p)| std::fs::metadata(p).ok())
                        .map(|m| m.len())
                        .sum(),
                    spool: spool.dir().display().to_string(),
                })
            }
        }
    }

    async fn finish_after(mut self, failures: u32) -> Result<(), AgentError> {
        self.progress
            .give_up_after
            .store(failures, Ordering::Relaxed);
        self.tx = None;
        let Some(task) = self.task.take() else {
            return Ok(());
        };
        if let Err(e) = task.await {
            return Err(AgentError::Etcd(format!(
                "the uploader task failed ({e}); spooled segments stay in {}",
                self.spool.dir().display()
            )));
        }
        match self.failed_rx.take().map(|mut rx| rx.try_recv()) {
            Some(Ok(e)) => Err(e),
            _ => Ok(()),
        }
    }
}

impl Drop for Uploader {
    fn drop(&mut self) {
        // A log that ends without `finish` (an error, a lost lease) stops uploading at once;
        // its segments stay spooled for the next term.
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

struct Worker {
    store: Store,
    spool: Spool,
    fence: Option<super::leader::Fence>,
    metrics: Option<Arc<Metrics>>,
    progress: Arc<Progress>,
    queue: VecDeque<Spooled>,
    rx: mpsc::UnboundedReceiver<Spooled>,
    failures: u32,
}

impl Worker {
    async fn run(mut self) -> Result<(), AgentError> {
        let mut closed = false;
        loop {
            closed = closed || self.take_pushed();
            let Some(front) = self.queue.front().cloned() else {
                if closed {
                    return Ok(());
                }
                match self.rx.recv().await {
                    Some(s) => self.queue.push_back(s),
                    None => closed = true,
                }
                continue;
            };
            if self.fence.as_ref().is_some_and(|f| !f.holds()) {
                return Err(AgentError::NotLeader);
            }
            match self.upload(&front).await {
                Ok(()) => self.stored(&front)?,
                Err(e) => {
                    self.failures += 1;
                    if let Some(m) = &self.metrics {
                        m.failed(Failure::SegmentUpload);
                    }
                    let backoff = Duration::from_millis(200 << self.failures.min(6));
                    tracing::warn!(
                        "segment upload of {} failed ({e}); {} segments ({} bytes) spooled in {}; retrying in {backoff:?}",
                        front.name.file_name(),
                        self.queue.len(),
                        self.progress.spooled_bytes.load(Ordering::Relaxed),
                        self.spool.dir().display()
                    );
                    let limit = match self.progress.give_up_after.load(Ordering::Relaxed) {
                        0 => FAILURES_WHILE_STOPPING,
                        n => n,
                    };
                    if closed && self.failures >= limit {
                        return Err(AgentError::StoreDown {
                            segments: self.queue.len(),
                            bytes: self.progress.spooled_bytes.load(Ordering::Relaxed),
                            spool: self.spool.dir().display().to_string(),
                        });
                    }
                    tokio::time::sleep(backoff).await;
                }
            }
        }
    }

    /// Moves what the watch pushed into the queue; true once the watch side is gone.
    fn take_pushed(&mut self) -> bool {
        loop {
            match self.rx.try_recv() {
                Ok(s) => self.queue.push_back(s),
                Err(mpsc::error::TryRecvError::Empty) => return false,
                Err(mpsc::error::TryRecvError::Disconnected) => return true,
            }
        }
    }

    async fn upload(&self, s: &Spooled) -> Result<(), String> {
        let (seg, bytes) = self.spool.read(&s.path).map_err(|e| e.to_string())?;
        match tokio::time::timeout(
            PUT_TIMEOUT,
            publish::upload_segment(&self.store, &seg, bytes),
        )
        .await
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {PUT_TIMEOUT:?}")),
        }
    }

    fn stored(&mut self, s: &Spooled) -> Result<(), AgentError> {
        self.spool.uploaded(&s.path)?;
        self.take_pushed();
        self.failures = 0;
        self.queue.pop_front();
        let p = &self.progress;
        p.spooled_bytes.fetch_sub(s.bytes, Ordering::Relaxed);
        p.uploaded_revision
            .store(s.name.last_revision, Ordering::Relaxed);
        p.oldest_pending_ms.store(
            self.queue.front().map_or(0, |n| n.first_observed_ms),
            Ordering::Relaxed,
        );
        if let Some(m) = &self.metrics {
            m.uploaded("delta", s.bytes);
            m.delta(s.name.last_revision, time::now_ms());
        }
        Ok(())
    }
}
