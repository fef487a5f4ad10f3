//! Observed flows grouped by workload pair and destination port: compact keys (interned
//! names) while streaming, readable groups at the end.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

/// Most groups kept per kind; flows past it are counted in `groups_capped`.
pub const MAX_GROUPS: usize = 100_000;
/// Malformed lines listed by number (all are counted).
pub const MAX_MALFORMED_LISTED: usize = 50;

#[derive(Debug, Clone, Serialize, Default)]
pub struct ObservedReport {
    pub file: String,
    pub lines: u64,
    /// Lines that hold a flow (others are node status, lost events...).
    pub flows: u64,
    pub other_events: u64,
    /// Replies (`is_reply: true`) belong to a connection already counted: not evaluated.
    pub replies_skipped: u64,
    /// Flows whose verdict says nothing about policy (TRACED, TRANSLATED, a drop for a
    /// reason other than policy...), per verdict.
    pub skipped_verdicts: BTreeMap<String, u64>,
    /// Forwarded or dropped flows evaluated against the proposed policies.
    pub evaluated: u64,
    pub malformed: u64,
    /// The first malformed lines, by number.
    pub malformed_lines: Vec<Malformed>,
    /// Flows with an endpoint lifeboat could not map to the inventory: no verdict given.
    pub not_evaluated: Vec<NotEvaluated>,
    /// Forwarded (or audited) flows the proposed policies would drop.
    pub would_drop: Vec<Group>,
    /// Flows dropped by policy that the proposed policies would allow.
    pub would_allow: Vec<Group>,
    /// Flows not grouped because the group table was full (counted, not shown).
    pub groups_capped: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Malformed {
    pub line: u64,
    pub error: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct NotEvaluated {
    pub reason: &'static str,
    pub count: u64,
    pub first_line: u64,
    /// The endpoint of the first such flow.
    pub example: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub src_namespace: String,
    pub src_workload: String,
    pub dst_namespace: String,
    pub dst_workload: String,
    pub protocol: String,
    /// Destination port; the ICMP type for ICMP.
    pub port: u16,
    pub count: u64,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub first_line: u64,
    /// Why the proposed policies decide as they do, for the first flow of the group.
    pub explanation: String,
}

/// Group key: interned names, protocol, port. 24 bytes whatever the names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub names: [u32; 4],
    pub proto: u8,
    pub port: u16,
}

pub struct Stats {
    pub count: u64,
    pub first: Option<Box<str>>,
    pub last: Option<Box<str>>,
    pub first_line: u64,
    pub explanation: Box<str>,
}

#[derive(Default)]
pub struct Interner {
    ids: HashMap<Box<str>, u32>,
    pub names: Vec<Box<str>>,
}

impl Interner {
    pub fn id(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.ids.get(s) {
            return i;
        }
        let i = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.push(s.into());
        self.ids.insert(s.into(), i);
        i
    }

    pub fn name(&self, i: u32) -> &str {
        self.names.get(i as usize).map_or("", |s| s)
    }
}

/// RFC 3339 times compare as text only with equal fraction lengths: pad the fraction.
fn time_order(t: &str) -> (String, String) {
    let body = t.trim_end_matches('Z');
    match body.split_once('.') {
        Some((secs, frac)) => (secs.to_owned(), format!("{frac:0<9}")),
        None => (body.to_owned(), "0".repeat(9)),
    }
}

pub fn record(stats: &mut Stats, time: Option<&str>) {
    stats.count += 1;
    let Some(t) = time else { return };
    let earlier = |a: &str, b: &str| time_order(a) < time_order(b);
    if stats.first.as_deref().is_none_or(|f| earlier(t, f)) {
        stats.first = Some(t.into());
    }
    if stats.last.as_deref().is_none_or(|l| earlier(l, t)) {
        stats.last = Some(t.into());
    }
}

pub fn to_groups(map: HashMap<Key, Stats>, names: &Interner) -> Vec<Group> {
    let mut out: Vec<Group> = map
        .into_iter()
        .map(|(k, s)| Group {
            src_namespace: names.name(k.names[0]).to_owned(),
            src_workload: names.name(k.names[1]).to_owned(),
            dst_namespace: names.name(k.names[2]).to_owned(),
            dst_workload: names.name(k.names[3]).to_owned(),
            protocol: super::proto_name(k.proto).to_owned(),
            port: k.port,
            count: s.count,
            first_seen: s.first.map(String::from),
            last_seen: s.last.map(String::from),
            first_line: s.first_line,
            explanation: s.explanation.to_string(),
        })
        .collect();
    // Most traffic first; ties in a stable order so reports diff cleanly.
    out.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.first_line.cmp(&b.first_line))
    });
    out
}
