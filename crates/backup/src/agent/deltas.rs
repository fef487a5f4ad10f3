//! The delta log: a watch from the revision after the full, every event buffered and flushed
//! as a segment at least every `flush_every` (and whenever the buffer reaches
//! `max_segment_bytes`), always at a revision boundary. Segments are uploaded strictly in
//! order; one the store refuses waits, with the ones after it, and is retried with backoff
//! until `max_pending_bytes` is reached, which stops the log with an error.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use etcd_client::{Client, WatchOptions};
use tokio::sync::watch;

use super::AgentError;
use super::leader::Fence;
use super::metrics::{Failure, Metrics};
use super::watch::Sequencer;
use crate::publish;
use crate::remote::Store;
use crate::segment::{self, Event, SegmentInfo};
use crate::time;

#[derive(Debug, Clone)]
pub struct DeltaConfig {
    pub cluster_id: u64,
    pub member_id: u64,
    pub flush_every: Duration,
    pub max_segment_bytes: usize,
    pub max_pending_bytes: usize,
    /// When set, no segment is uploaded unless it holds (the agent's leadership).
    pub fence: Option<Fence>,
    pub metrics: Option<Arc<Metrics>>,
}

impl DeltaConfig {
    pub fn new(cluster_id: u64, member_id: u64) -> DeltaConfig {
        DeltaConfig {
            cluster_id,
            member_id,
            flush_every: Duration::from_secs(1),
            max_segment_bytes: 8 << 20,
            max_pending_bytes: 256 << 20,
            fence: None,
            metrics: None,
        }
    }
}

/// The configuration for a log read from the member `client` talks to: segments carry that
/// member's cluster and member IDs.
pub async fn config_for(client: &mut Client) -> Result<DeltaConfig, AgentError> {
    let status = client
        .status()
        .await
        .map_err(|e| AgentError::Etcd(e.to_string()))?;
    let h = status
        .header()
        .ok_or_else(|| AgentError::Etcd("the status answer has no header".into()))?;
    Ok(DeltaConfig::new(h.cluster_id(), h.member_id()))
}

/// The cluster's newest revision: a linearizable read, so no committed write is newer.
pub async fn current_revision(client: &mut Client) -> Result<i64, AgentError> {
    let options = etcd_client::GetOptions::new().with_count_only();
    let answer = client
        .get("\0", Some(options))
        .await
        .map_err(|e| AgentError::Etcd(e.to_string()))?;
    answer
        .header()
        .map(|h| h.revision())
        .ok_or_else(|| AgentError::Etcd("the read answer has no header".into()))
}

/// Why the log stopped without an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stopped {
    /// Asked to stop; everything up to `last_revision` is uploaded.
    Shutdown { last_revision: i64 },
    /// etcd compacted past the watch: the log cannot resume, a new full is needed.
    Compacted {
        compact_revision: i64,
        last_revision: i64,
    },
}

/// Buffered events and segments waiting for the store.
struct Log<'a> {
    store: &'a Store,
    cfg: &'a DeltaConfig,
    events: Vec<Event>,
    bytes: usize,
    /// Last revision of the last segment made (uploaded or waiting).
    prev_last: i64,
    waiting: VecDeque<(segment::Segment, Vec<u8>)>,
    waiting_bytes: usize,
    failures: u32,
    retry_at: Option<tokio::time::Instant>,
    /// Newest revision etcd reported in a watch answer, and the newest one uploaded.
    seen_revision: i64,
    uploaded_revision: i64,
}

impl Log<'_> {
    fn push(&mut self, e: Event) {
        self.bytes += segment::encoded_len(&e);
        self.events.push(e);
    }

    /// Seals the buffer into a segment (the buffer always ends on a whole revision).
    fn seal(&mut self) -> Result<(), AgentError> {
        if self.events.is_empty() {
            return Ok(());
        }
        let info = SegmentInfo {
            cluster_id: self.cfg.cluster_id,
            member_id: self.cfg.member_id,
            prev_last_revision: self.prev_last,
            created_ms: time::now_ms(),
        };
        let bytes = segment::encode(info, &self.events)?;
        let seg = segment::decode(&bytes)?;
        self.prev_last = seg.header.last_revision;
        self.waiting_bytes += bytes.len();
        self.waiting.push_back((seg, bytes));
        self.events.clear();
        self.bytes = 0;
        Ok(())
    }

    /// Uploads waiting segments in order, stopping at the first refusal (retried later).
    async fn upload(&mut self) -> Result<(), AgentError> {
        if self
            .retry_at
            .is_some_and(|t| tokio::time::Instant::now() < t)
        {
            return self.check_bound();
        }
        while let Some((seg, bytes)) = self.waiting.front() {
            if self.cfg.fence.as_ref().is_some_and(|f| !f.holds()) {
                return Err(AgentError::NotLeader);
            }
            match publish::upload_segment(self.store, seg, bytes.clone()).await {
                Ok(_) => {
                    self.uploaded_revision = seg.header.last_revision;
                    if let Some(m) = &self.cfg.metrics {
                        m.uploaded("delta", bytes.len() as u64);
                        m.delta(seg.header.last_revision, time::now_ms());
                    }
                    self.waiting_bytes -= bytes.len();
                    self.waiting.pop_front();
                    self.failures = 0;
                    self.retry_at = None;
                }
                Err(e) => {
                    if let Some(m) = &self.cfg.metrics {
                        m.failed(Failure::SegmentUpload);
                    }
                    self.failures += 1;
                    let backoff = Duration::from_millis(200 << self.failures.min(6));
                    tracing::warn!("segment upload failed ({e}); retrying in {backoff:?}");
                    self.retry_at = Some(tokio::time::Instant::now() + backoff);
                    break;
                }
            }
        }
        self.check_bound()
    }

    fn check_bound(&self) -> Result<(), AgentError> {
        if self.waiting_bytes > self.cfg.max_pending_bytes {
            return Err(AgentError::StoreDown {
                pending: self.waiting_bytes,
                limit: self.cfg.max_pending_bytes,
            });
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), AgentError> {
        self.seal()?;
        let uploaded = self.upload().await;
        self.report_lag();
        uploaded
    }

    fn report_lag(&self) {
        let Some(m) = &self.cfg.metrics else { return };
        let oldest = self
            .waiting
            .front()
            .and_then(|(s, _)| s.events.first())
            .or(self.events.first())
            .map(|e| e.observed_ms);
        m.lag(self.seen_revision - self.uploaded_revision, oldest);
    }

    /// Flushes until nothing waits, for a clean stop (bounded by the retry bound).
    async fn drain(&mut self) -> Result<(), AgentError> {
        self.seal()?;
        while !self.waiting.is_empty() {
            self.retry_at = None;
            self.upload().await?;
            if !self.waiting.is_empty() {
                tokio::time::sleep(Duration::from_millis(200 << self.failures.min(6))).await;
                if self.failures > 10 {
                    return Err(AgentError::StoreDown {
                        pending: self.waiting_bytes,
                        limit: self.cfg.max_pending_bytes,
                    });
                }
            }
        }
        Ok(())
    }
}

/// Runs the delta log from the revision after `covered` until `stop` turns true, the watch
/// is compacted away, or an error.
pub async fn run(
    client: &mut Client,
    store: &Store,
    covered: i64,
    cfg: &DeltaConfig,
    stop: &mut watch::Receiver<bool>,
) -> Result<Stopped, AgentError> {
    let options = WatchOptions::new()
        .with_all_keys()
        .with_start_revision(covered + 1)
        .with_progress_notify();
    let mut stream = client
        .watch("", Some(options))
        .await
        .map_err(|e| AgentError::Etcd(e.to_string()))?;
    let mut seq = Sequencer::after(covered);
    let mut log = Log {
        store,
        cfg,
        events: Vec::new(),
        bytes: 0,
        prev_last: covered,
        waiting: VecDeque::new(),
        waiting_bytes: 0,
        failures: 0,
        retry_at: None,
        seen_revision: covered,
        uploaded_revision: covered,
    };
    let mut tick = tokio::time::interval(cfg.flush_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            msg = stream.message() => {
                let msg = msg
                    .map_err(|e| AgentError::Etcd(e.to_string()))?
                    .ok_or_else(|| AgentError::Etcd("the watch stream ended".into()))?;
                if msg.canceled() {
                    log.drain().await?;
                    if msg.compact_revision() > 0 {
                        return Ok(Stopped::Compacted {
                            compact_revision: msg.compact_revision(),
                            last_revision: seq.last_revision(),
                        });
                    }
                    return Err(AgentError::Etcd(format!("watch canceled: {}", msg.cancel_reason())));
                }
                if let Some(h) = msg.header() {
                    log.seen_revision = log.seen_revision.max(h.revision());
                }
                let observed = time::now_ms();
                for e in msg.events() {
                    log.push(seq.event(e, observed)?);
                }
                if log.bytes >= cfg.max_segment_bytes {
                    log.flush().await?;
                }
            }
            _ = tick.tick() => log.flush().await?,
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    log.drain().await?;
                    return Ok(Stopped::Shutdown { last_revision: seq.last_revision() });
                }
            }
        }
    }
}
