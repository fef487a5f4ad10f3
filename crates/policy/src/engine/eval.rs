//! Verdicts. Per direction: enforcement and default deny (C2, C3, C13, C14, K1), deny before
//! allow (C4.2); per flow: both ends must allow (C4.1). Every verdict says why.

use serde::Serialize;

use super::Engine;
use super::compile::{CPeer, EntrySubject, L3, L4};
pub use super::endpoint::entity_matches;
use super::endpoint::{Endpoint, EpKind};
use super::fqdn::{self, Learned};
use super::l7::l7_note;
use crate::inventory::EnforcementMode;
use crate::model::{Direction, PortSpec, Protocol};

#[derive(Debug, Clone, Serialize)]
pub struct DirVerdict {
    pub direction: Direction,
    pub allowed: bool,
    /// Policy is enforced on the subject in this direction.
    pub enforced: bool,
    pub default_deny: bool,
    /// Policies that select the subject in this direction.
    pub selected_by: Vec<String>,
    /// The rule that decided (`policy path (file:line)`), if one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(skip)]
    pub entry: Option<usize>,
    pub reason: String,
    /// Rule numbers of policy-semantics.md behind this verdict.
    pub cites: Vec<&'static str>,
    /// An allow that carries L7 rules: requests may still be refused at L7 (C11).
    pub l7: bool,
    /// Denied here, but a toFQDNs rule on this port may allow the address at runtime: the
    /// flow names no DNS name to judge it by (C12).
    pub depends_on_dns: bool,
    /// The verdict depends on peers known only at runtime (cloud provider groups, CIDR
    /// groups): the reason says which rule and what would change it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unresolved: bool,
    /// Policies that would select the subject here but that the Cilium agent refuses (C7.7).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refused_policies: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FlowVerdict {
    pub allowed: bool,
    pub egress: DirVerdict,
    pub ingress: DirVerdict,
}

impl FlowVerdict {
    /// One paragraph: the deciding side first.
    pub fn explanation(&self) -> String {
        let (first, second) = if !self.ingress.allowed {
            (&self.ingress, &self.egress)
        } else {
            (&self.egress, &self.ingress)
        };
        let mut s = format!("{} {}", side(first), first.reason);
        if second.enforced || !second.allowed || !second.refused_policies.is_empty() {
            s.push_str(&format!(" Also, {} {}", side(second), second.reason));
        }
        s
    }
}

fn side(v: &DirVerdict) -> &'static str {
    match v.direction {
        Direction::Ingress => "[ingress at destination]",
        Direction::Egress => "[egress at source]",
    }
}

fn verdict(
    direction: Direction,
    allowed: bool,
    reason: String,
    cites: &[&'static str],
) -> DirVerdict {
    DirVerdict {
        direction,
        allowed,
        enforced: false,
        default_deny: false,
        selected_by: Vec::new(),
        rule: None,
        entry: None,
        reason,
        cites: cites.to_vec(),
        l7: false,
        depends_on_dns: false,
        unresolved: false,
        refused_policies: Vec::new(),
    }
}

/// Whether an entry's subject selects endpoint `e` (host firewall not considered here).
fn entry_selects(entry: &super::Entry, e: &Endpoint) -> bool {
    match (&entry.subject, e.kind) {
        (EntrySubject::Endpoints(sel), EpKind::Pod) => sel.matches(&e.labels),
        // C7.5: a CCNP endpointSelector also selects health endpoints.
        (EntrySubject::Endpoints(sel), EpKind::Health) => {
            entry.namespace.is_none() && sel.matches(&e.labels)
        }
        (EntrySubject::Nodes(sel), EpKind::Host) => sel.matches(&e.labels),
        _ => false,
    }
}

impl Engine<'_> {
    /// Whether entry `i`'s subject selects endpoint `e` (host firewall not considered here).
    pub fn selects(&self, i: usize, e: &Endpoint) -> bool {
        self.entries
            .get(i)
            .is_some_and(|entry| entry_selects(entry, e))
    }

    fn peer_matches(&self, peer: &CPeer, subject: &Endpoint, p: &Endpoint) -> bool {
        let observer = subject.node.as_deref();
        let cfg = &self.inv.cilium;
        match peer {
            CPeer::Sel(sel) => sel.matches(&p.peer_labels(observer, cfg.node_selector_labels)),
            CPeer::Entity(e) => entity_matches(*e, p, observer),
            CPeer::Cidr(c) => {
                // C9: CIDRs match only peers without a label identity, plus node IPs in
                // `policy-cidr-match-mode: nodes`.
                let eligible =
                    p.kind == EpKind::World || (cfg.cidr_match_nodes && p.kind == EpKind::Host);
                eligible
                    && p.ip.is_some_and(|ip| {
                        c.cidr.contains(&ip) && !c.except.iter().any(|x| x.contains(&ip))
                    })
            }
            CPeer::Nodes(sel) => {
                // C7.7: remote nodes only, and only with node-selector labels enabled.
                p.kind == EpKind::Host
                    && !p.is_local_host_of(observer)
                    && cfg.node_selector_labels
                    && sel.matches(&p.labels)
            }
            CPeer::Service {
                name,
                namespace,
                selector,
            } => {
                let Some(pi) = p.pod else { return false };
                let Some(pod) = self.inv.pods.get(pi) else {
                    return false;
                };
                self.inv.services.iter().any(|s| {
                    namespace.as_deref().is_none_or(|n| n == s.namespace)
                        && name.as_deref().is_none_or(|n| n == s.name)
                        && selector.as_ref().is_none_or(|sel| sel.matches(&s.labels))
                        && self
                            .inv
                            .backends(s)
                            .any(|b| b.namespace == pod.namespace && b.name == pod.name)
                })
            }
            // C12: the address is one of the name's only if the user says so, and the name's
            // answers are learned only through a DNS rule of the subject.
            CPeer::Fqdn(sel) => {
                p.kind == EpKind::World
                    && p.fqdn.as_deref().is_some_and(|n| {
                        fqdn::selector_matches(sel, n)
                            && self.fqdn_learned(subject, n) == Learned::Yes
                    })
            }
            // Known only at runtime: never matched here; verdicts say so (`note_unresolved`).
            CPeer::Unresolved(_) => false,
        }
    }

    fn l3_matches(&self, l3: &L3, subject: &Endpoint, p: &Endpoint) -> bool {
        match l3 {
            L3::Any => true,
            L3::Nothing => false,
            L3::Peers(peers) => peers.iter().any(|x| self.peer_matches(x, subject, p)),
        }
    }

    pub(super) fn l4_matches(
        &self,
        l4: &L4,
        proto: Protocol,
        port: u16,
        dst: &Endpoint,
    ) -> (bool, bool) {
        match l4 {
            L4::Any => (true, false),
            L4::Ports(ports) => {
                for (pp, l7) in ports {
                    if !pp.protocol.expand().contains(&proto) {
                        continue;
                    }
                    let hit = match &pp.port {
                        PortSpec::All => true,
                        PortSpec::Number(p) => {
                            *p <= port && port <= pp.end_port.unwrap_or(*p).max(*p)
                        }
                        PortSpec::Named(n) => {
                            dst.pod
                                .and_then(|i| self.inv.pods.get(i))
                                .and_then(|pod| pod.named_port(n, proto))
                                == Some(port)
                        }
                    };
                    if hit {
                        return (true, l7.is_some());
                    }
                }
                (false, false)
            }
            L4::Icmp(fields) => {
                // A field is of one family: IPv4 types for ICMP, IPv6 types for ICMPv6 (C10).
                let hit = fields.iter().any(|f| {
                    let v6 = f.family == "IPv6";
                    let family_ok = match proto {
                        Protocol::Icmp => !v6,
                        Protocol::IcmpV6 => v6,
                        _ => false,
                    };
                    family_ok && icmp_type(&f.icmp_type, v6) == Some(port)
                });
                (hit, false)
            }
        }
    }

    /// Verdict for `subject` in direction `d` toward `peer` (C2, C3, C4.2, C13, C14), with what
    /// it could not count: policies the agent refuses, peers known only at runtime.
    pub fn direction(
        &self,
        subject: &Endpoint,
        d: Direction,
        peer: &Endpoint,
        proto: Protocol,
        port: u16,
        dst: &Endpoint,
    ) -> DirVerdict {
        let mut v = self.decide(subject, d, peer, proto, port, dst);
        if v.enforced {
            self.note_unresolved(&mut v, subject, d, peer, proto, port, dst);
            self.note_requires(&mut v, subject, d);
        }
        self.note_refused(&mut v, subject, d);
        v
    }

    fn decide(
        &self,
        subject: &Endpoint,
        d: Direction,
        peer: &Endpoint,
        proto: Protocol,
        port: u16,
        dst: &Endpoint,
    ) -> DirVerdict {
        if let Some(v) = self.unenforced(subject, d) {
            return v;
        }
        let selecting: Vec<usize> = self.entries_for(subject, d);
        let cfg = &self.inv.cilium;
        let always = cfg.enforcement == EnforcementMode::Always;
        let selected_by = self.policies_of(&selecting, |_| true);
        if selecting.is_empty() && !always {
            let mut v = verdict(
                d,
                true,
                format!(
                    "no policy selects {} for {} (not enforced).",
                    subject.name,
                    d.as_str()
                ),
                &["C2.2", "K1"],
            );
            v.selected_by = selected_by;
            return v;
        }
        let dd_sources = self.policies_of(&selecting, |i| self.entries[i].default_deny);
        let default_deny = always || !dd_sources.is_empty();
        let mut base = verdict(d, true, String::new(), &[]);
        base.enforced = true;
        base.default_deny = default_deny;
        base.selected_by = selected_by;
        let flow = Asked {
            subject,
            peer,
            proto,
            port,
            dst,
        };
        // C4.2: deny first, whichever resource carries it.
        if let Some(i) = self.first_deny(&selecting, &flow) {
            return self.audit(self.denied_by_rule(base, i, &flow));
        }
        if let Some(v) = self.localhost(&mut base, &flow) {
            return v;
        }
        if let Some(v) = self.allowed_by_rule(&mut base, &selecting, &flow) {
            return v;
        }
        if default_deny {
            return self.audit(self.default_denied(base, &selecting, &dd_sources, &flow));
        }
        base.reason = format!(
            "only policies with enableDefaultDeny.{}: false select {}; the allow-all baseline applies.",
            d.as_str(),
            subject.name
        );
        base.cites = vec!["C2.5", "C2.7"];
        base
    }

    /// Directions no policy can touch: outside the cluster, enforcement `never`, a host
    /// endpoint without the host firewall (C3, C9, C13.1).
    fn unenforced(&self, subject: &Endpoint, d: Direction) -> Option<DirVerdict> {
        let cfg = &self.inv.cilium;
        if subject.kind == EpKind::World {
            let why = format!(
                "{} is outside the cluster; no policy applies there.",
                subject.name
            );
            return Some(verdict(d, true, why, &["C9"]));
        }
        if cfg.enforcement == EnforcementMode::Never {
            let why = "policy enforcement mode is `never`: nothing is enforced.".to_owned();
            return Some(verdict(d, true, why, &["C3"]));
        }
        if subject.kind == EpKind::Host && !cfg.host_firewall {
            let why = format!(
                "{} is a host endpoint and the host firewall is off, so host policies are ignored.",
                subject.name
            );
            return Some(verdict(d, true, why, &["C13.1"]));
        }
        None
    }

    /// Names of the policies of `entries` that `keep`, each once, in order.
    fn policies_of(&self, entries: &[usize], keep: impl Fn(usize) -> bool) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for &i in entries.iter().filter(|&&i| keep(i)) {
            if !out.contains(&self.entries[i].policy) {
                out.push(self.entries[i].policy.clone());
            }
        }
        out
    }

    fn rule_name(&self, i: usize) -> String {
        let e = &self.entries[i];
        format!("{} {} ({})", e.policy, e.path, e.location)
    }

    /// The first deny entry that matches the flow.
    fn first_deny(&self, selecting: &[usize], f: &Asked) -> Option<usize> {
        selecting.iter().copied().find(|&i| {
            let e = &self.entries[i];
            e.deny
                && self.l3_matches(&e.l3, f.subject, f.peer)
                && self.l4_matches(&e.l4, f.proto, f.port, f.dst).0
        })
    }

    fn denied_by_rule(&self, mut base: DirVerdict, i: usize, f: &Asked) -> DirVerdict {
        base.allowed = false;
        base.entry = Some(i);
        base.rule = Some(self.rule_name(i));
        base.reason = format!(
            "{} is denied by {}; deny wins over any allow.",
            f.what(),
            self.rule_name(i)
        );
        base.cites = vec!["C4.2"];
        base
    }

    /// C14: the local host may always reach local pods at pod ingress.
    fn localhost(&self, base: &mut DirVerdict, f: &Asked) -> Option<DirVerdict> {
        let cfg = &self.inv.cilium;
        let applies = base.direction == Direction::Ingress
            && f.subject.kind == EpKind::Pod
            && cfg.allow_localhost_always
            && f.peer.is_local_host_of(f.subject.node.as_deref());
        if !applies {
            return None;
        }
        base.reason = format!(
            "{} is the pod's own node; allow-localhost lets it in.",
            f.peer.name
        );
        base.cites = vec!["C14"];
        Some(base.clone())
    }

    /// C11: an allow without L7 for this port and peer overrides L7 rules on it; only when
    /// every matching allow carries L7 is the flow L7-filtered.
    fn allowed_by_rule(
        &self,
        base: &mut DirVerdict,
        selecting: &[usize],
        f: &Asked,
    ) -> Option<DirVerdict> {
        let (mut plain, mut with_l7) = (None, None);
        for &i in selecting {
            let e = &self.entries[i];
            if e.deny || !self.l3_matches(&e.l3, f.subject, f.peer) {
                continue;
            }
            match self.l4_matches(&e.l4, f.proto, f.port, f.dst) {
                (true, false) => {
                    plain = Some(i);
                    break;
                }
                (true, true) => {
                    with_l7.get_or_insert(i);
                }
                _ => {}
            }
        }
        let i = plain.or(with_l7)?;
        base.entry = Some(i);
        base.rule = Some(self.rule_name(i));
        base.reason = format!("{} is allowed by {}.", f.what(), self.rule_name(i));
        base.cites = vec!["C5.1", "K5"];
        if plain.is_none() {
            l7_note(base, base.default_deny, self.inv.cilium.at_least(1, 18));
        }
        Some(base.clone())
    }

    /// C2.4, C2.6: selected, default-deny, and no rule allows the flow.
    fn default_denied(
        &self,
        mut base: DirVerdict,
        selecting: &[usize],
        dd_sources: &[String],
        f: &Asked,
    ) -> DirVerdict {
        let d = base.direction;
        base.allowed = false;
        let why = if dd_sources.is_empty() {
            "policy enforcement mode `always` makes every endpoint default-deny".to_owned()
        } else {
            format!(
                "{} {} it, which puts its {} into default-deny",
                dd_sources
                    .iter()
                    .take(3)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
                if dd_sources.len() == 1 {
                    "selects"
                } else {
                    "select"
                },
                d.as_str()
            )
        };
        base.reason = format!(
            "{}: {why}, and no rule allows {}.",
            f.subject.name,
            f.what()
        );
        base.cites = vec!["C2.4", "C2.6"];
        if f.peer.kind == EpKind::World {
            self.fqdn_note(
                &mut base, selecting, f.subject, f.peer, f.proto, f.port, f.dst,
            );
        }
        if f.subject.kind == EpKind::Host {
            base.cites.push("C13.4");
        }
        base
    }

    /// C7.7: policies the agent refuses enforce nothing; a verdict on a subject they would
    /// select says they were not counted.
    fn note_refused(&self, v: &mut DirVerdict, subject: &Endpoint, d: Direction) {
        let mut names: Vec<String> = Vec::new();
        for e in self
            .refused
            .iter()
            .filter(|e| e.dir == d && entry_selects(e, subject))
        {
            if !names.contains(&e.policy) {
                names.push(e.policy.clone());
            }
        }
        if names.is_empty() {
            return;
        }
        v.reason.push_str(&format!(
            " Not counted: {} would select {} for {}, but it uses fromNodes/toNodes and enable-node-selector-labels is off, so the Cilium agent refuses it (set enable-node-selector-labels=true, or use fromEntities/toEntities: [remote-node]).",
            names.join(", "),
            subject.name,
            d.as_str()
        ));
        v.cites.push("C7.7");
        v.refused_policies = names;
    }

    /// C9: peers known only at runtime (cloud groups, CIDR groups) never match here. When one
    /// could change the verdict (an allow that might admit the peer, a deny that might drop
    /// it), the verdict says so instead of claiming more than it knows.
    #[allow(clippy::too_many_arguments)]
    fn note_unresolved(
        &self,
        v: &mut DirVerdict,
        subject: &Endpoint,
        d: Direction,
        peer: &Endpoint,
        proto: Protocol,
        port: u16,
        dst: &Endpoint,
    ) {
        // Groups stand for addresses: only peers a CIDR could match can be in them.
        let cfg = &self.inv.cilium;
        if !(peer.kind == EpKind::World || (cfg.cidr_match_nodes && peer.kind == EpKind::Host)) {
            return;
        }
        // A deny that decided stays; else an allow-side group may admit a denied peer, and a
        // deny-side group may drop an allowed one.
        let want_deny = v.allowed;
        if !v.allowed
            && v.entry
                .is_some_and(|i| self.entries.get(i).is_some_and(|e| e.deny))
        {
            return;
        }
        let hit = self.entries_for(subject, d).into_iter().find_map(|i| {
            let e = self.entries.get(i)?;
            if e.deny != want_deny || !self.l4_matches(&e.l4, proto, port, dst).0 {
                return None;
            }
            let L3::Peers(peers) = &e.l3 else { return None };
            peers.iter().find_map(|x| match x {
                CPeer::Unresolved(what) => Some((e, what)),
                _ => None,
            })
        });
        let Some((e, what)) = hit else { return };
        v.unresolved = true;
        v.cites.push("C9");
        let (verb, outcome) = if want_deny {
            ("denies", "denied")
        } else {
            ("allows", "allowed")
        };
        v.reason.push_str(&format!(
            " Not certain: {} {} ({}) {verb} {what}, which lifeboat cannot resolve offline; if {} is among them, the flow is {outcome}.",
            e.policy, e.path, e.location, peer.name
        ));
    }

    /// C1: `fromRequires`/`toRequires` (deprecated) narrow every allow of the endpoints their
    /// rule selects in older Cilium; they are not evaluated, so an allow says it may not hold.
    fn note_requires(&self, v: &mut DirVerdict, subject: &Endpoint, d: Direction) {
        if !v.allowed {
            return;
        }
        let Some(e) = self
            .entries_for(subject, d)
            .into_iter()
            .filter_map(|i| self.entries.get(i))
            .find(|e| e.requires)
        else {
            return;
        };
        v.unresolved = true;
        v.cites.push("C1");
        v.reason.push_str(&format!(
            " Not certain: {} {} ({}) has fromRequires/toRequires, which lifeboat does not evaluate (deprecated; older Cilium requires every peer of {} to match it too, Cilium 1.20 refuses the policy): the flow may be denied.",
            e.policy, e.path, e.location, subject.name
        ));
    }

    /// C13.6: in audit mode nothing is dropped; the verdict says what would have happened.
    fn audit(&self, mut v: DirVerdict) -> DirVerdict {
        if self.inv.cilium.audit_mode && !v.allowed {
            v.allowed = true;
            v.reason = format!(
                "policy audit mode: would be dropped, only logged. {}",
                v.reason
            );
            v.cites.push("C13.6");
        }
        v
    }

    /// A connection from `src` to `dst`: the source's egress and the destination's ingress
    /// must both allow it (C4.1).
    pub fn flow(&self, src: &Endpoint, dst: &Endpoint, proto: Protocol, port: u16) -> FlowVerdict {
        let egress = self.direction(src, Direction::Egress, dst, proto, port, dst);
        let ingress = self.direction(dst, Direction::Ingress, src, proto, port, dst);
        FlowVerdict {
            allowed: egress.allowed && ingress.allowed,
            egress,
            ingress,
        }
    }
}

/// The flow a direction is asked about.
struct Asked<'e> {
    subject: &'e Endpoint,
    peer: &'e Endpoint,
    proto: Protocol,
    port: u16,
    dst: &'e Endpoint,
}

impl Asked<'_> {
    /// `node/cp-1 TCP/2379`, as verdicts name the flow.
    fn what(&self) -> String {
        format!("{} {}/{}", self.peer.name, self.proto.as_str(), self.port)
    }
}

/// An ICMP type by number or by the CRD's name, per family (IANA ICMP and ICMPv6 tables).
fn icmp_type(t: &str, v6: bool) -> Option<u16> {
    if let Ok(n) = t.parse::<u16>() {
        return Some(n);
    }
    const V4: &[(&str, u16)] = &[
        ("EchoReply", 0),
        ("DestinationUnreachable", 3),
        ("Redirect", 5),
        ("Echo", 8),
        ("EchoRequest", 8),
        ("RouterAdvertisement", 9),
        ("RouterSelection", 10),
        ("TimeExceeded", 11),
        ("ParameterProblem", 12),
        ("Timestamp", 13),
        ("TimestampReply", 14),
        ("Photuris", 40),
        ("ExtendedEchoRequest", 42),
        ("ExtendedEchoReply", 43),
    ];
    const V6: &[(&str, u16)] = &[
        ("DestinationUnreachable", 1),
        ("PacketTooBig", 2),
        ("TimeExceeded", 3),
        ("ParameterProblem", 4),
        ("EchoRequest", 128),
        ("EchoReply", 129),
        ("MulticastListenerQuery", 130),
        ("MulticastListenerReport", 131),
        ("MulticastListenerDone", 132),
        ("RouterSolicitation", 133),
        ("RouterAdvertisement", 134),
        ("NeighborSolicitation", 135),
        ("NeighborAdvertisement", 136),
        ("RedirectMessage", 137),
        ("RouterRenumbering", 138),
        ("ICMPNodeInformationQuery", 139),
        ("ICMPNodeInformationResponse", 140),
        ("InverseNeighborDiscoverySolicitation", 141),
        ("InverseNeighborDiscoveryAdvertisement", 142),
        ("HomeAgentAddressDiscoveryRequest", 144),
        ("HomeAgentAddressDiscoveryReply", 145),
        ("MobilePrefixSolicitation", 146),
        ("MobilePrefixAdvertisement", 147),
        ("DuplicateAddressRequestCodeSuffix", 157),
        ("DuplicateAddressConfirmationCodeSuffix", 158),
        ("ExtendedEchoRequest", 160),
        ("ExtendedEchoReply", 161),
    ];
    let table = if v6 { V6 } else { V4 };
    table.iter().find(|(name, _)| *name == t).map(|(_, n)| *n)
}
