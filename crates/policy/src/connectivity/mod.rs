//! Full connectivity listing for Kubernetes NetworkPolicies (K1-K7), in np-guard's line
//! format: `src[Kind] => dst[Kind] : <connections>`.
//!
//! Pure Kubernetes semantics, as np-guard computes them: pods are peers by labels (hostNetwork
//! pods included), the outside world is split into IPv4 ranges at every ipBlock boundary.
//! Pods with equal namespace, labels and container ports behave alike, so the work is done
//! per such class and then spread over workloads.
//!
//! [`cilium`]: the same listing under Cilium semantics, for CNP/CCNP (and KNPs beside them).

pub mod cilium;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use ipnet::IpNet;
use serde::Serialize;

use crate::connset::{ConnSet, PortSet};
use crate::inventory::{Inventory, Pod};
use crate::model::{Direction, KnpPeer, KnpRule, NetworkPolicy, PortProtocol, PortSpec};

/// One allowed connection between two displayed peers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Connection {
    pub src: String,
    pub dst: String,
    pub conn: String,
}

impl Connection {
    pub fn line(&self) -> String {
        format!("{} => {} : {}", self.src, self.dst, self.conn)
    }
}

/// Display name of a pod: its owning workload, or itself (static pods owned by a Node too).
pub fn display_name(p: &Pod) -> String {
    match &p.owner {
        Some(o) if o.kind != "Node" => {
            let kind = if o.kind.is_empty() {
                "Pod"
            } else {
                o.kind.as_str()
            };
            format!("{}/{}[{}]", p.namespace, o.name, kind)
        }
        _ => format!("{}/{}[Pod]", p.namespace, p.name),
    }
}

/// An IPv4 range of the outside world, `[lo, hi]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Atom {
    lo: u32,
    hi: u32,
}

impl Atom {
    fn name(&self) -> String {
        format!(
            "{}-{}[External]",
            Ipv4Addr::from(self.lo),
            Ipv4Addr::from(self.hi)
        )
    }
}

fn v4_bounds(net: &IpNet) -> Option<(u32, u32)> {
    match (net.network(), net.broadcast()) {
        (IpAddr::V4(a), IpAddr::V4(b)) => Some((u32::from(a), u32::from(b))),
        _ => None,
    }
}

/// The outside world for direction `d`, as np-guard splits it: the disjoint decomposition of
/// every ipBlock (cidr minus except) of that direction and the whole IPv4 space, each part
/// shown as its contiguous ranges.
fn atoms(policies: &[Arc<NetworkPolicy>], d: Direction) -> Vec<Atom> {
    let mut blocks: Vec<(&IpNet, &[IpNet])> = Vec::new();
    let mut cuts: BTreeSet<u64> = BTreeSet::new();
    cuts.insert(0);
    cuts.insert(1u64 << 32);
    for p in policies {
        for r in p.rules(d) {
            for peer in &r.peers {
                if let KnpPeer::IpBlock { cidr, except } = peer {
                    blocks.push((cidr, except));
                    for net in std::iter::once(cidr).chain(except.iter()) {
                        if let Some((lo, hi)) = v4_bounds(net) {
                            cuts.insert(u64::from(lo));
                            cuts.insert(u64::from(hi) + 1);
                        }
                    }
                }
            }
        }
    }
    let cuts: Vec<u64> = cuts.into_iter().collect();
    let mut out: Vec<(Atom, Vec<bool>)> = Vec::new();
    for w in cuts.windows(2) {
        let (Ok(lo), Ok(hi)) = (u32::try_from(w[0]), u32::try_from(w[1] - 1)) else {
            continue;
        };
        let atom = Atom { lo, hi };
        let sig: Vec<bool> = blocks
            .iter()
            .map(|(c, e)| ipblock_contains(c, e, &atom))
            .collect();
        // Adjacent pieces that belong to exactly the same blocks are one range.
        match out.last_mut() {
            Some((last, last_sig)) if *last_sig == sig => last.hi = hi,
            _ => out.push((atom, sig)),
        }
    }
    out.into_iter().map(|(a, _)| a).collect()
}

/// Whether an atom lies in `cidr` minus `except`. Atoms never straddle a boundary, so their
/// first address decides (a merged atom may span two adjacent excepts).
fn ipblock_contains(cidr: &IpNet, except: &[IpNet], a: &Atom) -> bool {
    let has = |net: &IpNet| v4_bounds(net).is_some_and(|(lo, hi)| lo <= a.lo && a.lo <= hi);
    has(cidr) && !except.iter().any(has)
}

/// A peer seen by a rule: a pod class or an external range.
#[derive(Clone, Copy)]
enum PeerRef<'a> {
    Pod(&'a Pod),
    Ext(&'a Atom),
}

fn peer_matches(inv: &Inventory, policy: &NetworkPolicy, peer: &KnpPeer, target: PeerRef) -> bool {
    match (peer, target) {
        (KnpPeer::Pods { pods, namespaces }, PeerRef::Pod(p)) => {
            // K6: namespaceSelector absent = the policy's namespace; both present = AND.
            let ns_ok = match namespaces {
                None => p.namespace == policy.namespace,
                Some(sel) => inv
                    .namespace(&p.namespace)
                    .is_some_and(|ns| sel.matches(&ns.labels)),
            };
            ns_ok && pods.as_ref().is_none_or(|sel| sel.matches(&p.labels))
        }
        (KnpPeer::IpBlock { cidr, except }, PeerRef::Ext(a)) => ipblock_contains(cidr, except, a),
        _ => false,
    }
}

/// K7: the ports of a rule toward a destination (named ports resolve on the destination pod).
fn rule_ports(ports: &[PortProtocol], dst: PeerRef) -> ConnSet {
    if ports.is_empty() {
        return ConnSet::all();
    }
    let mut out = ConnSet::none();
    for pp in ports {
        let set = match (&pp.port, dst) {
            (PortSpec::All, _) => PortSet::all(),
            (PortSpec::Number(p), _) => PortSet::range(*p, pp.end_port.unwrap_or(*p).max(*p)),
            (PortSpec::Named(name), PeerRef::Pod(pod)) => match pod.named_port(name, pp.protocol) {
                Some(n) => PortSet::range(n, n),
                None => PortSet::default(),
            },
            (PortSpec::Named(_), PeerRef::Ext(_)) => PortSet::default(),
        };
        out.union(&ConnSet::of(pp.protocol, set));
    }
    out
}

fn rule_matches(inv: &Inventory, p: &NetworkPolicy, r: &KnpRule, peer: PeerRef) -> bool {
    // K5: an empty peer list matches every peer, inside and outside the cluster.
    r.peers.is_empty() || r.peers.iter().any(|x| peer_matches(inv, p, x, peer))
}

/// Namespace, labels and container ports: pods equal in these are equal to policies.
type PodClass = (String, Vec<(String, String)>, String);

/// One rule of one policy in one direction, with the pod classes it admits precomputed.
struct FlatRule<'a> {
    policy: &'a NetworkPolicy,
    rule: &'a KnpRule,
    /// `matches[c]`: the rule's peers include pod class `c`.
    matches: Vec<bool>,
    /// The rule's ports when they do not depend on the destination (no named ports).
    fixed: Option<ConnSet>,
}

impl FlatRule<'_> {
    fn ports(&self, dst: PeerRef) -> ConnSet {
        match &self.fixed {
            Some(c) => c.clone(),
            None => rule_ports(&self.rule.ports, dst),
        }
    }
}

/// Per pod class and direction: `None` when not isolated (K1), else the rules that apply.
type Isolation = Vec<Option<Vec<usize>>>;

/// Every allowed connection, sorted, pod pairs merged per displayed workload.
pub fn connectivity(inv: &Inventory, policies: &[Arc<NetworkPolicy>]) -> Vec<Connection> {
    // Representative pod per class (namespace, labels, ports): pods alike behave alike.
    let mut class_of: HashMap<PodClass, usize> = HashMap::new();
    let mut reps: Vec<&Pod> = Vec::new();
    let mut pod_class: Vec<usize> = Vec::with_capacity(inv.pods.len());
    for p in &inv.pods {
        let key = (
            p.namespace.clone(),
            p.labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            format!("{:?}", p.ports),
        );
        let next = reps.len();
        let c = *class_of.entry(key).or_insert(next);
        if c == next {
            reps.push(p);
        }
        pod_class.push(c);
    }
    let mut rules: Vec<FlatRule> = Vec::new();
    let mut iso: [Isolation; 2] = [vec![None; reps.len()], vec![None; reps.len()]];
    for p in policies {
        let subjects: Vec<usize> = (0..reps.len())
            .filter(|&c| {
                reps[c].namespace == p.namespace && p.pod_selector.matches(&reps[c].labels)
            })
            .collect();
        for (di, d) in [Direction::Ingress, Direction::Egress]
            .into_iter()
            .enumerate()
        {
            if !p.affects(d) {
                continue;
            }
            let first = rules.len();
            for r in p.rules(d) {
                let matches = reps
                    .iter()
                    .map(|rep| rule_matches(inv, p, r, PeerRef::Pod(rep)))
                    .collect();
                let named = r
                    .ports
                    .iter()
                    .any(|pp| matches!(pp.port, PortSpec::Named(_)));
                let fixed =
                    (!named).then(|| rule_ports(&r.ports, PeerRef::Ext(&Atom { lo: 0, hi: 0 })));
                rules.push(FlatRule {
                    policy: p,
                    rule: r,
                    matches,
                    fixed,
                });
            }
            for &c in &subjects {
                iso[di][c]
                    .get_or_insert_with(Vec::new)
                    .extend(first..rules.len());
            }
        }
    }
    let [iso_in, iso_out] = &iso;
    let atoms_in = atoms(policies, Direction::Ingress);
    let atoms_out = atoms(policies, Direction::Egress);

    // Workload name → classes of its pods.
    let mut workloads: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    for (p, c) in inv.pods.iter().zip(&pod_class) {
        workloads.entry(display_name(p)).or_default().insert(*c);
    }
    // K4/C4.1: the source's egress and the destination's ingress must both allow.
    let pair = |s: usize, d: usize| -> ConnSet {
        let dp = PeerRef::Pod(reps[d]);
        let side = |list: &Option<Vec<usize>>, peer: usize| match list {
            None => ConnSet::all(),
            Some(ids) => {
                let mut c = ConnSet::none();
                for &r in ids {
                    if rules[r].matches[peer] {
                        c.union(&rules[r].ports(dp));
                    }
                }
                c
            }
        };
        let eg = side(&iso_out[s], d);
        if eg.is_empty() {
            return eg;
        }
        eg.intersect(&side(&iso_in[d], s))
    };
    let ext_side = |list: &Option<Vec<usize>>, atom: &Atom, port_owner: PeerRef| match list {
        None => ConnSet::all(),
        Some(ids) => {
            let mut c = ConnSet::none();
            for &r in ids {
                let fr = &rules[r];
                if rule_matches(inv, fr.policy, fr.rule, PeerRef::Ext(atom)) {
                    c.union(&fr.ports(port_owner));
                }
            }
            c
        }
    };

    let mut out = Vec::new();
    let names: Vec<(&String, &BTreeSet<usize>)> = workloads.iter().collect();
    for (sn, sc) in &names {
        for (dn, dc) in &names {
            if sn == dn {
                continue;
            }
            let mut conn = ConnSet::none();
            for s in sc.iter() {
                for d in dc.iter() {
                    conn.union(&pair(*s, *d));
                }
            }
            if !conn.is_empty() {
                out.push(Connection {
                    src: (*sn).clone(),
                    dst: (*dn).clone(),
                    conn: conn.render(),
                });
            }
        }
    }
    for atom in &atoms_out {
        for (name, classes) in &names {
            let mut to = ConnSet::none();
            for c in classes.iter() {
                to.union(&ext_side(&iso_out[*c], atom, PeerRef::Ext(atom)));
            }
            if !to.is_empty() {
                out.push(Connection {
                    src: (*name).clone(),
                    dst: atom.name(),
                    conn: to.render(),
                });
            }
        }
    }
    for atom in &atoms_in {
        for (name, classes) in &names {
            let mut from = ConnSet::none();
            for c in classes.iter() {
                from.union(&ext_side(&iso_in[*c], atom, PeerRef::Pod(reps[*c])));
            }
            if !from.is_empty() {
                out.push(Connection {
                    src: atom.name(),
                    dst: (*name).clone(),
                    conn: from.render(),
                });
            }
        }
    }
    out.sort();
    out
}

/// `-o txt`: one line per connection.
pub fn render_txt(conns: &[Connection]) -> String {
    let mut s = String::new();
    for c in conns {
        s.push_str(&c.line());
        s.push('\n');
    }
    s
}

/// `-o dot`: a Graphviz digraph.
pub fn render_dot(conns: &[Connection]) -> String {
    let mut nodes: BTreeSet<&str> = BTreeSet::new();
    for c in conns {
        nodes.insert(&c.src);
        nodes.insert(&c.dst);
    }
    let mut s = String::from("digraph {\n");
    for n in nodes {
        let shape = if n.ends_with("[External]") {
            "box"
        } else {
            "ellipse"
        };
        s.push_str(&format!("\t{n:?} [shape={shape}]\n"));
    }
    for c in conns {
        s.push_str(&format!(
            "\t{:?} -> {:?} [label={:?}]\n",
            c.src, c.dst, c.conn
        ));
    }
    s.push_str("}\n");
    s
}
