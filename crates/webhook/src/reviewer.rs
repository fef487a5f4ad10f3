//! One review from body to answer, against the baseline of the current inventory. Never
//! refuses on its own trouble: what it cannot read or judge is admitted with a warning.

use std::sync::Arc;
use std::time::Instant;

use crate::inventory::{InventorySource, Published};
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
    mode: Mode,
    metrics: Arc<Metrics>,
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
    /// Reviews against `source`'s published baseline (computed before a review ever needs it).
    pub fn new(source: Arc<dyn InventorySource>, mode: Mode, metrics: Arc<Metrics>) -> Reviewer {
        Reviewer {
            audit: None,
            source,
            mode,
            metrics,
        }
    }

    pub fn with_audit(mut self, audit: Audit) -> Reviewer {
        self.audit = Some(audit);
        self
    }

    pub fn describe_source(&self) -> String {
        self.source.describe()
    }

    /// The newest published baseline; never waits for one being computed.
    pub fn baseline(&self) -> Published {
        self.source.current()
    }

    /// The published baseline's revision and age, for `/healthz` and `/metrics`.
    pub fn status(&self) -> Status {
        let p = self.source.current();
        Status {
            revision: p.revision,
            newest_revision: self.source.newest_revision(),
            age_seconds: p.computed_at.elapsed().map_or(0.0, |d| d.as_secs_f64()),
            computations: p.computations,
            last_computation_seconds: p.took.as_secs_f64(),
            flows: p.baseline.report.flows.len(),
            critical_denied: p.baseline.critical_denied(),
        }
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
        // One published pair for the whole review: the baseline and the inventory it was
        // computed from, even if a newer one is published meanwhile.
        let published = self.source.current();
        let mut outcome = published.baseline.evaluate(&change);
        if let Some(note) = behind(published.revision, self.source.newest_revision()) {
            outcome.notes.push(note);
        }
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

/// The baseline's revision and age as `/healthz` shows them (JSON).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Status {
    /// The etcd revision the published baseline reflects (`null`: read once at start).
    pub revision: Option<i64>,
    /// The newest revision the watch has seen; above `revision` while a baseline is computed.
    pub newest_revision: Option<i64>,
    pub age_seconds: f64,
    pub computations: u64,
    pub last_computation_seconds: f64,
    pub flows: usize,
    pub critical_denied: usize,
}

/// A note for a review judged against a baseline older than the newest inventory seen: the
/// answer is right for the revision it names, and the review says which.
fn behind(published: Option<i64>, newest: Option<i64>) -> Option<String> {
    let (Some(at), Some(newest)) = (published, newest) else {
        return None;
    };
    (newest > at).then(|| {
        format!(
            "judged against the cluster at etcd revision {at}; the webhook has seen revision {newest} and is still computing its baseline"
        )
    })
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
