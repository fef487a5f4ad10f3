//! The webhook's metrics in Prometheus' text format (`/metrics`, docs/webhook.md).

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

type Labels = Vec<(String, String)>;

pub struct Metrics {
    registry: Registry,
    reviews: Family<Labels, Counter>,
    duration: Histogram,
    cert_reloads: Family<Labels, Counter>,
    baselines: Counter,
    baseline_seconds: Histogram,
    critical_denied_in_force: Gauge,
    flows_in_force: Gauge,
    baseline_revision: Gauge,
    newest_revision: Gauge,
    baseline_age: Gauge<f64, AtomicU64>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

impl Metrics {
    pub fn new() -> Arc<Metrics> {
        let mut registry = Registry::with_prefix("lifeboat_webhook");
        let reviews = Family::<Labels, Counter>::default();
        // 1 ms to 5 s, the API server's longest timeout for a webhook.
        let duration = Histogram::new([
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        ]);
        let cert_reloads = Family::<Labels, Counter>::default();
        let baselines = Counter::default();
        // 10 ms to 60 s: a small cluster to 150,000 pods on a loaded machine.
        let baseline_seconds = Histogram::new([
            0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
        ]);
        let critical_denied_in_force = Gauge::default();
        let flows_in_force = Gauge::default();
        let baseline_revision = Gauge::default();
        let newest_revision = Gauge::default();
        let baseline_age = Gauge::<f64, AtomicU64>::default();
        let r = &mut registry;
        r.register(
            "reviews",
            "Admission reviews answered, by kind, operation and verdict (allowed, warned, denied, overridden, warn_only, unjudged)",
            reviews.clone(),
        );
        r.register(
            "review_duration_seconds",
            "Time to judge one review (body read to answer)",
            duration.clone(),
        );
        r.register(
            "cert_reloads",
            "Changed certificate files seen, by result (ok: in use; failed: the previous certificate stays)",
            cert_reloads.clone(),
        );
        r.register(
            "baseline_computations",
            "Checks of the policies in force (at start and each time the inventory changes)",
            baselines.clone(),
        );
        r.register(
            "baseline_computation_seconds",
            "Time to compute one baseline (in the background; reviews use the previous one meanwhile)",
            baseline_seconds.clone(),
        );
        r.register(
            "baseline_revision",
            "etcd revision of the inventory the published baseline was computed from (0: read once at start)",
            baseline_revision.clone(),
        );
        r.register(
            "inventory_revision",
            "Newest etcd revision the watch has seen; above baseline_revision while a baseline is computed",
            newest_revision.clone(),
        );
        r.register(
            "baseline_age_seconds",
            "Time since the published baseline was computed",
            baseline_age.clone(),
        );
        r.register(
            "critical_flows_denied_in_force",
            "Critical control-plane flows the policies in force already deny",
            critical_denied_in_force.clone(),
        );
        r.register(
            "flows_in_force",
            "Flows checked in the baseline",
            flows_in_force.clone(),
        );
        Arc::new(Metrics {
            registry,
            reviews,
            duration,
            cert_reloads,
            baselines,
            baseline_seconds,
            critical_denied_in_force,
            flows_in_force,
            baseline_revision,
            newest_revision,
            baseline_age,
        })
    }

    pub fn review(&self, kind: &str, operation: &str, verdict: &str, seconds: f64) {
        self.reviews
            .get_or_create(&labels(&[
                ("kind", kind),
                ("operation", operation),
                ("verdict", verdict),
            ]))
            .inc();
        self.duration.observe(seconds);
    }

    pub fn cert_reload(&self, ok: bool) {
        let result = if ok { "ok" } else { "failed" };
        self.cert_reloads
            .get_or_create(&labels(&[("result", result)]))
            .inc();
    }

    /// One baseline computed, in `seconds`.
    pub fn baseline_computed(&self, seconds: f64) {
        self.baselines.inc();
        self.baseline_seconds.observe(seconds);
    }

    /// The published baseline as the reviewer reports it; set just before each scrape.
    pub fn published(&self, status: &crate::reviewer::Status) {
        self.baseline_revision.set(status.revision.unwrap_or(0));
        self.newest_revision
            .set(status.newest_revision.or(status.revision).unwrap_or(0));
        self.baseline_age.set(status.age_seconds);
        self.flows_in_force
            .set(i64::try_from(status.flows).unwrap_or(i64::MAX));
        self.critical_denied_in_force
            .set(i64::try_from(status.critical_denied).unwrap_or(i64::MAX));
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = text::encode(&mut out, &self.registry);
        out
    }
}
