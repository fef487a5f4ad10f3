//! Where the cluster a change is judged against comes from, and its baseline: computed once
//! for an inventory read at start, recomputed in the background for one followed by a watch.
//! A review never computes a baseline: it takes the newest published one.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use policy::check::CheckOptions;
use policy::input::Loaded;
use policy_etcd::derived::{Compute, Derived};

use crate::baseline::{Baseline, Compiled};
use crate::metrics::Metrics;

/// The baseline reviews use now, and what it was computed from.
#[derive(Clone)]
pub struct Published {
    pub baseline: Arc<Baseline>,
    /// The etcd revision its inventory reflects; `None` for an inventory read once.
    pub revision: Option<i64>,
    pub computed_at: SystemTime,
    /// How long computing it took.
    pub took: Duration,
    pub computations: u64,
}

/// The published baseline and how far behind the cluster it may be.
pub trait InventorySource: Send + Sync {
    /// The newest published baseline (an `Arc` clone: cheap, never waits for a computation).
    fn current(&self) -> Published;
    /// The newest revision the watch has seen; the published baseline may not reflect it yet.
    fn newest_revision(&self) -> Option<i64>;
    /// Where it comes from, for logs and `/healthz`.
    fn describe(&self) -> String;
}

/// How a baseline is made from an inventory, counted and timed in `metrics`. It keeps the
/// rules the last baseline compiled, and compiles again only when the policies or the Cilium
/// settings changed: a watch update of a pod or a node costs no compilation of every policy.
pub fn computer(
    opts: CheckOptions,
    metrics: Arc<Metrics>,
) -> Arc<dyn Fn(Arc<Loaded>) -> Baseline + Send + Sync> {
    let last: Mutex<Option<Compiled>> = Mutex::new(None);
    Arc::new(move |loaded: Arc<Loaded>| {
        let started = std::time::Instant::now();
        // Taken, not borrowed: a computation running meanwhile (none does: `Derived` runs one
        // at a time) would compile afresh, never share a half-updated cache.
        let previous = last.lock().ok().and_then(|mut l| l.take());
        let b = Baseline::compute_after(loaded, opts.clone(), previous.as_ref());
        b.prepare_for_reviews();
        if let Ok(mut l) = last.lock() {
            *l = Some(b.compiled());
        }
        metrics.baseline_computed(started.elapsed().as_secs_f64());
        if b.critical_denied() > 0 {
            tracing::warn!(
                critical_denied = b.critical_denied(),
                "webhook: the policies in force already deny critical control-plane flows; reviews are judged on what they change (run `lifeboat policy check`)"
            );
        }
        b
    })
}

/// An inventory read once at start (files, or etcd read once): its baseline never changes.
pub struct Fixed {
    published: Published,
    what: String,
}

impl Fixed {
    /// Computes the baseline now.
    pub fn new(
        loaded: Loaded,
        what: impl Into<String>,
        compute: &(dyn Fn(Arc<Loaded>) -> Baseline + Send + Sync),
    ) -> Fixed {
        let started = std::time::Instant::now();
        let baseline = Arc::new(compute(Arc::new(loaded)));
        Fixed {
            published: Published {
                baseline,
                revision: None,
                computed_at: SystemTime::now(),
                took: started.elapsed(),
                computations: 1,
            },
            what: what.into(),
        }
    }
}

impl InventorySource for Fixed {
    fn current(&self) -> Published {
        self.published.clone()
    }

    fn newest_revision(&self) -> Option<i64> {
        None
    }

    fn describe(&self) -> String {
        self.what.clone()
    }
}

/// The cluster as etcd has it, followed by a watch; the baseline of each newest view is
/// computed in the background ([`Derived`]) and published with the inventory it was computed
/// from, so a review judges against a consistent pair even while a newer one is computed.
pub struct Live {
    // Field order: the baseline task stops before the view it follows.
    baselines: Derived<Baseline>,
    view: policy_etcd::LiveView,
}

impl Live {
    /// Computes the first baseline (awaited), then follows the view.
    pub async fn start(
        view: policy_etcd::LiveView,
        compute: Arc<dyn Fn(Arc<Loaded>) -> Baseline + Send + Sync>,
    ) -> Result<Live, crate::WebhookError> {
        let compute: Compute<Baseline> = Arc::new(move |v| compute(Arc::clone(&v.loaded)));
        let baselines = Derived::start(view.subscribe(), compute)
            .await
            .map_err(|e| crate::WebhookError::Baseline(e.to_string()))?;
        Ok(Live { baselines, view })
    }
}

impl InventorySource for Live {
    fn current(&self) -> Published {
        let s = self.baselines.current();
        Published {
            baseline: Arc::clone(&s.value),
            revision: Some(s.view.revision),
            computed_at: s.computed_at,
            took: s.took,
            computations: s.computations,
        }
    }

    fn newest_revision(&self) -> Option<i64> {
        Some(self.baselines.newest_revision())
    }

    fn describe(&self) -> String {
        let loaded = self.view.current();
        format!(
            "etcd, followed by a watch (revision {}): {} nodes, {} pods, {} policies in force",
            self.view.revision(),
            loaded.inventory.nodes.len(),
            loaded.inventory.pods.len(),
            loaded.policies.network_policies.len() + loaded.policies.cilium.len()
        )
    }
}
