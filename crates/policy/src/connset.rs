//! Sets of (protocol, port) as disjoint sorted ranges, with the np-guard text form
//! (`All Connections`, `TCP 80,8000-8080,UDP 53`).

use crate::model::Protocol;

/// Sorted, merged, inclusive port ranges within 1-65535.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct PortSet(Vec<(u16, u16)>);

impl PortSet {
    pub fn all() -> PortSet {
        PortSet(vec![(1, u16::MAX)])
    }

    pub fn range(lo: u16, hi: u16) -> PortSet {
        let lo = lo.max(1);
        if hi < lo {
            return PortSet::default();
        }
        PortSet(vec![(lo, hi)])
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn is_all(&self) -> bool {
        self.0 == [(1, u16::MAX)]
    }

    pub fn contains(&self, port: u16) -> bool {
        self.0.iter().any(|&(a, b)| a <= port && port <= b)
    }

    pub fn union(&mut self, other: &PortSet) {
        if other.0.is_empty() {
            return;
        }
        let mut all: Vec<(u16, u16)> = self.0.iter().chain(other.0.iter()).copied().collect();
        all.sort_unstable();
        let mut out: Vec<(u16, u16)> = Vec::with_capacity(all.len());
        for (a, b) in all {
            match out.last_mut() {
                Some(last) if u32::from(a) <= u32::from(last.1) + 1 => last.1 = last.1.max(b),
                _ => out.push((a, b)),
            }
        }
        self.0 = out;
    }

    pub fn intersect(&self, other: &PortSet) -> PortSet {
        let mut out = Vec::new();
        let (mut i, mut j) = (0, 0);
        while i < self.0.len() && j < other.0.len() {
            let (a1, b1) = self.0[i];
            let (a2, b2) = other.0[j];
            let lo = a1.max(a2);
            let hi = b1.min(b2);
            if lo <= hi {
                out.push((lo, hi));
            }
            if b1 < b2 {
                i += 1;
            } else {
                j += 1;
            }
        }
        PortSet(out)
    }

    fn render(&self) -> String {
        self.0
            .iter()
            .map(|&(a, b)| {
                if a == b {
                    a.to_string()
                } else {
                    format!("{a}-{b}")
                }
            })
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Allowed connections between two peers: TCP, UDP and SCTP port sets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ConnSet {
    pub tcp: PortSet,
    pub udp: PortSet,
    pub sctp: PortSet,
}

impl ConnSet {
    pub fn all() -> ConnSet {
        ConnSet {
            tcp: PortSet::all(),
            udp: PortSet::all(),
            sctp: PortSet::all(),
        }
    }

    pub fn none() -> ConnSet {
        ConnSet::default()
    }

    /// The set for one written protocol (ANY expands, C10) and port range.
    pub fn of(protocol: Protocol, ports: PortSet) -> ConnSet {
        let mut c = ConnSet::none();
        for p in protocol.expand() {
            if let Some(slot) = c.slot_mut(*p) {
                slot.union(&ports);
            }
        }
        c
    }

    fn slot_mut(&mut self, p: Protocol) -> Option<&mut PortSet> {
        match p {
            Protocol::Tcp => Some(&mut self.tcp),
            Protocol::Udp => Some(&mut self.udp),
            Protocol::Sctp => Some(&mut self.sctp),
            _ => None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.tcp.is_empty() && self.udp.is_empty() && self.sctp.is_empty()
    }

    pub fn is_all(&self) -> bool {
        self.tcp.is_all() && self.udp.is_all() && self.sctp.is_all()
    }

    pub fn union(&mut self, other: &ConnSet) {
        self.tcp.union(&other.tcp);
        self.udp.union(&other.udp);
        self.sctp.union(&other.sctp);
    }

    pub fn intersect(&self, other: &ConnSet) -> ConnSet {
        ConnSet {
            tcp: self.tcp.intersect(&other.tcp),
            udp: self.udp.intersect(&other.udp),
            sctp: self.sctp.intersect(&other.sctp),
        }
    }

    /// np-guard text form.
    pub fn render(&self) -> String {
        if self.is_all() {
            return "All Connections".to_owned();
        }
        if self.is_empty() {
            return "No Connections".to_owned();
        }
        let mut parts = Vec::new();
        for (name, set) in [("TCP", &self.tcp), ("UDP", &self.udp), ("SCTP", &self.sctp)] {
            if set.is_all() {
                parts.push(name.to_owned());
            } else if !set.is_empty() {
                parts.push(format!("{name} {}", set.render()));
            }
        }
        parts.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_merges_adjacent_and_renders_like_np_guard() {
        let mut c = ConnSet::of(Protocol::Tcp, PortSet::range(10053, 10053));
        c.union(&ConnSet::of(Protocol::Tcp, PortSet::range(10054, 10054)));
        c.union(&ConnSet::of(Protocol::Udp, PortSet::range(10053, 10053)));
        assert_eq!(c.render(), "TCP 10053-10054,UDP 10053");
        assert_eq!(
            ConnSet::of(Protocol::Any, PortSet::all()).render(),
            "All Connections"
        );
    }

    #[test]
    fn intersect_ranges() {
        let a = ConnSet::of(Protocol::Tcp, PortSet::range(80, 90));
        let b = ConnSet::of(Protocol::Any, PortSet::range(85, 100));
        assert_eq!(a.intersect(&b).render(), "TCP 85-90");
        assert!(
            a.intersect(&ConnSet::of(Protocol::Udp, PortSet::all()))
                .is_empty()
        );
    }
}
