//! Connectivity under Cilium semantics: every allowed connection for CiliumNetworkPolicies,
//! CiliumClusterwideNetworkPolicies and NetworkPolicies (as Cilium translates them, K9), in
//! np-guard's line format.
//!
//! Peers are the workloads' pods, the outside world split into IPv4 ranges at every CIDR
//! boundary of the policies (`a.b.c.d-e.f.g.h[External]`, C9), and the entities the policies
//! name that are neither pods nor world (`host[Entity]`, `remote-node[Entity]`,
//! `kube-apiserver[Entity]`, `health[Entity]`, C8). `host` is each pod's own node.
//!
//! Every verdict comes from [`Engine::flow`] (C2, C4, C13, C14), evaluated once per port
//! segment: ports are cut at every port and range bound the policies and the pods' named
//! ports mention, so one port stands for its whole segment.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};

use super::{Connection, display_name};
use crate::connset::{ConnSet, PortSet};
use crate::engine::compile::{CPeer, L3, L4};
use crate::engine::labels::reserved;
use crate::engine::{Endpoint, Engine, EpKind};
use crate::inventory::Inventory;
use crate::model::{Entity, PolicySet, PortSpec, Protocol};

const PROTOCOLS: [Protocol; 3] = [Protocol::Tcp, Protocol::Udp, Protocol::Sctp];
/// Entities listed as peers when a policy names them (world is the CIDR ranges; all and
/// cluster are unions of listed peers).
const LISTED: [Entity; 4] = [
    Entity::Host,
    Entity::RemoteNode,
    Entity::KubeApiserver,
    Entity::Health,
];

/// Port segments `[lo, hi]` covering 1-65535, cut at every bound in `cuts`.
fn segments(cuts: &BTreeSet<u32>) -> Vec<(u16, u16)> {
    let mut bounds: Vec<u32> = cuts
        .iter()
        .copied()
        .filter(|c| (2..=65535).contains(c))
        .collect();
    bounds.insert(0, 1);
    bounds.push(65536);
    bounds.dedup();
    bounds
        .windows(2)
        .filter_map(|w| Some((u16::try_from(w[0]).ok()?, u16::try_from(w[1] - 1).ok()?)))
        .collect()
}

/// Where the policies' ports and the pods' container ports start and end.
fn port_cuts(engine: &Engine, inv: &Inventory) -> BTreeSet<u32> {
    let mut cuts = BTreeSet::new();
    for e in &engine.entries {
        if let L4::Ports(ports) = &e.l4 {
            for (pp, _) in ports {
                if let PortSpec::Number(p) = pp.port {
                    cuts.insert(u32::from(p));
                    cuts.insert(u32::from(pp.end_port.unwrap_or(p).max(p)) + 1);
                }
            }
        }
    }
    // Named ports resolve per destination pod (C10, K7).
    for p in &inv.pods {
        for cp in &p.ports {
            cuts.insert(u32::from(cp.port));
            cuts.insert(u32::from(cp.port) + 1);
        }
    }
    cuts
}

/// IPv4 ranges of the outside world, cut at every CIDR (and except) of the policies.
fn world_ranges(engine: &Engine) -> Vec<(u32, u32)> {
    let mut cuts: BTreeSet<u64> = [0, 1u64 << 32].into_iter().collect();
    for e in &engine.entries {
        if let L3::Peers(peers) = &e.l3 {
            for p in peers {
                if let CPeer::Cidr(c) = p {
                    for net in std::iter::once(&c.cidr).chain(&c.except) {
                        if let (IpAddr::V4(lo), IpAddr::V4(hi)) = (net.network(), net.broadcast()) {
                            cuts.insert(u64::from(u32::from(lo)));
                            cuts.insert(u64::from(u32::from(hi)) + 1);
                        }
                    }
                }
            }
        }
    }
    let cuts: Vec<u64> = cuts.into_iter().collect();
    cuts.windows(2)
        .filter_map(|w| Some((u32::try_from(w[0]).ok()?, u32::try_from(w[1] - 1).ok()?)))
        .collect()
}

/// Entities of [`LISTED`] that some policy names.
fn named_entities(engine: &Engine) -> Vec<Entity> {
    let mut seen = BTreeSet::new();
    for e in &engine.entries {
        if let L3::Peers(peers) = &e.l3 {
            for p in peers {
                if let CPeer::Entity(x) = p
                    && LISTED.contains(x)
                {
                    seen.insert(*x);
                }
            }
        }
    }
    LISTED.into_iter().filter(|e| seen.contains(e)).collect()
}

/// A host endpoint that is not in the inventory (a node the pods do not run on).
fn synthetic_host(node: &str, apiserver: bool) -> Endpoint {
    Endpoint {
        kind: EpKind::Host,
        name: format!("node/{node}"),
        node: Some(node.to_owned()),
        ip: None,
        labels: vec![reserved("host")],
        namespace: None,
        pod: None,
        apiserver,
        fqdn: None,
    }
}

/// The endpoint standing for entity `e`, seen from `pod` (C8: `host` is the pod's node).
fn entity_endpoint(engine: &Engine, e: Entity, pod: &Endpoint) -> Endpoint {
    const OTHER: &str = "(another node)";
    match e {
        Entity::Host => pod
            .node
            .as_deref()
            .and_then(|n| engine.host(n))
            .unwrap_or_else(|| synthetic_host(pod.node.as_deref().unwrap_or(OTHER), false)),
        Entity::KubeApiserver => synthetic_host("(API server node)", true),
        Entity::Health => engine.health(OTHER),
        _ => synthetic_host(OTHER, false),
    }
}

/// Allowed ports from `src` to `dst`, one verdict per protocol and port segment.
fn allowed(engine: &Engine, src: &Endpoint, dst: &Endpoint, segs: &[(u16, u16)]) -> ConnSet {
    let mut c = ConnSet::none();
    for proto in PROTOCOLS {
        for &(lo, hi) in segs {
            if engine.flow(src, dst, proto, lo).allowed {
                c.union(&ConnSet::of(proto, PortSet::range(lo, hi)));
            }
        }
    }
    c
}

/// Every allowed connection, sorted; pods merged per displayed workload.
pub fn connectivity(inv: &Inventory, set: &PolicySet) -> Vec<Connection> {
    let engine = Engine::new(inv, set);
    let segs = segments(&port_cuts(&engine, inv));
    // Pods with a node of their own: `host` (C8) and allow-localhost (C14) are node-relative.
    let mut workloads: BTreeMap<String, Vec<Endpoint>> = BTreeMap::new();
    for (i, p) in inv.pods.iter().enumerate() {
        let Some(mut ep) = engine.pod_at(i) else {
            continue;
        };
        if ep.node.is_none() {
            ep.node = Some(format!("(node of {})", ep.name));
        }
        workloads.entry(display_name(p)).or_default().push(ep);
    }
    let mut out = Vec::new();
    let mut push = |src: String, dst: String, c: ConnSet| {
        if !c.is_empty() {
            out.push(Connection {
                src,
                dst,
                conn: c.render(),
            });
        }
    };
    for (sn, seps) in &workloads {
        for (dn, deps) in &workloads {
            if sn == dn {
                continue;
            }
            let mut c = ConnSet::none();
            for s in seps {
                for d in deps {
                    c.union(&allowed(&engine, s, d, &segs));
                }
            }
            push(sn.clone(), dn.clone(), c);
        }
    }
    for (lo, hi) in world_ranges(&engine) {
        let name = format!("{}-{}[External]", Ipv4Addr::from(lo), Ipv4Addr::from(hi));
        let world = engine.world(IpAddr::V4(Ipv4Addr::from(lo)));
        for (wn, eps) in &workloads {
            let (mut to, mut from) = (ConnSet::none(), ConnSet::none());
            for ep in eps {
                to.union(&allowed(&engine, ep, &world, &segs));
                from.union(&allowed(&engine, &world, ep, &segs));
            }
            push(wn.clone(), name.clone(), to);
            push(name.clone(), wn.clone(), from);
        }
    }
    for entity in named_entities(&engine) {
        let name = format!("{}[Entity]", entity.as_str());
        for (wn, eps) in &workloads {
            let (mut to, mut from) = (ConnSet::none(), ConnSet::none());
            for ep in eps {
                let peer = entity_endpoint(&engine, entity, ep);
                to.union(&allowed(&engine, ep, &peer, &segs));
                from.union(&allowed(&engine, &peer, ep, &segs));
            }
            push(wn.clone(), name.clone(), to);
            push(name.clone(), wn.clone(), from);
        }
    }
    out.sort();
    out
}
