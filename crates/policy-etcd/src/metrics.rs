//! The `lifeboat_policy_*` gauges of a policy watch (`lifeboat policy watch`, the agent), in
//! their own registry so any /metrics can append them.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::live::View;

pub struct PolicyMetrics {
    registry: Registry,
    verdict: Gauge,
    critical_cuts: Gauge,
    last_check: Gauge<f64, AtomicU64>,
    revision: Gauge,
    input_error: Gauge,
    undecoded: Gauge,
    relists: Gauge,
}

impl PolicyMetrics {
    pub fn new() -> std::sync::Arc<PolicyMetrics> {
        let mut registry = Registry::with_prefix("lifeboat");
        let m = PolicyMetrics {
            verdict: Gauge::default(),
            critical_cuts: Gauge::default(),
            last_check: Gauge::default(),
            revision: Gauge::default(),
            input_error: Gauge::default(),
            undecoded: Gauge::default(),
            relists: Gauge::default(),
            registry: Registry::default(),
        };
        let r = &mut registry;
        r.register(
            "policy_verdict",
            "Verdict of the policies in force on the control-plane flows: 0 ok, 1 warning, 2 critical (a critical flow is cut)",
            m.verdict.clone(),
        );
        r.register(
            "policy_critical_cuts",
            "Critical control-plane flows the policies in force deny",
            m.critical_cuts.clone(),
        );
        r.register(
            "policy_last_check_timestamp_seconds",
            "When the policies in force were last checked",
            m.last_check.clone(),
        );
        r.register(
            "policy_watch_revision",
            "etcd revision the checked inventory and policies reflect",
            m.revision.clone(),
        );
        r.register(
            "policy_input_error",
            "1 when the newest cluster state does not make a policy input (the verdict is of the state before)",
            m.input_error.clone(),
        );
        r.register(
            "policy_undecoded_objects",
            "Objects under the watched prefixes that could not be decoded and are left out of the check",
            m.undecoded.clone(),
        );
        r.register(
            "policy_watch_relists",
            "Times the watch was replaced by a new listing (compaction, broken stream)",
            m.relists.clone(),
        );
        std::sync::Arc::new(PolicyMetrics { registry, ..m })
    }

    /// One check of `view`, ended at `checked_at`: its verdict (0 ok, 1 warning, 2 critical)
    /// and how many critical flows it found cut. A check's result published again for a newer
    /// view with the same input keeps the time it was made.
    pub fn record(
        &self,
        view: &View,
        verdict: u8,
        critical_cuts: usize,
        checked_at: std::time::SystemTime,
    ) {
        self.verdict.set(i64::from(verdict));
        self.critical_cuts
            .set(i64::try_from(critical_cuts).unwrap_or(i64::MAX));
        self.last_check.set(unix_secs(checked_at));
        self.revision.set(view.revision);
        self.input_error.set(i64::from(view.error.is_some()));
        self.undecoded
            .set(i64::try_from(view.undecoded).unwrap_or(i64::MAX));
        self.relists
            .set(i64::try_from(view.relists).unwrap_or(i64::MAX));
    }

    /// The text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = text::encode(&mut out, &self.registry);
        out
    }
}

fn unix_secs(t: std::time::SystemTime) -> f64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

    use super::*;
    use crate::live::View;

    /// The time of the check that made the verdict, not of its publication: a verdict
    /// published again for a newer view (an input error, a re-list to the same state) keeps it.
    #[test]
    fn the_last_check_time_is_when_the_check_ended() {
        let metrics = PolicyMetrics::new();
        let view = View {
            revision: 7,
            loaded: std::sync::Arc::new(policy::input::Loaded {
                policies: Default::default(),
                inventory: Default::default(),
                findings: Vec::new(),
            }),
            error: None,
            undecoded: 0,
            relists: 0,
            last_relist: None,
        };
        let checked_at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        metrics.record(&view, 0, 0, checked_at);
        let text = metrics.encode();
        let line = text
            .lines()
            .find(|l| l.starts_with("lifeboat_policy_last_check_timestamp_seconds "))
            .unwrap();
        assert_eq!(
            line,
            "lifeboat_policy_last_check_timestamp_seconds 1700000000.0"
        );
    }
}
