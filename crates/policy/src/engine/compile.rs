//! Policies → flat entries, one per rule item (C2.1), with the k8s→Cilium rewriting applied:
//! namespace and cluster injection (C7), KNP translation (K9), default-deny flags (C2.3).

use super::labels::CSelector;
use crate::inventory::CiliumConfig;
use crate::model::{
    CidrRule, CiliumPolicy, Direction, Entity, FqdnSelector, IcmpField, KnpPeer, L7Kind,
    LabelSelector, NetworkPolicy, Op, Peer, PolicySet, PortProtocol, PortSpec, Protocol, RuleItem,
    Subject,
};

/// Which subjects an entry applies to.
#[derive(Debug, Clone)]
pub enum EntrySubject {
    /// Workload endpoints (pods, and health endpoints for a CCNP, C7.5).
    Endpoints(CSelector),
    /// Host endpoints (C13.2).
    Nodes(CSelector),
}

#[derive(Debug, Clone)]
pub enum CPeer {
    Sel(CSelector),
    Entity(Entity),
    Cidr(CidrRule),
    Nodes(CSelector),
    Fqdn(FqdnSelector),
    Service {
        name: Option<String>,
        namespace: Option<String>,
        selector: Option<LabelSelector>,
    },
    /// Known only at runtime (cloud groups, CIDR groups): never matches here, and a verdict
    /// that depends on it says so.
    Unresolved(String),
}

#[derive(Debug, Clone)]
pub enum L3 {
    /// No L3 field: any peer (C5.2, K5).
    Any,
    /// Explicitly empty lists only: nothing (C5.4).
    Nothing,
    Peers(Vec<CPeer>),
}

#[derive(Debug, Clone)]
pub enum L4 {
    /// No ports: everything (C5.3).
    Any,
    Ports(Vec<(PortProtocol, Option<L7Kind>)>),
    Icmp(Vec<IcmpField>),
}

#[derive(Debug, Clone)]
pub struct Entry {
    /// `CiliumClusterwideNetworkPolicy lockout` etc.
    pub policy: String,
    pub kind: &'static str,
    /// Policy name (without kind), for patches.
    pub name: String,
    pub namespace: Option<String>,
    /// `file:line`.
    pub location: String,
    /// `spec.ingress[1]`.
    pub path: String,
    /// Index of the rule inside the policy (`spec` = 0, `specs[i]` = i).
    pub rule: usize,
    pub subject: EntrySubject,
    pub dir: Direction,
    pub deny: bool,
    pub default_deny: bool,
    /// The rule set `enableDefaultDeny` for this direction explicitly.
    pub default_deny_explicit: bool,
    pub l3: L3,
    pub l4: L4,
    /// Patterns of the item's L7 DNS rules: names whose answers the DNS proxy sees (C12).
    pub dns_patterns: Vec<String>,
    /// The item has `fromRequires`/`toRequires`, which narrow every allow of the subject in
    /// older Cilium and are not evaluated here (C1).
    pub requires: bool,
}

/// The entries of the policies Cilium enforces, and apart from them the entries of the
/// policies its agent refuses under this configuration (they enforce nothing; verdicts on
/// subjects they would select say so).
pub fn compile(set: &PolicySet, cfg: &CiliumConfig) -> (Vec<Entry>, Vec<Entry>) {
    let (mut out, mut refused) = (Vec::new(), Vec::new());
    for p in &set.cilium {
        let to = if refused_by_agent(p, cfg).is_some() {
            &mut refused
        } else {
            &mut out
        };
        cilium_entries(p, cfg, to);
    }
    for p in &set.network_policies {
        knp_entries(p, cfg, &mut out);
    }
    (out, refused)
}

/// Why Cilium's agent refuses the whole policy under `cfg`, if it does: `fromNodes`/`toNodes`
/// without `enable-node-selector-labels` fail its Validate() (C7.7).
pub fn refused_by_agent(p: &CiliumPolicy, cfg: &CiliumConfig) -> Option<&'static str> {
    let nodes = p.rules.iter().any(|r| {
        [&r.ingress, &r.ingress_deny, &r.egress, &r.egress_deny]
            .into_iter()
            .flatten()
            .any(|it| it.peers.iter().any(|x| matches!(x, Peer::Nodes(_))))
    });
    (nodes && !cfg.node_selector_labels).then_some(
        "it uses fromNodes/toNodes and enable-node-selector-labels is off, so the Cilium agent refuses the whole policy",
    )
}

const NS_KEY: &str = "io.kubernetes.pod.namespace";
const NS_LABELS: &str = "io.cilium.k8s.namespace.labels.";
const CLUSTER_KEY: &str = "io.cilium.k8s.policy.cluster";

/// C7.1: a CNP subject always gets its namespace (a user-written one is overridden).
fn cnp_subject(sel: &LabelSelector, ns: &str) -> CSelector {
    let mut c = CSelector::from_k8s(sel);
    c.reqs.retain(|r| r.key != NS_KEY);
    c.push(Some("k8s"), NS_KEY, Op::In, &[ns]);
    c
}

/// C7.2-C7.4, C7.6: peer selector rewriting.
fn endpoint_peer(sel: &LabelSelector, ns: Option<&str>, cfg: &CiliumConfig) -> CSelector {
    let mut c = CSelector::from_k8s(sel);
    if c.has_source("reserved") {
        return c; // C7.4
    }
    let has_ns = c.has_key(NS_KEY);
    let has_ns_labels = c.reqs.iter().any(|r| r.key.starts_with(NS_LABELS));
    match ns {
        Some(ns) if !has_ns && !has_ns_labels => c.push(Some("k8s"), NS_KEY, Op::In, &[ns]),
        None if !has_ns => c.push(Some("k8s"), NS_KEY, Op::Exists, &[]),
        _ => {}
    }
    if !c.has_key(CLUSTER_KEY) {
        c.push(
            Some("k8s"),
            CLUSTER_KEY,
            Op::In,
            &[cfg.cluster_name.as_str()],
        );
    }
    c
}

fn cilium_entries(p: &CiliumPolicy, cfg: &CiliumConfig, out: &mut Vec<Entry>) {
    let ns = p.namespace.as_deref();
    for (ri, rule) in p.rules.iter().enumerate() {
        let subject = match (&rule.subject, ns) {
            (Subject::Endpoints(s), Some(ns)) => EntrySubject::Endpoints(cnp_subject(s, ns)),
            (Subject::Endpoints(s), None) => EntrySubject::Endpoints(CSelector::from_k8s(s)),
            (Subject::Nodes(s), _) => EntrySubject::Nodes(CSelector::from_k8s(s)),
        };
        let sections: [(&[RuleItem], Direction, bool); 4] = [
            (&rule.ingress, Direction::Ingress, false),
            (&rule.ingress_deny, Direction::Ingress, true),
            (&rule.egress, Direction::Egress, false),
            (&rule.egress_deny, Direction::Egress, true),
        ];
        for (items, dir, deny) in sections {
            let flag = match dir {
                Direction::Ingress => rule.enable_default_deny.ingress,
                Direction::Egress => rule.enable_default_deny.egress,
            };
            // C2.3: unset → true; forced true when non-default-deny policies are disabled.
            let default_deny = !cfg.non_default_deny_policies || flag.unwrap_or(true);
            for item in items {
                out.push(Entry {
                    policy: p.display_name(),
                    kind: p.kind(),
                    name: p.name.clone(),
                    namespace: p.namespace.clone(),
                    location: format!("{}:{}", p.origin.file, item.line),
                    path: item.path.clone(),
                    rule: ri,
                    subject: subject.clone(),
                    dir,
                    deny,
                    default_deny,
                    default_deny_explicit: flag.is_some(),
                    l3: item_l3(item, ns, cfg),
                    l4: item_l4(item),
                    requires: item.requires,
                    dns_patterns: item
                        .ports
                        .iter()
                        .flatten()
                        .filter(|r| r.l7 == Some(L7Kind::Dns))
                        .flat_map(|r| r.dns_patterns.iter().cloned())
                        .collect(),
                });
            }
        }
    }
}

fn item_l3(item: &RuleItem, ns: Option<&str>, cfg: &CiliumConfig) -> L3 {
    if !item.l3_present {
        // C2.6: an item with neither L3 nor L4 (`ingress: [{}]`) allows nothing, it only
        // switches on default deny; C5.2: ports without L3 allow any peer.
        if item.ports.is_none() && item.icmps.is_none() {
            return L3::Nothing;
        }
        return L3::Any;
    }
    if item.peers.is_empty() {
        return L3::Nothing;
    }
    L3::Peers(
        item.peers
            .iter()
            .map(|p| match p {
                Peer::Endpoints(s) => CPeer::Sel(endpoint_peer(s, ns, cfg)),
                Peer::Entity(e) => CPeer::Entity(*e),
                Peer::Cidr(c) => CPeer::Cidr(c.clone()),
                Peer::Nodes(s) => CPeer::Nodes(CSelector::from_k8s(s)),
                Peer::Fqdn(f) => CPeer::Fqdn(f.clone()),
                Peer::Service {
                    name,
                    namespace,
                    selector,
                } => CPeer::Service {
                    name: name.clone(),
                    namespace: namespace.clone().or_else(|| ns.map(str::to_owned)),
                    selector: selector.clone(),
                },
                Peer::Unresolved { what } => CPeer::Unresolved(what.clone()),
            })
            .collect(),
    )
}

fn item_l4(item: &RuleItem) -> L4 {
    if let Some(icmps) = &item.icmps {
        return L4::Icmp(icmps.clone());
    }
    match &item.ports {
        None => L4::Any,
        Some(rules) => L4::Ports(
            rules
                .iter()
                .flat_map(|r| r.ports.iter().map(move |p| (p.clone(), r.l7)))
                .collect(),
        ),
    }
}

/// K9: a NetworkPolicy as Cilium translates it.
fn knp_entries(p: &NetworkPolicy, cfg: &CiliumConfig, out: &mut Vec<Entry>) {
    let subject = EntrySubject::Endpoints(cnp_subject(&p.pod_selector, &p.namespace));
    for dir in [Direction::Ingress, Direction::Egress] {
        if !p.affects(dir) {
            continue;
        }
        let key = match dir {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        };
        let base = |path: String, line: u32, l3: L3, l4: L4| Entry {
            policy: format!("NetworkPolicy {}/{}", p.namespace, p.name),
            kind: "NetworkPolicy",
            name: p.name.clone(),
            namespace: Some(p.namespace.clone()),
            location: format!("{}:{}", p.origin.file, line),
            path,
            rule: 0,
            subject: subject.clone(),
            dir,
            deny: false,
            default_deny: true,
            default_deny_explicit: false,
            l3,
            l4,
            dns_patterns: Vec::new(),
            requires: false,
        };
        let rules = p.rules(dir);
        if rules.is_empty() {
            // K1/K2: isolated in this direction with no allow: one entry that matches nothing.
            out.push(base(
                format!("spec.policyTypes ({key})"),
                p.origin.line,
                L3::Nothing,
                L4::Any,
            ));
            continue;
        }
        for (i, r) in rules.iter().enumerate() {
            let l3 = if r.peers.is_empty() {
                L3::Any // K9: empty from/to is the wildcard, world and nodes included.
            } else {
                L3::Peers(
                    r.peers
                        .iter()
                        .map(|peer| knp_peer(peer, &p.namespace, cfg))
                        .collect(),
                )
            };
            let l4 = if r.ports.is_empty() {
                L4::Any
            } else {
                L4::Ports(
                    r.ports
                        .iter()
                        .map(|pp| {
                            let mut pp = pp.clone();
                            // K9: a missing port becomes "0" = all ports of that protocol.
                            if pp.port == PortSpec::All && pp.protocol == Protocol::Any {
                                pp.protocol = Protocol::Tcp;
                            }
                            (pp, None)
                        })
                        .collect(),
                )
            };
            out.push(base(format!("spec.{key}[{i}]"), r.line, l3, l4));
        }
    }
}

fn knp_peer(peer: &KnpPeer, ns: &str, cfg: &CiliumConfig) -> CPeer {
    match peer {
        KnpPeer::IpBlock { cidr, except } => CPeer::Cidr(CidrRule {
            cidr: *cidr,
            except: except.clone(),
        }),
        KnpPeer::Pods { pods, namespaces } => {
            let mut c = pods.as_ref().map(CSelector::from_k8s).unwrap_or_default();
            match namespaces {
                None => c.push(Some("k8s"), NS_KEY, Op::In, &[ns]),
                // K9: namespaceSelector {} = any namespace, pods only.
                Some(sel) if sel.is_empty() => c.push(Some("k8s"), NS_KEY, Op::Exists, &[]),
                Some(sel) => {
                    for r in sel.requirements() {
                        let vals: Vec<&str> = r.values.iter().map(String::as_str).collect();
                        c.push(Some("k8s"), &format!("{NS_LABELS}{}", r.key), r.op, &vals);
                    }
                    // Only pods carry namespace labels, so this also means "pods only".
                }
            }
            c.push(
                Some("k8s"),
                CLUSTER_KEY,
                Op::In,
                &[cfg.cluster_name.as_str()],
            );
            CPeer::Sel(c)
        }
    }
}
