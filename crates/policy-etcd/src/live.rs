//! [`LiveView`]: the policy input of a running cluster, kept current by a watch.
//!
//! Start: every key under [`PREFIXES`] is listed in pages, all pages at the revision of the
//! first, then one watch stream follows every prefix from the next revision. Each response's
//! puts and deletes are applied to [`Documents`] (one decode and conversion per changed key) and a new
//! `Loaded` is built and published. Responses that have already arrived are applied together,
//! so a burst of writes costs one build, not one per write.
//!
//! A watch that etcd cancels (its start revision was compacted away) or that breaks (member
//! restarted, connection lost) cannot say what it missed: the view lists everything again and
//! logs a warning naming why. No change is ever skipped silently.

use std::sync::Arc;
use std::time::Duration;

use etcd_client::{Client, EventType, GetOptions, WatchOptions, WatchResponse};
use futures::FutureExt;
use policy::input::{InputSpec, Loaded};
use tokio::sync::watch;

use crate::documents::Documents;
use crate::error::Error;
use crate::prefixes::PREFIXES;

/// What the view holds at one moment.
#[derive(Debug, Clone)]
pub struct View {
    /// The revision of the listing, or of the newest change applied since.
    pub revision: i64,
    /// The newest input that could be built. When the newest change made the input unusable
    /// (a policy the parser refuses, the last node deleted), this is the one before it and
    /// `error` says why.
    pub loaded: Arc<Loaded>,
    pub error: Option<String>,
    /// Keys left out because they could not be decoded.
    pub undecoded: usize,
    /// How many times the watch had to be replaced by a new listing, and the last reason.
    pub relists: u64,
    pub last_relist: Option<String>,
}

/// The policy input of a live cluster, kept current by a watch (see the module docs).
/// Dropping it stops the watch.
pub struct LiveView {
    rx: watch::Receiver<Arc<View>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for LiveView {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl LiveView {
    /// Lists the cluster and starts following it. Fails when the listing fails or does not
    /// make a policy input (no node...): there is nothing true to show yet.
    pub async fn start(client: Client, spec: InputSpec) -> Result<LiveView, Error> {
        let mut client = client;
        let (docs, revision) = list(&mut client).await?;
        Self::resume(client, spec, docs, revision)
    }

    /// Follows the cluster from `revision + 1`, starting from `docs` as they were at
    /// `revision` (a listing made earlier). If etcd has compacted past `revision`, the view
    /// re-lists at once, and says so.
    pub fn resume(
        client: Client,
        spec: InputSpec,
        mut docs: Documents,
        revision: i64,
    ) -> Result<LiveView, Error> {
        let loaded = Arc::new(docs.build(&spec)?);
        let view = View {
            revision,
            loaded,
            error: None,
            undecoded: docs.undecoded().len(),
            relists: 0,
            last_relist: None,
        };
        let (tx, rx) = watch::channel(Arc::new(view));
        let state = State {
            client,
            spec: Arc::new(spec),
            docs,
            revision,
            tx,
        };
        let task = tokio::spawn(state.run());
        Ok(LiveView { rx, task })
    }

    /// The newest policy input (the webhook asks this on every request).
    pub fn current(&self) -> Arc<Loaded> {
        self.rx.borrow().loaded.clone()
    }

    /// The revision the view reflects.
    pub fn revision(&self) -> i64 {
        self.rx.borrow().revision
    }

    /// Everything the view holds now.
    pub fn view(&self) -> Arc<View> {
        self.rx.borrow().clone()
    }

    /// A receiver that wakes on every new view (`changed().await`).
    pub fn subscribe(&self) -> watch::Receiver<Arc<View>> {
        self.rx.clone()
    }
}

/// Why a watch stopped following.
enum Cut {
    Compacted {
        compact_revision: i64,
    },
    Broken(String),
    /// Nobody holds a receiver any more.
    Unwatched,
}

struct State {
    client: Client,
    spec: Arc<InputSpec>,
    docs: Documents,
    revision: i64,
    tx: watch::Sender<Arc<View>>,
}

impl State {
    async fn run(mut self) {
        loop {
            let reason = match self.follow().await {
                Cut::Unwatched => return,
                Cut::Compacted { compact_revision } => {
                    tracing::warn!(
                        revision = self.revision,
                        compact_revision,
                        "policy watch: etcd compacted past the watch (at {}, compacted to {compact_revision}); re-listing",
                        self.revision
                    );
                    format!(
                        "etcd compacted to revision {compact_revision} past the watch at {}",
                        self.revision
                    )
                }
                Cut::Broken(why) => {
                    tracing::warn!(
                        revision = self.revision,
                        "policy watch: the watch broke ({why}); re-listing"
                    );
                    // A member that lists but refuses watches must not get a listing in a
                    // tight loop.
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    format!("the watch broke: {why}")
                }
            };
            if !self.relist(reason).await {
                return;
            }
        }
    }

    /// Lists again until it works (backing off up to 5 s), then publishes. `false` when
    /// nobody listens any more.
    async fn relist(&mut self, reason: String) -> bool {
        let mut pause = Duration::from_millis(100);
        loop {
            if self.tx.is_closed() {
                return false;
            }
            match list(&mut self.client).await {
                Ok((docs, revision)) => {
                    tracing::warn!(
                        revision,
                        "policy watch: re-listed at revision {revision} ({reason})"
                    );
                    self.docs = docs;
                    self.revision = revision;
                    if self.publish(Some(reason.clone())).await {
                        return true;
                    }
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
                Err(e) => {
                    tracing::warn!("policy watch: cannot list ({e}); retrying in {pause:?}");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// Watches every prefix from `revision + 1` on one stream, applying changes until the
    /// stream stops.
    async fn follow(&mut self) -> Cut {
        let mut stream = match self.open_watch().await {
            Ok(s) => s,
            Err(e) => return Cut::Broken(e.to_string()),
        };
        loop {
            let first = tokio::select! {
                m = stream.message() => m,
                () = self.tx.closed() => return Cut::Unwatched,
            };
            // What else has already arrived is applied with it: one build per burst.
            let mut batch = vec![first];
            while let Some(next) = stream.message().now_or_never() {
                let last = !matches!(next, Ok(Some(_)));
                batch.push(next);
                if last {
                    break;
                }
            }
            let mut changed = false;
            let mut cut = None;
            for message in batch {
                match message {
                    Ok(Some(resp)) => match self.apply(&resp) {
                        Ok(c) => changed |= c,
                        Err(c) => {
                            cut = Some(c);
                            break;
                        }
                    },
                    Ok(None) => {
                        cut = Some(Cut::Broken("etcd closed the watch stream".into()));
                        break;
                    }
                    Err(e) => {
                        cut = Some(Cut::Broken(e.to_string()));
                        break;
                    }
                }
            }
            if changed && !self.publish(None).await {
                return Cut::Broken("building the input from the documents panicked".into());
            }
            if let Some(cut) = cut {
                return cut;
            }
        }
    }

    async fn open_watch(&mut self) -> Result<etcd_client::WatchStream, etcd_client::Error> {
        let from = self.revision + 1;
        let options = |prefix: &str| {
            WatchOptions::new()
                .with_range(crate::prefixes::range_end(prefix.as_bytes()))
                .with_start_revision(from)
        };
        let mut watcher = self
            .client
            .watch_client()
            .max_decoding_message_size(1 << 30);
        let (first, rest) = PREFIXES.split_first().unwrap_or((&"/registry/", &[]));
        let mut stream = watcher.watch(*first, Some(options(first))).await?;
        for p in rest {
            stream.watch(*p, Some(options(p))).await?;
        }
        Ok(stream)
    }

    /// One response's events into the documents; `Ok(true)` when the model's keys changed.
    fn apply(&mut self, resp: &WatchResponse) -> Result<bool, Cut> {
        if resp.compact_revision() > 0 {
            return Err(Cut::Compacted {
                compact_revision: resp.compact_revision(),
            });
        }
        if resp.canceled() {
            return Err(Cut::Broken(format!(
                "etcd cancelled the watch: {}",
                resp.cancel_reason()
            )));
        }
        let mut changed = false;
        for event in resp.events() {
            let Some(kv) = event.kv() else { continue };
            let change = match event.event_type() {
                EventType::Put => self.docs.put(kv.key(), kv.value(), kv.mod_revision()),
                EventType::Delete => self.docs.delete(kv.key()),
            };
            if change != crate::documents::Change::Ignored {
                changed = true;
                self.revision = self.revision.max(kv.mod_revision());
            }
            if change == crate::documents::Change::Undecoded {
                tracing::warn!(
                    key = %String::from_utf8_lossy(kv.key()),
                    "policy watch: an object could not be decoded and is left out of the model"
                );
            }
        }
        Ok(changed)
    }

    /// Builds the input from the documents and sends it; a build that fails keeps the last
    /// good input and carries the error. The build (an assembly of the kept conversions, tens
    /// of milliseconds at 150,000 pods) runs on the blocking pool, so the runtime's workers keep
    /// serving meanwhile.
    /// `false` when the build panicked: the documents are gone and must be listed again.
    async fn publish(&mut self, relisted: Option<String>) -> bool {
        let previous = self.tx.borrow().clone();
        let docs = std::mem::take(&mut self.docs);
        let spec = Arc::clone(&self.spec);
        let job = tokio::task::spawn_blocking(move || {
            let mut docs = docs;
            let built = docs.build(&spec);
            (docs, built)
        });
        let built = match job.await {
            Ok((docs, built)) => {
                self.docs = docs;
                built
            }
            // The documents went down with the panic: the caller lists again.
            Err(e) => {
                tracing::error!("policy watch: building the input panicked: {e}");
                return false;
            }
        };
        let (loaded, error) = match built {
            Ok(l) => (Arc::new(l), None),
            Err(e) => {
                tracing::warn!(
                    revision = self.revision,
                    "policy watch: the cluster at revision {} does not make a policy input: {e}",
                    self.revision
                );
                (previous.loaded.clone(), Some(e.to_string()))
            }
        };
        let relists = previous.relists + u64::from(relisted.is_some());
        let view = View {
            revision: self.revision,
            loaded,
            error,
            undecoded: self.docs.undecoded().len(),
            relists,
            last_relist: relisted.or_else(|| previous.last_relist.clone()),
        };
        self.tx.send_replace(Arc::new(view));
        true
    }
}

/// Every key under [`PREFIXES`], decoded, at one revision (pages of 500, each page under
/// gRPC's message limit), and that revision.
pub async fn list(client: &mut Client) -> Result<(Documents, i64), Error> {
    let mut kv = client.kv_client().max_decoding_message_size(1 << 30);
    let mut docs = Documents::new();
    let mut at = 0i64;
    for prefix in PREFIXES {
        let end = crate::prefixes::range_end(prefix.as_bytes());
        let mut start = prefix.as_bytes().to_vec();
        loop {
            let mut opts = GetOptions::new().with_range(end.clone()).with_limit(500);
            if at > 0 {
                opts = opts.with_revision(at);
            }
            let resp = kv
                .get(start.clone(), Some(opts))
                .await
                .map_err(|source| Error::Etcd {
                    what: format!("listing {prefix}"),
                    source,
                })?;
            if at == 0 {
                at = resp.header().map_or(0, |h| h.revision());
            }
            for item in resp.kvs() {
                docs.put(item.key(), item.value(), item.mod_revision());
            }
            match resp.kvs().last() {
                Some(last) if resp.more() => {
                    start = last.key().to_vec();
                    start.push(0);
                }
                _ => break,
            }
        }
    }
    Ok((docs, at))
}
