//! One review from body to answer, against the baseline of the current inventory. Never
//! refuses on its own trouble: what it cannot read or judge is admitted with a warning.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use policy::check::CheckOptions;

use crate::baseline::Baseline;
use crate::inventory::InventorySource;
use crate::metrics::Metrics;
use crate::review::{self, Decision, Mode, Request, Unreadable, Verdict};

/// An HTTP answer: status and JSON body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
    pub decision: Option<Decision>,
}

/// Where decisions worth a line go (refusals, overrides, warnings) besides `tracing`: the
/// command prints them to stderr whatever the log level.
pub type Audit = Arc<dyn Fn(&str) + Send + Sync>;

pub struct Reviewer {
    audit: Option<Audit>,
    source: Arc<dyn InventorySource>,
    opts: CheckOptions,
    mode: Mode,
    metrics: Arc<Metrics>,
    baseline: Mutex<Option<Arc<Baseline>>>,
}

/// Kinds named in metric labels; anything else is `other` (labels must stay few).
const KNOWN_KINDS: [&str; 5] = [
    "NetworkPolicy",
    "CiliumNetworkPolicy",
    "CiliumClusterwideNetworkPolicy",
    "CiliumCIDRGroup",
    "ConfigMap",
];

impl Reviewer {
    /// Computes the baseline now, so the first review costs only its change.
    pub fn new(
        source: Arc<dyn InventorySource>,
        opts: CheckOptions,
        mode: Mode,
        metrics: Arc<Metrics>,
    ) -> Reviewer {
        let reviewer = Reviewer {
            audit: None,
            source,
            opts,
            mode,
            metrics,
            baseline: Mutex::new(None),
        };
        let _ = reviewer.baseline();
        reviewer
    }

    pub fn with_audit(mut self, audit: Audit) -> Reviewer {
        self.audit = Some(audit);
        self
    }

    pub fn describe_source(&self) -> String {
        self.source.describe()
    }

    /// The baseline of the source's current inventory, recomputed when the source hands out
    /// a new one. One computation at a time; reviews meanwhile wait for it.
    pub fn baseline(&self) -> Option<Arc<Baseline>> {
        let loaded = self.source.current();
        let mut cached = self.baseline.lock().ok()?;
        if let Some(b) = cached.as_ref()
            && Arc::ptr_eq(&b.loaded, &loaded)
        {
            return Some(Arc::clone(b));
        }
        let b = Arc::new(Baseline::compute(loaded, self.opts.clone()));
        self.metrics
            .baseline(b.report.flows.len(), b.critical_denied());
        if b.critical_denied() > 0 {
            tracing::warn!(
                critical_denied = b.critical_denied(),
                "webhook: the policies in force already deny critical control-plane flows; reviews are judged on what they change (run `lifeboat policy check`)"
            );
        }
        *cached = Some(Arc::clone(&b));
        Some(b)
    }

    /// The answer to a review body (complete, within the size bound).
    pub fn review(&self, body: &[u8]) -> Answer {
        let started = Instant::now();
        let req = match review::read_review(body) {
            Ok(req) => req,
            Err(Unreadable::NoUid(why)) => return self.bad_request(&why),
            Err(Unreadable::Malformed {
                uid,
                api_version,
                reason,
            }) => {
                tracing::warn!("webhook: review {uid} admitted unread: {reason}");
                let d = Decision::unjudged(&format!("{reason}; admitted unchecked"));
                self.metrics
                    .review("other", "unknown", d.verdict.as_str(), secs(started));
                return answer(&api_version, &uid, d);
            }
        };
        let d = self.judge(&req);
        self.log(&req, &d);
        let kind = KNOWN_KINDS
            .iter()
            .find(|k| **k == req.kind)
            .copied()
            .unwrap_or("other");
        self.metrics.review(
            kind,
            req.operation.as_str(),
            d.verdict.as_str(),
            secs(started),
        );
        answer(&req.api_version, &req.uid, d)
    }

    /// The decision on a readable request.
    pub fn judge(&self, req: &Request) -> Decision {
        let change = match review::classify(req) {
            Ok(change) => change,
            Err(why) => return Decision::unjudged(&why),
        };
        let Some(baseline) = self.baseline() else {
            return Decision::unjudged(
                "the webhook's state is unusable after an internal error; admitted unchecked. Restart the webhook",
            );
        };
        let outcome = baseline.evaluate(&change);
        review::decide(req, &outcome, self.mode)
    }

    fn log(&self, req: &Request, d: &Decision) {
        let user = req.user.as_deref().unwrap_or("?");
        let dry = if req.dry_run { " (dry run)" } else { "" };
        let what = format!(
            "{} {} by {user}{dry}",
            req.operation.as_str(),
            req.describe()
        );
        let line = match d.verdict {
            Verdict::Denied => format!(
                "refused {what}: {}",
                d.message.as_deref().unwrap_or("").replace('\n', " | ")
            ),
            Verdict::Overridden => format!(
                "OVERRIDE {what}: cuts critical flows, admitted because of {}: {:?}",
                crate::OVERRIDE_ANNOTATION,
                req.override_reason().unwrap_or_default()
            ),
            Verdict::WarnOnly | Verdict::Warned | Verdict::Unjudged => {
                format!("admitted {what} with warnings: {}", d.warnings.join(" | "))
            }
            Verdict::Allowed => {
                tracing::debug!("webhook: admitted {what}");
                return;
            }
        };
        match &self.audit {
            Some(audit) => audit(&line),
            None if d.verdict == Verdict::Overridden => tracing::warn!("webhook: {line}"),
            None => tracing::info!("webhook: {line}"),
        }
    }

    /// A body over the size bound: admitted with a warning when its uid can be found in the
    /// part read (the API server puts `request.uid` first), else HTTP 400.
    pub fn too_large(&self, prefix: &[u8], limit: usize) -> Answer {
        let why =
            format!("the review is larger than {limit} bytes and was not read; admitted unchecked");
        match uid_in_prefix(prefix) {
            Some(uid) => {
                tracing::warn!("webhook: review {uid}: {why}");
                self.metrics.review("other", "unknown", "unjudged", 0.0);
                answer("admission.k8s.io/v1", &uid, Decision::unjudged(&why))
            }
            None => self.bad_request(&why),
        }
    }

    /// Something went wrong inside the webhook while judging a readable body.
    pub fn internal_error(&self, body: &[u8], what: &str) -> Answer {
        tracing::error!("webhook: internal error while judging a review: {what}");
        match review::read_review(body) {
            Ok(req) => answer(
                &req.api_version,
                &req.uid,
                Decision::unjudged(&format!(
                    "internal error ({what}); admitted unchecked. Report it with the webhook's log"
                )),
            ),
            Err(_) => self.bad_request(what),
        }
    }

    fn bad_request(&self, why: &str) -> Answer {
        tracing::warn!("webhook: unanswerable review: {why}");
        self.metrics.review("other", "unknown", "bad_request", 0.0);
        let body = serde_json::json!({"error": format!("{why}: not an AdmissionReview with request.uid; nothing to answer")});
        Answer {
            status: 400,
            body: serde_json::to_vec(&body).unwrap_or_default(),
            decision: None,
        }
    }
}

fn answer(api_version: &str, uid: &str, d: Decision) -> Answer {
    let body = serde_json::to_vec(&review::response(api_version, uid, &d)).unwrap_or_default();
    Answer {
        status: 200,
        body,
        decision: Some(d),
    }
}

fn secs(started: Instant) -> f64 {
    started.elapsed().as_secs_f64()
}

/// `request.uid` from the start of a body too large to parse: the first `"uid":"..."` after
/// `"request"`.
pub fn uid_in_prefix(prefix: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(prefix);
    let after = &text[text.find("\"request\"")?..];
    let at = after.find("\"uid\"")?;
    let rest = after[at + 5..].trim_start().strip_prefix(':')?.trim_start();
    let rest = rest.strip_prefix('"')?;
    let uid = &rest[..rest.find('"')?];
    let plausible = !uid.is_empty()
        && uid.len() <= 128
        && uid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    plausible.then(|| uid.to_owned())
}

#[cfg(test)]
mod tests {
    use super::uid_in_prefix;

    #[test]
    fn the_uid_is_found_at_the_start_of_a_cut_body() {
        let body = br#"{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":"705ab4f5-6393-11e8-b7cc-42010a800002","kind":{"kind":"ConfigMap"},"object":{"data":{"x":"aaaa"#;
        assert_eq!(
            uid_in_prefix(body).as_deref(),
            Some("705ab4f5-6393-11e8-b7cc-42010a800002")
        );
        assert_eq!(uid_in_prefix(br#"{"request":{"object":{"#), None);
        assert_eq!(uid_in_prefix(br#"{"request":{"uid":"a\"b"}}"#), None);
        assert_eq!(uid_in_prefix(b"\xff\xfe"), None);
    }
}
