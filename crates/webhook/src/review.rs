//! AdmissionReview v1 (admission.k8s.io/v1): reading a review into the change it asks for,
//! and the answer from what that change does. Pure: no I/O, no clock.
//!
//! What is not understood is admitted with a warning: a webhook that refuses on its own
//! confusion can lock the cluster out as surely as the policies it guards.

use std::collections::BTreeMap;

use policy::check::FlowResult;
use policy::findings::Severity;
use policy::model::{ObjectKey, PolicySet};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::OVERRIDE_ANNOTATION;

/// The review's `request`, as far as the decision needs it.
#[derive(Debug, Clone)]
pub struct Request {
    pub uid: String,
    /// `apiVersion` of the review: the response carries the same.
    pub api_version: String,
    pub kind: String,
    pub group: String,
    pub namespace: Option<String>,
    pub name: String,
    pub operation: Operation,
    pub object: Option<Value>,
    pub old_object: Option<Value>,
    pub dry_run: bool,
    pub user: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
    Delete,
    Connect,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
            Operation::Connect => "CONNECT",
        }
    }
}

impl Request {
    /// `CiliumNetworkPolicy shop/web`, for messages and logs.
    pub fn describe(&self) -> String {
        match &self.namespace {
            Some(ns) if !ns.is_empty() => format!("{} {ns}/{}", self.kind, self.name),
            _ => format!("{} {}", self.kind, self.name),
        }
    }

    /// The object the operation leaves (CREATE, UPDATE) or removes (DELETE).
    fn subject(&self) -> Option<&Value> {
        match self.operation {
            Operation::Delete => self.old_object.as_ref(),
            _ => self.object.as_ref(),
        }
    }

    /// The reason given in the override annotation of the object, if any (not empty).
    pub fn override_reason(&self) -> Option<String> {
        let reason = self
            .subject()?
            .pointer("/metadata/annotations")?
            .get(OVERRIDE_ANNOTATION)?
            .as_str()?
            .trim();
        (!reason.is_empty()).then(|| reason.to_owned())
    }
}

/// A review that could not be read as one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unreadable {
    /// Not even `request.uid`: there is nobody to answer (HTTP 400).
    NoUid(String),
    /// The uid is known; the rest is not understood: admitted with a warning.
    Malformed {
        uid: String,
        api_version: String,
        reason: String,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireRequest {
    kind: WireKind,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    name: Option<String>,
    operation: String,
    #[serde(default)]
    object: Option<Value>,
    #[serde(default)]
    old_object: Option<Value>,
    #[serde(default)]
    dry_run: Option<bool>,
    #[serde(default)]
    user_info: Option<WireUser>,
}

#[derive(Deserialize)]
struct WireKind {
    #[serde(default)]
    group: String,
    kind: String,
}

#[derive(Deserialize)]
struct WireUser {
    #[serde(default)]
    username: Option<String>,
}

/// The request of an AdmissionReview body.
pub fn read_review(body: &[u8]) -> Result<Request, Unreadable> {
    let review: Value = serde_json::from_slice(body)
        .map_err(|e| Unreadable::NoUid(format!("the body is not JSON: {e}")))?;
    let api_version = review
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("admission.k8s.io/v1")
        .to_owned();
    let Some(raw) = review.get("request") else {
        return Err(Unreadable::NoUid("the review has no request".into()));
    };
    let Some(uid) = raw.get("uid").and_then(Value::as_str) else {
        return Err(Unreadable::NoUid("the review's request has no uid".into()));
    };
    let malformed = |reason: String| Unreadable::Malformed {
        uid: uid.to_owned(),
        api_version: api_version.clone(),
        reason,
    };
    if review.get("kind").and_then(Value::as_str) != Some("AdmissionReview") {
        return Err(malformed("the body is not an AdmissionReview".into()));
    }
    let wire = WireRequest::deserialize(raw)
        .map_err(|e| malformed(format!("the review's request is not understood: {e}")))?;
    let operation = match wire.operation.as_str() {
        "CREATE" => Operation::Create,
        "UPDATE" => Operation::Update,
        "DELETE" => Operation::Delete,
        "CONNECT" => Operation::Connect,
        other => return Err(malformed(format!("unknown operation {other:?}"))),
    };
    let name = wire
        .name
        .filter(|n| !n.is_empty())
        .or_else(|| object_name(wire.object.as_ref().or(wire.old_object.as_ref())))
        .unwrap_or_default();
    Ok(Request {
        uid: uid.to_owned(),
        api_version,
        kind: wire.kind.kind,
        group: wire.kind.group,
        namespace: wire.namespace.filter(|n| !n.is_empty()),
        name,
        operation,
        object: wire.object.filter(|o| !o.is_null()),
        old_object: wire.old_object.filter(|o| !o.is_null()),
        dry_run: wire.dry_run.unwrap_or(false),
        user: wire.user_info.and_then(|u| u.username),
    })
}

fn object_name(object: Option<&Value>) -> Option<String> {
    let meta = object?.get("metadata")?;
    let name = meta.get("name").and_then(Value::as_str).unwrap_or("");
    if !name.is_empty() {
        return Some(name.to_owned());
    }
    // CREATE with generateName: the API server names it after admission.
    let prefix = meta.get("generateName").and_then(Value::as_str)?;
    Some(format!("{prefix}<generated>"))
}

/// What a review asks to change in the cluster's policy.
#[derive(Debug, Clone)]
pub enum Change {
    /// A NetworkPolicy, CNP or CCNP: `new` replaces the object with `key` (none: removed).
    Policy {
        key: ObjectKey,
        new: Option<PolicySet>,
        /// Parse findings of the new object (warnings and worse are passed on).
        notes: Vec<String>,
    },
    /// The `cilium-config` ConfigMap in kube-system: its new `data` (none: removed).
    CiliumConfig {
        new: Option<BTreeMap<String, String>>,
    },
    /// A CiliumCIDRGroup: lifeboat does not resolve CIDR groups, so no verdict changes; the
    /// policies that reference it are named.
    CidrGroup { name: String },
    /// Something the webhook does not judge and has nothing to say about (another
    /// ConfigMap, CONNECT).
    NotJudged,
}

const POLICY_KINDS: [&str; 3] = [
    "NetworkPolicy",
    "CiliumNetworkPolicy",
    "CiliumClusterwideNetworkPolicy",
];

/// The change a request asks for; `Err` is a warning: the request is admitted unjudged.
pub fn classify(req: &Request) -> Result<Change, String> {
    if req.operation == Operation::Connect {
        return Ok(Change::NotJudged);
    }
    match req.kind.as_str() {
        "ConfigMap" => Ok(cilium_config_change(req)),
        "CiliumCIDRGroup" => Ok(Change::CidrGroup {
            name: req.name.clone(),
        }),
        kind => match POLICY_KINDS.iter().copied().find(|k| *k == kind) {
            Some(kind) => policy_change(req, kind),
            None => Err(format!(
                "lifeboat does not judge {} (kind {kind:?} of group {:?}); admitted unchecked. Remove the kind from the webhook's rules",
                req.describe(),
                req.group
            )),
        },
    }
}

fn cilium_config_change(req: &Request) -> Change {
    if req.namespace.as_deref() != Some("kube-system") || req.name != "cilium-config" {
        return Change::NotJudged;
    }
    let new = match req.operation {
        Operation::Delete => None,
        _ => Some(config_data(req.object.as_ref())),
    };
    Change::CiliumConfig { new }
}

fn config_data(object: Option<&Value>) -> BTreeMap<String, String> {
    let Some(Value::Object(data)) = object.and_then(|o| o.get("data")) else {
        return BTreeMap::new();
    };
    data.iter()
        .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
        .collect()
}

fn policy_change(req: &Request, kind: &'static str) -> Result<Change, String> {
    let namespace = (kind != "CiliumClusterwideNetworkPolicy")
        .then(|| req.namespace.clone())
        .flatten();
    let key = ObjectKey {
        kind,
        namespace,
        name: req.name.clone(),
    };
    if req.operation == Operation::Delete {
        return Ok(Change::Policy {
            key,
            new: None,
            notes: Vec::new(),
        });
    }
    let Some(object) = req.object.as_ref() else {
        return Err(format!(
            "{} {}: the review carries no object; admitted unchecked",
            req.operation.as_str(),
            req.describe()
        ));
    };
    let (set, notes) = parse_policy(req, object)?;
    let parsed: Vec<ObjectKey> = set
        .network_policies
        .iter()
        .map(|p| p.key())
        .chain(set.cilium.iter().map(|p| p.key()))
        .collect();
    if parsed != [key.clone()] {
        return Err(format!(
            "{}: the object read is {}, not the one the review names; admitted unchecked",
            req.describe(),
            parsed
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(Change::Policy {
        key,
        new: Some(set),
        notes,
    })
}

/// The object through the policy crate's parser, with the review's namespace and name filled
/// in where the object leaves them to the API server.
fn parse_policy(req: &Request, object: &Value) -> Result<(PolicySet, Vec<String>), String> {
    let mut object = object.clone();
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("name".into(), Value::String(req.name.clone()));
        if let Some(ns) = &req.namespace
            && req.kind != "CiliumClusterwideNetworkPolicy"
        {
            meta.insert("namespace".into(), Value::String(ns.clone()));
        }
    }
    let unjudged = |why: String| {
        format!(
            "{} does not parse ({why}); lifeboat did not judge it, admitted unchecked",
            req.describe()
        )
    };
    let bytes = serde_json::to_vec(&object).map_err(|e| unjudged(e.to_string()))?;
    let docs = policy::source::load_bytes(&format!("admission {}", req.describe()), &bytes)
        .map_err(|e| unjudged(e.to_string()))?;
    let parsed = policy::parse::policies(&docs);
    if !parsed.errors.is_empty() {
        let errors: Vec<String> = parsed
            .errors
            .iter()
            .take(3)
            .map(|e| e.to_string())
            .collect();
        return Err(unjudged(errors.join("; ")));
    }
    let notes = parsed
        .findings
        .iter()
        .filter(|f| f.severity >= Severity::Warning)
        .map(|f| format!("{}: {}", f.code, f.message))
        .collect();
    Ok((parsed.policies, notes))
}

/// What a change does to the cluster's flows, against the policies in force.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Flows allowed now and denied after the change (critical first).
    pub newly_denied: Vec<FlowResult>,
    /// Flows whose verdict becomes uncertain (peers known only at runtime).
    pub newly_unresolved: Vec<FlowResult>,
    /// Other things worth a warning (parse findings, CIDR group references).
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing to say.
    Allowed,
    /// Admitted with warnings (lesser cuts, notes).
    Warned,
    /// Refused: it cuts a critical flow.
    Denied,
    /// A critical cut admitted because of the override annotation.
    Overridden,
    /// A critical cut admitted because the webhook runs with `--warn-only`.
    WarnOnly,
    /// Not judged (lifeboat's own trouble or an unknown kind): admitted with a warning.
    Unjudged,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allowed => "allowed",
            Verdict::Warned => "warned",
            Verdict::Denied => "denied",
            Verdict::Overridden => "overridden",
            Verdict::WarnOnly => "warn_only",
            Verdict::Unjudged => "unjudged",
        }
    }
}

/// The answer to one review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub verdict: Verdict,
    pub allowed: bool,
    /// The refusal's text (status.message), with the flows, rules and the fix.
    pub message: Option<String>,
    pub warnings: Vec<String>,
}

impl Decision {
    pub fn allowed() -> Decision {
        Decision {
            verdict: Verdict::Allowed,
            allowed: true,
            message: None,
            warnings: Vec::new(),
        }
    }

    pub fn unjudged(why: &str) -> Decision {
        Decision {
            verdict: Verdict::Unjudged,
            allowed: true,
            message: None,
            warnings: vec![bounded(&format!("lifeboat: {why}"))],
        }
    }
}

/// How the webhook answers critical cuts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Mode {
    /// Admit everything, warning about what would have been refused.
    pub warn_only: bool,
}

/// Warnings the API server passes to kubectl are short lines; more than this many are summed.
const MAX_WARNINGS: usize = 10;
const MAX_WARNING_CHARS: usize = 400;
/// Flows spelled out in a refusal; the rest are counted.
const DETAILED_FLOWS: usize = 3;

/// The answer for `req` given what the change does.
pub fn decide(req: &Request, outcome: &Outcome, mode: Mode) -> Decision {
    let (critical, lesser): (Vec<&FlowResult>, Vec<&FlowResult>) =
        outcome.newly_denied.iter().partition(|f| f.critical);
    let mut warnings: Vec<String> = Vec::new();
    let what = req.describe();
    let verdict = if critical.is_empty() {
        Verdict::Allowed
    } else if let Some(reason) = req.override_reason() {
        warnings.push(format!(
            "lifeboat: {what} cuts {} critical control-plane flow(s) and is admitted because of {OVERRIDE_ANNOTATION}: {reason:?}. Remove the annotation once the change is done",
            critical.len()
        ));
        Verdict::Overridden
    } else if mode.warn_only {
        warnings.push(format!(
            "lifeboat (warn-only): {what} cuts {} critical control-plane flow(s) and would be refused",
            critical.len()
        ));
        Verdict::WarnOnly
    } else {
        Verdict::Denied
    };
    if verdict != Verdict::Denied {
        warnings.extend(critical.iter().map(|f| cut_warning(f)));
    }
    warnings.extend(lesser.iter().map(|f| cut_warning(f)));
    warnings.extend(outcome.newly_unresolved.iter().map(|f| {
        format!(
            "lifeboat: {} {} -> {} {}/{} is no longer certain: {}",
            f.name, f.src, f.dst, f.protocol, f.port, f.explanation
        )
    }));
    warnings.extend(outcome.notes.iter().map(|n| format!("lifeboat: {n}")));
    let warnings = summed(warnings);
    let verdict = match verdict {
        Verdict::Allowed if !warnings.is_empty() => Verdict::Warned,
        v => v,
    };
    Decision {
        verdict,
        allowed: verdict != Verdict::Denied,
        message: (verdict == Verdict::Denied).then(|| refusal(&what, &critical)),
        warnings,
    }
}

fn cut_warning(f: &FlowResult) -> String {
    format!(
        "lifeboat: cuts {}{} {} -> {} {}/{} ({})",
        if f.critical { "CRITICAL " } else { "" },
        f.name,
        f.src,
        f.dst,
        f.protocol,
        f.port,
        rules(f)
    )
}

fn rules(f: &FlowResult) -> String {
    if f.rules.is_empty() {
        "policy-semantics.md".to_owned()
    } else {
        format!("rules {}", f.rules.join(", "))
    }
}

/// status.message of a refusal: each flow with why, the first fix, and the way through.
fn refusal(what: &str, critical: &[&FlowResult]) -> String {
    let mut s = format!(
        "lifeboat: {what} would cut {} critical control-plane flow(s).",
        critical.len()
    );
    for f in critical.iter().take(DETAILED_FLOWS) {
        s.push_str(&format!(
            "\n- {} {} -> {} {}/{} ({}): {}",
            f.name,
            f.src,
            f.dst,
            f.protocol,
            f.port,
            rules(f),
            f.explanation
        ));
    }
    if critical.len() > DETAILED_FLOWS {
        let rest: Vec<String> = critical[DETAILED_FLOWS..]
            .iter()
            .map(|f| format!("{} {}/{}", f.name, f.protocol, f.port))
            .collect();
        s.push_str(&format!(
            "\n- and {} more: {}",
            rest.len(),
            bounded(&rest.join(", "))
        ));
    }
    if let Some(fix) = critical.iter().find_map(|f| f.fix.as_deref()) {
        s.push_str("\nFix (add to the policy):\n");
        s.push_str(fix.trim_end());
    }
    s.push_str(&format!(
        "\nCheck it first with `lifeboat policy check -f FILE`. To apply it deliberately anyway, annotate the object {OVERRIDE_ANNOTATION}: \"<reason>\"."
    ));
    s
}

fn summed(mut warnings: Vec<String>) -> Vec<String> {
    if warnings.len() > MAX_WARNINGS {
        let more = warnings.len() - (MAX_WARNINGS - 1);
        warnings.truncate(MAX_WARNINGS - 1);
        warnings.push(format!(
            "lifeboat: and {more} more; run `lifeboat policy check` for all"
        ));
    }
    warnings.iter().map(|w| bounded(w)).collect()
}

/// One line, at most [`MAX_WARNING_CHARS`] characters: the API server drops or truncates
/// longer warnings, and control characters are not allowed in them.
fn bounded(text: &str) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match one_line.char_indices().nth(MAX_WARNING_CHARS) {
        Some((cut, _)) => format!("{}...", &one_line[..cut]),
        None => one_line,
    }
}

/// The AdmissionReview answering `uid`.
pub fn response(api_version: &str, uid: &str, d: &Decision) -> Value {
    let mut response = json!({"uid": uid, "allowed": d.allowed});
    if let Some(message) = &d.message {
        response["status"] = json!({
            "metadata": {},
            "status": "Failure",
            "reason": "Forbidden",
            "code": 403,
            "message": message,
        });
    }
    if !d.warnings.is_empty() {
        response["warnings"] = json!(d.warnings);
    }
    json!({"apiVersion": api_version, "kind": "AdmissionReview", "response": response})
}

#[cfg(test)]
mod tests;
