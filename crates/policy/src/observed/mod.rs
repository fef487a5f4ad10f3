//! Observed traffic (policy-semantics.md, "Observed traffic"): Hubble's flow export
//! (`hubble observe -o json`) replayed against the proposed policies. Which forwarded flows
//! they would drop, which policy drops they would allow, per workload pair and port.
//!
//! Streamed: one line at a time ([`line::MAX_LINE`] at most), verdicts memoised per
//! endpoint pair and port, groups keyed by interned names; memory grows with the number of
//! distinct workloads, not with the file.

pub mod line;
pub mod mapping;
pub mod report;

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::io::{BufRead, BufReader};
use std::net::IpAddr;
use std::path::Path;

pub use report::{Group, Malformed, NotEvaluated, ObservedReport};

use crate::engine::{Engine, EpKind};
use crate::inventory::Inventory;
use crate::model::{PolicySet, Protocol};
use line::{Ep, Flow, Lines, Read};
use mapping::{Mapper, Unmapped};
use report::{Interner, Key, MAX_GROUPS, MAX_MALFORMED_LISTED, Stats};

#[derive(Debug, thiserror::Error)]
pub enum ObservedError {
    #[error(transparent)]
    Input(#[from] inputs::InputError),
    #[error(
        "{path}: read failed after line {line}: {source}; check the file is complete and readable, then run again"
    )]
    Io {
        path: String,
        line: u64,
        source: std::io::Error,
    },
}

const PROTOS: [(Protocol, &str); 5] = [
    (Protocol::Tcp, "TCP"),
    (Protocol::Udp, "UDP"),
    (Protocol::Sctp, "SCTP"),
    (Protocol::Icmp, "ICMP"),
    (Protocol::IcmpV6, "ICMPv6"),
];

/// Past this many memoised verdicts the memo starts over (bounded memory).
const VERDICT_LIMIT: usize = 1_000_000;

fn protocol(code: u8) -> Protocol {
    PROTOS.get(code as usize).map_or(Protocol::Tcp, |p| p.0)
}

pub fn proto_name(code: u8) -> &'static str {
    PROTOS.get(code as usize).map_or("?", |p| p.1)
}

/// Replay the flow export at `path` against `policies` on `inv`.
pub fn analyse_file(
    path: &Path,
    inv: &Inventory,
    policies: &PolicySet,
) -> Result<ObservedReport, ObservedError> {
    let (file, _) = inputs::open_regular(path, inputs::Kind::FLOW_EXPORT)?;
    let name = path.display().to_string();
    analyse(
        BufReader::with_capacity(1 << 20, file),
        &name,
        inv,
        policies,
    )
}

/// The same from any reader; `name` is how the report names the input.
pub fn analyse<R: BufRead>(
    input: R,
    name: &str,
    inv: &Inventory,
    policies: &PolicySet,
) -> Result<ObservedReport, ObservedError> {
    let engine = Engine::new(inv, policies);
    let mut run = Run::new(&engine, name);
    let mut lines = Lines::new(input);
    loop {
        let next = lines.next_line().map_err(|source| ObservedError::Io {
            path: name.to_owned(),
            line: run.report.lines,
            source,
        })?;
        let Some(read) = next else { break };
        run.report.lines += 1;
        let number = run.report.lines;
        match read {
            Read::TooLong => {
                run.malformed(number, format!("line longer than {} bytes", line::MAX_LINE))
            }
            Read::Line(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => {}
            Read::Line(bytes) => match line::parse_line(bytes) {
                Ok(l) => run.line(number, &l),
                Err(e) => run.malformed(number, e),
            },
        }
    }
    Ok(run.finish())
}

/// What the policies say about an observed flow, or why nothing was said.
enum Class {
    /// Forwarded, audited or redirected to the proxy: the traffic happened.
    Passed,
    /// Dropped by policy.
    Dropped,
}

/// Source and destination endpoint (indices into the mapper), protocol code, port.
type VerdictKey = (usize, usize, u8, u16);

struct Run<'e, 'a> {
    engine: &'e Engine<'a>,
    mapper: Mapper<'e, 'a>,
    verdicts: HashMap<VerdictKey, bool>,
    names: Interner,
    would_drop: HashMap<Key, Stats>,
    would_allow: HashMap<Key, Stats>,
    not_evaluated: Vec<NotEvaluated>,
    report: ObservedReport,
}

impl<'e, 'a> Run<'e, 'a> {
    fn new(engine: &'e Engine<'a>, name: &str) -> Run<'e, 'a> {
        Run {
            engine,
            mapper: Mapper::new(engine),
            verdicts: HashMap::new(),
            names: Interner::default(),
            would_drop: HashMap::new(),
            would_allow: HashMap::new(),
            not_evaluated: Vec::new(),
            report: ObservedReport {
                file: name.to_owned(),
                ..ObservedReport::default()
            },
        }
    }

    fn malformed(&mut self, line: u64, error: String) {
        self.report.malformed += 1;
        if self.report.malformed_lines.len() < MAX_MALFORMED_LISTED {
            self.report.malformed_lines.push(Malformed { line, error });
        }
    }

    fn skip_verdict(&mut self, what: String) {
        *self.report.skipped_verdicts.entry(what).or_default() += 1;
    }

    fn not_evaluated(&mut self, number: u64, u: Unmapped) {
        match self.not_evaluated.iter_mut().find(|n| n.reason == u.reason) {
            Some(n) => n.count += 1,
            None => self.not_evaluated.push(NotEvaluated {
                reason: u.reason,
                count: 1,
                first_line: number,
                example: u.example,
            }),
        }
    }

    fn line(&mut self, number: u64, l: &line::Line) {
        let Some(flow) = &l.flow else {
            self.report.other_events += 1;
            return;
        };
        self.report.flows += 1;
        if flow.is_reply == Some(true) {
            self.report.replies_skipped += 1;
            return;
        }
        let class = match classify(flow) {
            Ok(c) => c,
            Err(what) => return self.skip_verdict(what),
        };
        let node = flow.node_name.as_deref().or(l.node_name.as_deref());
        let time = flow.time.as_deref().or(l.time.as_deref());
        let Some((proto, port)) = l4_of(flow) else {
            return self.not_evaluated(
                number,
                Unmapped {
                    reason: "no TCP, UDP, SCTP or ICMP layer 4 in the flow",
                    example: String::new(),
                },
            );
        };
        let (Some(src), Some(dst)) = (&flow.source, &flow.destination) else {
            return self.not_evaluated(
                number,
                Unmapped {
                    reason: "flow without source or destination",
                    example: String::new(),
                },
            );
        };
        let ip = flow.ip.as_ref();
        let src_ip = ip.and_then(|i| i.source.as_deref()).and_then(parse_ip);
        let dst_ip = ip.and_then(|i| i.destination.as_deref()).and_then(parse_ip);
        if self.mapper.full() {
            self.mapper.clear();
            self.verdicts.clear();
        }
        let s = match self.mapper.map(src, src_ip, node) {
            Ok(i) => i,
            Err(u) => return self.not_evaluated(number, u),
        };
        let d = match self.mapper.map(dst, dst_ip, node) {
            Ok(i) => i,
            Err(u) => return self.not_evaluated(number, u),
        };
        self.report.evaluated += 1;
        let allowed = self.allowed(s, d, proto, port);
        let map = match (class, allowed) {
            (Class::Passed, false) => &mut self.would_drop,
            (Class::Dropped, true) => &mut self.would_allow,
            _ => return,
        };
        let key = Key {
            names: [
                self.names.id(&namespace_of(src, &self.mapper.endpoints[s])),
                self.names.id(&workload_of(src, &self.mapper.endpoints[s])),
                self.names.id(&namespace_of(dst, &self.mapper.endpoints[d])),
                self.names.id(&workload_of(dst, &self.mapper.endpoints[d])),
            ],
            proto,
            port,
        };
        if map.len() >= MAX_GROUPS && !map.contains_key(&key) {
            self.report.groups_capped += 1;
            return;
        }
        let stats = match map.entry(key) {
            Entry::Occupied(o) => o.into_mut(),
            Entry::Vacant(v) => {
                // Explained once per group: the text is long, the verdict alone is memoised.
                let (src, dst) = (&self.mapper.endpoints[s], &self.mapper.endpoints[d]);
                let why = self
                    .engine
                    .flow(src, dst, protocol(proto), port)
                    .explanation();
                v.insert(Stats {
                    count: 0,
                    first: None,
                    last: None,
                    first_line: number,
                    explanation: why.into(),
                })
            }
        };
        report::record(stats, time);
    }

    fn allowed(&mut self, s: usize, d: usize, proto: u8, port: u16) -> bool {
        if let Some(&v) = self.verdicts.get(&(s, d, proto, port)) {
            return v;
        }
        if self.verdicts.len() >= VERDICT_LIMIT {
            self.verdicts.clear();
        }
        let (src, dst) = (&self.mapper.endpoints[s], &self.mapper.endpoints[d]);
        let allowed = self.engine.flow(src, dst, protocol(proto), port).allowed;
        self.verdicts.insert((s, d, proto, port), allowed);
        allowed
    }

    fn finish(mut self) -> ObservedReport {
        self.report.would_drop = report::to_groups(self.would_drop, &self.names);
        self.report.would_allow = report::to_groups(self.would_allow, &self.names);
        self.not_evaluated
            .sort_by_key(|n| std::cmp::Reverse(n.count));
        self.report.not_evaluated = self.not_evaluated;
        self.report
    }
}

/// Cilium's drop reasons that are policy decisions (flow.proto `DropReason`).
const POLICY_DROPS: [(&str, u32); 2] = [("POLICY_DENIED", 133), ("POLICY_DENY", 181)];

fn classify(flow: &Flow) -> Result<Class, String> {
    let verdict = flow.verdict.as_deref().unwrap_or("(none)");
    match verdict {
        // AUDIT: policy would have dropped it but audit mode let it through; it happened.
        "FORWARDED" | "AUDIT" | "REDIRECTED" => Ok(Class::Passed),
        "DROPPED" => {
            let by_policy = match (flow.drop_reason_desc.as_deref(), flow.drop_reason) {
                (Some(desc), _) => POLICY_DROPS.iter().any(|p| p.0 == desc),
                (None, Some(code)) => POLICY_DROPS.iter().any(|p| p.1 == code),
                (None, None) => return Err("DROPPED (no drop reason given)".into()),
            };
            if by_policy {
                Ok(Class::Dropped)
            } else {
                let why = flow
                    .drop_reason_desc
                    .as_deref()
                    .map(str::to_owned)
                    .or(flow.drop_reason.map(|c| c.to_string()))
                    .unwrap_or_default();
                Err(format!("DROPPED ({why}, not by policy)"))
            }
        }
        other => Err(other.to_owned()),
    }
}

fn l4_of(flow: &Flow) -> Option<(u8, u16)> {
    let l4 = flow.l4.as_ref()?;
    let port = |p: &line::Ports| p.destination_port.and_then(|v| u16::try_from(v).ok());
    let icmp = |i: &line::Icmp| i.icmp_type.and_then(|v| u16::try_from(v).ok());
    if let Some(p) = &l4.tcp {
        return Some((0, port(p)?));
    }
    if let Some(p) = &l4.udp {
        return Some((1, port(p)?));
    }
    if let Some(p) = &l4.sctp {
        return Some((2, port(p)?));
    }
    if let Some(i) = &l4.icmpv4 {
        return Some((3, icmp(i).unwrap_or(0)));
    }
    if let Some(i) = &l4.icmpv6 {
        return Some((4, icmp(i).unwrap_or(0)));
    }
    None
}

fn parse_ip(s: &str) -> Option<IpAddr> {
    s.parse().ok()
}

fn namespace_of(ep: &Ep, mapped: &crate::engine::Endpoint) -> String {
    match mapped.kind {
        EpKind::Pod => ep
            .namespace
            .as_deref()
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .or(mapped.namespace.clone())
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// Labels that name a workload, most specific first.
const WORKLOAD_LABELS: [&str; 4] = ["app.kubernetes.io/name", "app", "k8s-app", "component"];

/// A workload name: Hubble's own `workloads`, then the usual labels, then the pod name.
/// Nodes by node name; every outside address is `world` (one group, not one per address).
fn workload_of(ep: &Ep, mapped: &crate::engine::Endpoint) -> String {
    match mapped.kind {
        EpKind::Host => return mapped.name.clone(),
        EpKind::World => return "world".into(),
        EpKind::Health => return "health".into(),
        EpKind::Pod => {}
    }
    if let Some(w) = ep.workloads.iter().find_map(|w| w.name.as_deref()) {
        return w.to_owned();
    }
    for key in WORKLOAD_LABELS {
        for l in &ep.labels {
            let Some((_, kv)) = l.split_once(':') else {
                continue;
            };
            if let Some(v) = kv.strip_prefix(key).and_then(|r| r.strip_prefix('=')) {
                return v.to_owned();
            }
        }
    }
    ep.pod_name
        .as_deref()
        .filter(|n| !n.is_empty())
        .map_or_else(|| mapped.name.clone(), str::to_owned)
}
