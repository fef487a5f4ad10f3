//! toFQDNs (C12), evaluated as far as it can be offline. A toFQDNs selector matches the IPs
//! that DNS answers for a matching name returned *through Cilium's DNS proxy*; which IPs those
//! are is only known at runtime. So a flow to an address is judged only when the user says
//! which name it is (`fqdn:` in `--flows`): the name must match the selector, and the subject
//! must have an egress L7 DNS rule whose patterns cover the name (else nothing is learned), with
//! the L7 proxy enabled.

use super::Engine;
use super::compile::{CPeer, L3};
use super::endpoint::Endpoint;
use super::eval::DirVerdict;
use crate::model::{Direction, FqdnSelector, Protocol};

/// DNS names compare case-insensitively, without the trailing root dot.
fn norm(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// C12 `matchPattern`: `*` alone matches every name; elsewhere `*` matches any characters
/// within one label (never a dot).
pub fn pattern_matches(pattern: &str, name: &str) -> bool {
    let (p, n) = (norm(pattern), norm(name));
    if p == "*" {
        return true;
    }
    glob(p.as_bytes(), n.as_bytes())
}

fn glob(p: &[u8], n: &[u8]) -> bool {
    match p.split_first() {
        None => n.is_empty(),
        Some((b'*', rest)) => {
            // Try every split that keeps the starred part inside one label.
            (0..=n.len())
                .take_while(|&k| k == 0 || n[k - 1] != b'.')
                .any(|k| glob(rest, &n[k..]))
        }
        Some((c, rest)) => n.first() == Some(c) && glob(rest, &n[1..]),
    }
}

/// Whether a toFQDNs selector names `name` (`matchName` exact, `matchPattern` glob).
pub fn selector_matches(sel: &FqdnSelector, name: &str) -> bool {
    match sel {
        FqdnSelector::Name(n) => norm(n) == norm(name),
        FqdnSelector::Pattern(p) => pattern_matches(p, name),
    }
}

/// Why a name the user gave is (not) learned for `subject`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Learned {
    Yes,
    /// `enable-l7-proxy` is off: no DNS proxy, nothing learned.
    NoProxy,
    /// No egress DNS rule of the subject covers the name.
    NoDnsRule,
}

impl Engine<'_> {
    /// C12: why a toFQDNs rule on this port did not allow an outside address.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn fqdn_note(
        &self,
        v: &mut DirVerdict,
        selecting: &[usize],
        subject: &Endpoint,
        peer: &Endpoint,
        proto: Protocol,
        port: u16,
        dst: &Endpoint,
    ) {
        let fqdn_entries: Vec<(usize, &FqdnSelector)> = selecting
            .iter()
            .filter(|&&i| {
                !self.entries[i].deny && self.l4_matches(&self.entries[i].l4, proto, port, dst).0
            })
            .flat_map(|&i| match &self.entries[i].l3 {
                L3::Peers(ps) => ps
                    .iter()
                    .filter_map(|x| match x {
                        CPeer::Fqdn(s) => Some((i, s)),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            })
            .collect();
        let Some(&(first, _)) = fqdn_entries.first() else {
            return;
        };
        let rule = |i: usize| {
            let e = &self.entries[i];
            format!("{} {} ({})", e.policy, e.path, e.location)
        };
        v.cites.push("C12");
        let Some(name) = peer.fqdn.as_deref() else {
            v.depends_on_dns = true;
            v.reason.push_str(&format!(
                " It depends on DNS: the toFQDNs rule {} allows the addresses DNS answers for its names through Cilium's proxy, known only at runtime; say which name {} is (`fqdn:` in --flows) to evaluate it.",
                rule(first),
                peer.ip.map(|i| i.to_string()).unwrap_or_else(|| peer.name.clone())
            ));
            return;
        };
        match fqdn_entries.iter().find(|(_, s)| selector_matches(s, name)) {
            None => v.reason.push_str(&format!(
                " {name} matches no toFQDNs selector on this port (matchName is exact; `*` in matchPattern stays within one label)."
            )),
            Some(&(i, _)) => {
                let why = match self.fqdn_learned(subject, name) {
                    Learned::NoProxy => "the L7 proxy is disabled (enable-l7-proxy), so no DNS answer is seen".to_owned(),
                    _ => format!("no egress DNS rule (toPorts rules.dns) of {} covers {name}, so its answers are never learned", subject.name),
                };
                v.reason.push_str(&format!(
                    " {name} matches the toFQDNs rule {}, but {why}.",
                    rule(i)
                ));
            }
        }
    }

    /// C12: DNS answers for `name` reach the FQDN cache only through an egress L7 DNS rule
    /// of the subject whose patterns cover the name (whether that rule sits on the path to
    /// the resolver is not checked here).
    pub fn fqdn_learned(&self, subject: &Endpoint, name: &str) -> Learned {
        if !self.inv.cilium.l7_proxy {
            return Learned::NoProxy;
        }
        let covered = self
            .entries_for(subject, Direction::Egress)
            .into_iter()
            .map(|i| &self.entries[i])
            .filter(|e| !e.deny)
            .any(|e| e.dns_patterns.iter().any(|p| pattern_matches(p, name)));
        if covered {
            Learned::Yes
        } else {
            Learned::NoDnsRule
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_c12() {
        // (pattern, name, matches)
        for (p, n, want) in [
            ("*", "anything.example.com", true),
            ("*.example.com", "api.example.com", true),
            ("*.example.com", "a.b.example.com", false),
            ("*.example.com", "example.com", false),
            ("api-*.example.com", "api-eu.example.com.", true),
            ("API.example.com", "api.EXAMPLE.com", true),
            ("api.example.com", "api.example.org", false),
        ] {
            assert_eq!(pattern_matches(p, n), want, "{p} vs {n}");
        }
    }
}
