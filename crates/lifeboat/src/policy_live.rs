//! The live policy verdict: `policy check` kept running against the cluster. A
//! `policy_etcd::LiveView` follows the inventory and the policies in force; after every change
//! the check runs again in the background, and each change of verdict (or of the critical flows
//! cut) is said once. `policy watch` prints the changes, `agent --policy-watch` runs the same
//! loop ([`in_agent`]), and `webhook serve --from-etcd` starts its view here ([`start_view`]).

use std::sync::Arc;
use std::time::Duration;

use policy::check::{CheckOptions, CheckReport};
use policy::findings::Outcome;
use policy_etcd::derived::Compute;
use policy_etcd::metrics::PolicyMetrics;
use policy_etcd::{Derived, LiveView, View};

use crate::output;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Ok,
    Warning,
    Critical,
}

impl Verdict {
    fn of(report: &CheckReport) -> Verdict {
        match report.outcome() {
            Outcome::Critical => Verdict::Critical,
            Outcome::Warnings => Verdict::Warning,
            Outcome::Clean => Verdict::Ok,
        }
    }

    /// The value of `lifeboat_policy_verdict`.
    fn code(self) -> u8 {
        self as u8
    }

    fn word(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Warning => "warning",
            Verdict::Critical => "critical",
        }
    }
}

/// What one check found, as far as changes are told.
#[derive(Debug, Clone, PartialEq)]
struct Judged {
    verdict: Verdict,
    /// The critical flows denied, named `flow (src -> dst proto/port)`.
    cuts: Vec<String>,
}

fn judge(report: &CheckReport) -> Judged {
    let cuts = report
        .flows
        .iter()
        .filter(|f| f.critical && !f.allowed())
        .map(|f| {
            format!(
                "{} ({} -> {} {}/{})",
                f.name, f.src, f.dst, f.protocol, f.port
            )
        })
        .collect();
    Judged {
        verdict: Verdict::of(report),
        cuts,
    }
}

/// One change of verdict: the `-o json` line and the log event's fields.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VerdictChange {
    pub time: String,
    pub revision: i64,
    /// `null` for the first check.
    pub from: Option<Verdict>,
    pub to: Verdict,
    pub critical_cuts: Vec<String>,
    /// Why the newest cluster state could not be checked (the verdict is of the state before).
    pub input_error: Option<String>,
}

impl VerdictChange {
    /// The line for people (and the log).
    pub fn line(&self) -> String {
        let from = self.from.map_or("(start)", Verdict::word);
        let mut s = format!(
            "{} revision {}: policy verdict {from} -> {}",
            self.time,
            self.revision,
            self.to.word()
        );
        if !self.critical_cuts.is_empty() {
            let shown: Vec<&str> = self
                .critical_cuts
                .iter()
                .take(5)
                .map(String::as_str)
                .collect();
            let more = self.critical_cuts.len() - shown.len();
            s.push_str(&format!("; critical flows cut: {}", shown.join(", ")));
            if more > 0 {
                s.push_str(&format!(" and {more} more"));
            }
        }
        if let Some(e) = &self.input_error {
            s.push_str(&format!(
                "; the newest state could not be checked ({e}), this verdict is of the state before"
            ));
        }
        s
    }
}

/// Checks every view `view` publishes until `stop` resolves, keeping `metrics` current and
/// handing each change of verdict or of the critical cuts to `tell`. The check runs in the
/// background on the newest view ([`policy_etcd::Derived`], as the webhook's baseline does):
/// a burst of changes costs one check after the one running, not one per change.
pub async fn follow(
    view: &LiveView,
    opts: CheckOptions,
    metrics: &PolicyMetrics,
    tell: &mut (dyn FnMut(&VerdictChange) + Send),
    stop: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let compute: Compute<CheckReport> = Arc::new(move |v: &View| {
        let loaded = &v.loaded;
        policy::check::check(
            &loaded.inventory,
            &loaded.policies,
            &opts,
            loaded.findings.clone(),
        )
    });
    let checks = Derived::start(view.subscribe(), compute).await?;
    let mut rx = checks.subscribe();
    let mut last: Option<Judged> = None;
    let mut relists = 0u64;
    let mut last_error: Option<String> = None;
    tokio::pin!(stop);
    loop {
        let checked = rx.borrow_and_update().clone();
        let current = &checked.view;
        if current.relists > relists {
            relists = current.relists;
            output::note(&format!(
                "lifeboat: policy watch re-listed the cluster at revision {} ({})",
                current.revision,
                current.last_relist.as_deref().unwrap_or("?")
            ));
        }
        if current.error != last_error {
            last_error.clone_from(&current.error);
            if let Some(e) = &current.error {
                tracing::warn!(revision = current.revision, "policy watch: {e}");
            }
        }
        let judged = judge(&checked.value);
        let verdict = judged.verdict.code();
        metrics.record(current, verdict, judged.cuts.len(), checked.computed_at);
        if last.as_ref() != Some(&judged) {
            let change = VerdictChange {
                time: ops::utc::rfc3339_now(),
                revision: current.revision,
                from: last.as_ref().map(|j| j.verdict),
                to: judged.verdict,
                critical_cuts: judged.cuts.clone(),
                input_error: current.error.clone(),
            };
            log(&change);
            tell(&change);
            last = Some(judged);
        }
        tokio::select! {
            changed = rx.changed() => {
                if changed.is_err() {
                    anyhow::bail!("the policy watch stopped");
                }
            }
            () = &mut stop => return Ok(()),
        }
    }
}

fn log(change: &VerdictChange) {
    let from = change.from.map_or("(start)", Verdict::word);
    let to = change.to.word();
    let cuts = change.critical_cuts.join(", ");
    match change.to {
        Verdict::Critical => {
            tracing::error!(revision = change.revision, from, to, critical_cuts = %cuts, "policy verdict changed")
        }
        Verdict::Warning => tracing::warn!(
            revision = change.revision,
            from,
            to,
            "policy verdict changed"
        ),
        Verdict::Ok => tracing::info!(
            revision = change.revision,
            from,
            to,
            "policy verdict changed"
        ),
    }
}

/// Connects to the first endpoint that answers and starts the live view on it.
pub async fn start_view(
    settings: &ops::ConnectionSettings,
    tls: Option<&ops::settings::ValidatedTls>,
    spec: policy::input::InputSpec,
) -> anyhow::Result<LiveView> {
    let client = ops::kube::connect_any(settings, tls).await?.client;
    Ok(LiveView::start(client, spec).await?)
}

/// `lifeboat agent --policy-watch`: the same loop for the agent's lifetime, its changes told
/// on stderr, its gauges in `metrics` (the agent serves them on its /metrics). A failure
/// (etcd unreachable at start, a broken view) is said and retried.
pub async fn in_agent(
    settings: ops::ConnectionSettings,
    tls: Option<ops::settings::ValidatedTls>,
    metrics: Arc<PolicyMetrics>,
) {
    loop {
        let result = async {
            let view =
                start_view(&settings, tls.as_ref(), policy::input::InputSpec::default()).await?;
            let mut tell = |c: &VerdictChange| output::note(&format!("agent: {}", c.line()));
            follow(
                &view,
                CheckOptions::default(),
                &metrics,
                &mut tell,
                std::future::pending(),
            )
            .await
        }
        .await;
        if let Err(e) = result {
            output::note(&format!(
                "agent: policy watch stopped ({e:#}); starting again in 10s"
            ));
        }
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
}
