//! The delta log: a watch from the revision after the full, every event buffered and sealed
//! as a segment once the oldest buffered event is [`seal_age`] old (half of `flush_every`,
//! and whenever the buffer reaches `max_segment_bytes`), always at a revision boundary. Each segment is written to the disk
//! spool ([`super::spool`]) and uploaded, strictly in order, by a task of its own
//! ([`super::uploader`]), so a slow or refusing store never holds up the watch. A spool that
//! reaches its limit stops the log with an error (said loudly, counted as `spool_full`).

use std::sync::Arc;
use std::time::Duration;

use etcd_client::{Client, WatchOptions};
use tokio::sync::watch;
use tokio::time::Instant;

use super::AgentError;
use super::leader::Fence;
use super::metrics::{Failure, Metrics};
use super::spool::Spool;
use super::uploader::{self, Uploader};
use super::watch::Sequencer;
use crate::remote::Store;
use crate::segment::{self, Event, SegmentInfo};
use crate::time;

#[derive(Debug, Clone)]
pub struct DeltaConfig {
    pub cluster_id: u64,
    pub member_id: u64,
    /// The longest an event should wait until the store has it (see [`seal_age`]).
    pub flush_every: Duration,
    pub max_segment_bytes: usize,
    /// Where sealed segments wait for the store; `None`: a temporary directory (1 GiB).
    pub spool: Option<Spool>,
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
            spool: None,
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

/// How [`follow`] ended: as [`Stopped`], or the watch was cut (etcd restarted, the member
/// went away) after everything up to `last_revision` was sealed and handed to the uploader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Followed {
    Stopped(Stopped),
    Cut { last_revision: i64, why: String },
}

/// How old the oldest buffered event may get before the buffer is sealed: half of
/// `flush_every`. `flush_every` bounds how long an acknowledged write waits until the store
/// has it (the delta lag, and the RPO of a total loss); that wait is this age plus the spool's
/// fsync plus the upload, so the other half is left for those two. The age is counted from
/// the oldest event itself, not from a free-running timer: with a timer of `flush_every`, a
/// write that arrives just after a tick waits a whole period and then the upload on top
/// (measured: 1.023 s at a 1 s period).
pub fn seal_age(flush_every: Duration) -> Duration {
    flush_every / 2
}

/// Events not yet sealed, and the uploader the sealed segments go to.
struct Log<'a> {
    cfg: &'a DeltaConfig,
    spool: Spool,
    uploader: &'a mut Uploader,
    events: Vec<Event>,
    bytes: usize,
    /// When the oldest buffered event arrived (`None`: nothing buffered).
    oldest_at: Option<Instant>,
    /// Last revision of the last segment made (uploaded or spooled).
    prev_last: i64,
    /// Newest revision etcd reported in a watch answer.
    seen_revision: i64,
}

impl Log<'_> {
    fn push(&mut self, e: Event, arrived: Instant) {
        self.oldest_at.get_or_insert(arrived);
        self.bytes += segment::encoded_len(&e);
        self.events.push(e);
    }

    /// Seals the buffer into a segment (the buffer always ends on a whole revision), spools
    /// it and hands it to the uploader.
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
        let spooled = match self
            .spool
            .write(&seg, &bytes, self.uploader.spooled_bytes())
        {
            Ok(s) => s,
            Err(e) => {
                if let Some(m) = &self.cfg.metrics {
                    m.failed(Failure::SpoolFull);
                }
                tracing::error!("{e}");
                return Err(e.into());
            }
        };
        self.prev_last = seg.header.last_revision;
        self.uploader.push(spooled);
        self.events.clear();
        self.bytes = 0;
        self.oldest_at = None;
        Ok(())
    }

    fn flush(&mut self) -> Result<(), AgentError> {
        self.seal()?;
        self.report_lag();
        Ok(())
    }

    fn report_lag(&self) {
        let Some(m) = &self.cfg.metrics else { return };
        let oldest = self
            .uploader
            .oldest_pending_ms()
            .or(self.events.first().map(|e| e.observed_ms));
        m.lag(
            self.seen_revision - self.uploader.uploaded_revision(),
            oldest,
        );
    }
}

/// Runs the delta log from the revision after `covered` until `stop` turns true, the watch
/// is compacted away, or an error; with an uploader of its own, drained before it returns.
/// A cut watch is an error here, after one bounded try at uploading what it delivered (see
/// [`uploader::CUT_WAIT`]); the agent instead follows again with the same uploader.
pub async fn run(
    client: &mut Client,
    store: &Store,
    covered: i64,
    cfg: &DeltaConfig,
    stop: &mut watch::Receiver<bool>,
) -> Result<Stopped, AgentError> {
    // Without a spool of the caller's (tests of the log alone), one in a temporary directory.
    let scratch;
    let spool = match &cfg.spool {
        Some(s) => s.clone(),
        None => {
            scratch = tempfile::tempdir().map_err(|e| AgentError::Etcd(e.to_string()))?;
            Spool::open(scratch.path(), &store.url, 1 << 30)?
        }
    };
    let mut uploader = uploader::start(store.clone(), spool.clone(), covered, cfg)?;
    match follow(client, covered, cfg, &spool, &mut uploader, stop).await? {
        Followed::Stopped(s) => {
            uploader.finish().await?;
            Ok(s)
        }
        Followed::Cut { why, .. } => Err(match uploader.finish_quickly().await {
            Ok(()) => AgentError::Etcd(why),
            Err(e) => AgentError::Etcd(format!("{why}; and {e}")),
        }),
    }
}

/// Follows etcd's watch from the revision after `covered`, sealing segments into `spool` and
/// handing them to `uploader` (which the caller keeps across cuts and finishes), until `stop`
/// turns true, the watch is compacted away or cut, or an error.
pub async fn follow(
    client: &mut Client,
    covered: i64,
    cfg: &DeltaConfig,
    spool: &Spool,
    uploader: &mut Uploader,
    stop: &mut watch::Receiver<bool>,
) -> Result<Followed, AgentError> {
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
        cfg,
        spool: spool.clone(),
        uploader,
        events: Vec::new(),
        bytes: 0,
        oldest_at: None,
        prev_last: covered,
        seen_revision: covered,
    };
    let seal_after = seal_age(cfg.flush_every);
    // With nothing buffered the log still wakes every `flush_every`, to keep the lag gauges
    // current while an upload is stuck.
    let mut idle_until = Instant::now() + cfg.flush_every;
    loop {
        let wake = log.oldest_at.map_or(idle_until, |t| t + seal_after);
        tokio::select! {
            msg = stream.message() => {
                let msg = match msg {
                    Ok(Some(msg)) => msg,
                    cut => {
                        // etcd went away. What the watch delivered may now exist nowhere
                        // else (every member lost): sealed and spooled now, it is uploaded
                        // while the lease we hold still fences other writers out. Nothing
                        // here waits on the store: one that is down too must not keep the
                        // agent from watching again.
                        let why = match cut {
                            Err(e) => e.to_string(),
                            Ok(_) => "the watch stream ended".to_owned(),
                        };
                        log.seal()?;
                        return Ok(Followed::Cut { last_revision: seq.last_revision(), why });
                    }
                };
                if msg.canceled() {
                    let last_revision = seq.last_revision();
                    log.seal()?;
                    if msg.compact_revision() > 0 {
                        return Ok(Followed::Stopped(Stopped::Compacted {
                            compact_revision: msg.compact_revision(),
                            last_revision,
                        }));
                    }
                    return Err(AgentError::Etcd(format!("watch canceled: {}", msg.cancel_reason())));
                }
                if let Some(h) = msg.header() {
                    log.seen_revision = log.seen_revision.max(h.revision());
                }
                let observed = time::now_ms();
                let arrived = Instant::now();
                for e in msg.events() {
                    log.push(seq.event(e, observed)?, arrived);
                }
                // The lag gauges follow every message, not only the flushes: between two
                // flushes is exactly when writes wait.
                log.report_lag();
                if log.bytes >= cfg.max_segment_bytes {
                    log.flush()?;
                }
            }
            () = tokio::time::sleep_until(wake) => {
                log.flush()?;
                idle_until = Instant::now() + cfg.flush_every;
            }
            failed = log.uploader.failed() => return Err(failed),
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    let last_revision = seq.last_revision();
                    log.seal()?;
                    return Ok(Followed::Stopped(Stopped::Shutdown { last_revision }));
                }
            }
        }
    }
}
