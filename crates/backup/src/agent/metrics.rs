//! The agent's metrics in Prometheus' text format (docs/backup.md §7). Backup gauges are set
//! only while this agent leads (alert rules join them with `lifeboat_agent_leader == 1`).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use prometheus_client::encoding::text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::time;

type Labels = Vec<(String, String)>;
type Seconds = Gauge<f64, AtomicU64>;

/// What a failure counter counts.
#[derive(Debug, Clone, Copy)]
pub enum Failure {
    /// A full snapshot could not be saved or uploaded.
    Full,
    /// A segment upload was refused (it is retried).
    SegmentUpload,
    /// The delta log stopped with an error (watch, gap, store down).
    DeltaLog,
    /// The election lease could not be kept alive or a campaign failed.
    Election,
    /// A term as leader ended in an error (any cause; the agent campaigns again).
    Term,
    /// The cluster status could not be gathered.
    ClusterStatus,
    /// The disk spool reached `--spool-limit` during a store outage: the delta log stopped.
    SpoolFull,
    /// Retention after a full could not finish (a listing, check or delete failed).
    Prune,
    /// A scheduled restore test failed.
    RestoreTest,
}

impl Failure {
    fn label(self) -> &'static str {
        match self {
            Failure::Full => "full",
            Failure::SegmentUpload => "segment_upload",
            Failure::DeltaLog => "delta_log",
            Failure::Election => "election",
            Failure::Term => "term",
            Failure::ClusterStatus => "cluster_status",
            Failure::SpoolFull => "spool_full",
            Failure::Prune => "prune",
            Failure::RestoreTest => "restore_test",
        }
    }
}

/// The cluster as `ops::status` last saw it.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClusterHealth {
    pub members: i64,
    pub voting_members: i64,
    pub reachable_voters: i64,
    pub quorum_size: i64,
    pub leader_present: bool,
    pub alarms: i64,
    pub db_size_bytes: i64,
}

#[derive(Default)]
struct Gauges {
    full_revision: Gauge,
    full_time: Seconds,
    delta_revision: Gauge,
    delta_time: Seconds,
    age: Seconds,
    lag_revisions: Gauge,
    lag_seconds: Seconds,
    leader: Gauge,
    members: Gauge,
    voting_members: Gauge,
    reachable_voters: Gauge,
    quorum_size: Gauge,
    leader_present: Gauge,
    alarms: Gauge,
    db_size: Gauge,
    status_time: Seconds,
    restore_test_success: Gauge,
    restore_test_duration: Seconds,
    restore_test_time: Seconds,
    restore_test_interval: Seconds,
}

pub struct Metrics {
    registry: Registry,
    g: Gauges,
    uploaded_bytes: Family<Labels, Counter>,
    uploaded_objects: Family<Labels, Counter>,
    failures: Family<Labels, Counter>,
    pruned_objects: Family<Labels, Counter>,
    /// Newest backed-up time in ms (full or delta), for the age computed at each scrape.
    newest_ms: AtomicI64,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

fn kind(k: &str) -> Labels {
    vec![("kind".to_string(), k.to_string())]
}

fn secs(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

impl Metrics {
    pub fn new() -> Arc<Metrics> {
        let mut registry = Registry::with_prefix("lifeboat");
        let g = Gauges::default();
        let uploaded_bytes = Family::<Labels, Counter>::default();
        let uploaded_objects = Family::<Labels, Counter>::default();
        let failures = Family::<Labels, Counter>::default();
        let pruned_objects = Family::<Labels, Counter>::default();
        let r = &mut registry;
        r.register(
            "backup_full_revision",
            "Revision of the newest full snapshot in the store",
            g.full_revision.clone(),
        );
        r.register(
            "backup_full_timestamp_seconds",
            "When the newest full snapshot was taken",
            g.full_time.clone(),
        );
        r.register(
            "backup_delta_revision",
            "Last revision of the newest delta segment uploaded",
            g.delta_revision.clone(),
        );
        r.register(
            "backup_delta_timestamp_seconds",
            "When the newest delta segment was uploaded",
            g.delta_time.clone(),
        );
        r.register(
            "backup_age_seconds",
            "Seconds since the newest backed-up state (full or delta) was stored",
            g.age.clone(),
        );
        r.register(
            "backup_delta_lag_revisions",
            "Revisions etcd has that the store does not",
            g.lag_revisions.clone(),
        );
        r.register(
            "backup_delta_lag_seconds",
            "Age of the oldest event not yet uploaded",
            g.lag_seconds.clone(),
        );
        r.register(
            "backup_uploaded_bytes",
            "Bytes uploaded to the store",
            uploaded_bytes.clone(),
        );
        r.register(
            "backup_uploaded_objects",
            "Objects uploaded to the store",
            uploaded_objects.clone(),
        );
        r.register("backup_failures", "Failures by kind", failures.clone());
        r.register(
            "backup_pruned_objects",
            "Objects retention deleted from the store, by kind (full, manifest, delta, unfinished)",
            pruned_objects.clone(),
        );
        r.register(
            "backup_restore_test_success",
            "1 when the last scheduled restore test rebuilt and verified the newest point, else 0 (see its timestamp: 0 = none yet)",
            g.restore_test_success.clone(),
        );
        r.register(
            "backup_restore_test_duration_seconds",
            "How long the last scheduled restore test took (download, rebuild, verify): the measured RTO of the backup",
            g.restore_test_duration.clone(),
        );
        r.register(
            "backup_restore_test_timestamp_seconds",
            "When the last scheduled restore test finished (0: none yet)",
            g.restore_test_time.clone(),
        );
        r.register(
            "backup_restore_test_interval_seconds",
            "--restore-test-every (0: scheduled restore tests are off)",
            g.restore_test_interval.clone(),
        );
        r.register(
            "agent_leader",
            "1 while this agent leads (writes the backup), 0 standing by",
            g.leader.clone(),
        );
        r.register("cluster_members", "Members etcd lists", g.members.clone());
        r.register(
            "cluster_voting_members",
            "Voting members (not learners)",
            g.voting_members.clone(),
        );
        r.register(
            "cluster_reachable_voters",
            "Voting members that answered",
            g.reachable_voters.clone(),
        );
        r.register(
            "cluster_quorum_size",
            "Voters needed for quorum",
            g.quorum_size.clone(),
        );
        r.register(
            "cluster_leader_present",
            "1 when the reachable members agree on a raft leader",
            g.leader_present.clone(),
        );
        r.register("cluster_alarms", "Active etcd alarms", g.alarms.clone());
        r.register(
            "cluster_db_size_bytes",
            "Largest database size any member reported",
            g.db_size.clone(),
        );
        r.register(
            "cluster_status_timestamp_seconds",
            "When the cluster status was last gathered",
            g.status_time.clone(),
        );
        Arc::new(Metrics {
            registry,
            g,
            uploaded_bytes,
            uploaded_objects,
            failures,
            pruned_objects,
            newest_ms: AtomicI64::new(0),
        })
    }

    fn stored_at(&self, ms: i64) {
        self.newest_ms.fetch_max(ms, Ordering::Relaxed);
    }

    /// A full snapshot in the store (uploaded now, or found there by a new leader).
    pub fn full(&self, revision: i64, taken_ms: i64) {
        self.g.full_revision.set(revision);
        self.g.full_time.set(secs(taken_ms));
        self.stored_at(taken_ms);
    }

    /// A delta segment in the store.
    pub fn delta(&self, last_revision: i64, stored_ms: i64) {
        self.g.delta_revision.set(last_revision);
        self.g.delta_time.set(secs(stored_ms));
        self.stored_at(stored_ms);
    }

    pub fn uploaded(&self, kind_label: &str, bytes: u64) {
        self.uploaded_bytes
            .get_or_create(&kind(kind_label))
            .inc_by(bytes);
        self.uploaded_objects.get_or_create(&kind(kind_label)).inc();
    }

    pub fn failed(&self, f: Failure) {
        self.failures.get_or_create(&kind(f.label())).inc();
    }

    /// Objects retention deleted, by kind.
    pub fn pruned(&self, kind_label: &str, objects: u64) {
        self.pruned_objects
            .get_or_create(&kind(kind_label))
            .inc_by(objects);
    }

    /// The restore test schedule (`None`: off).
    pub fn restore_test_every(&self, every: Option<std::time::Duration>) {
        self.g
            .restore_test_interval
            .set(every.map_or(0.0, |d| d.as_secs_f64()));
    }

    /// A scheduled restore test finished.
    pub fn restore_test(&self, ok: bool, took: std::time::Duration) {
        self.g.restore_test_success.set(i64::from(ok));
        self.g.restore_test_duration.set(took.as_secs_f64());
        self.g.restore_test_time.set(secs(time::now_ms()));
    }

    pub fn lag(&self, revisions: i64, oldest_pending_ms: Option<i64>) {
        self.g.lag_revisions.set(revisions.max(0));
        let seconds = oldest_pending_ms.map_or(0.0, |t| secs(time::now_ms() - t).max(0.0));
        self.g.lag_seconds.set(seconds);
    }

    pub fn leading(&self, yes: bool) {
        self.g.leader.set(i64::from(yes));
    }

    pub fn cluster(&self, h: ClusterHealth) {
        self.g.members.set(h.members);
        self.g.voting_members.set(h.voting_members);
        self.g.reachable_voters.set(h.reachable_voters);
        self.g.quorum_size.set(h.quorum_size);
        self.g.leader_present.set(i64::from(h.leader_present));
        self.g.alarms.set(h.alarms);
        self.g.db_size.set(h.db_size_bytes);
        self.g.status_time.set(secs(time::now_ms()));
    }

    /// The text exposition, with the backup's age as of now.
    pub fn encode(&self) -> String {
        let newest = self.newest_ms.load(Ordering::Relaxed);
        if newest > 0 {
            self.g.age.set(secs(time::now_ms() - newest).max(0.0));
        }
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = text::encode(&mut out, &self.registry);
        out
    }
}
