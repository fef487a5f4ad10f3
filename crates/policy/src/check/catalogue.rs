//! The control-plane flow catalogue (policy-semantics (d) and C13.7): the flows a
//! cluster needs, derived from the inventory. Nodes are grouped by what policies can see of
//! them (filtered labels, API server, etcd), so large clusters give one flow per class pair.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipnet::IpNet;

mod facts;

pub use facts::PodFacts;

use crate::engine::labels::kept_by_filter;
use crate::inventory::{Inventory, Node, Pod, TargetPort};
use crate::model::{PolicySet, Protocol};

/// Namespace and name of the synthetic pod that stands for "any pod" in the catalogue.
pub const PROBE_NS: &str = "default";
pub const PROBE_NAME: &str = "lifeboat-probe";

/// One flow to evaluate. `src`/`dst` use the engine's endpoint syntax (`node/NAME`, `NS/POD`,
/// an IP address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    pub name: String,
    pub src: String,
    pub dst: String,
    pub protocol: Protocol,
    pub port: u16,
    pub critical: bool,
    /// Why the cluster needs it, for the report.
    pub purpose: &'static str,
    /// For a flow to an outside address: the DNS name it answers for, which toFQDNs rules
    /// are judged on (C12). Only user flows carry one.
    pub fqdn: Option<String>,
}

/// Options that add flows.
#[derive(Debug, Clone, Default)]
pub struct CatalogueOptions {
    pub admin_cidrs: Vec<IpNet>,
}

/// The synthetic pod that stands for "any pod": no labels, in `default`, on the first worker
/// (or first node). It is not added to the inventory; the engine resolves it by name.
pub fn probe_pod(inv: &Inventory) -> Pod {
    let node = inv
        .nodes
        .iter()
        .find(|n| !n.is_control_plane())
        .or_else(|| inv.nodes.first())
        .map(|n| n.name.clone());
    Pod {
        namespace: PROBE_NS.into(),
        name: PROBE_NAME.into(),
        labels: BTreeMap::new(),
        ip: Some(IpAddr::from([10, 255, 255, 254])),
        node,
        service_account: "default".into(),
        ..Pod::default()
    }
}

/// What host policies can see of a node: filtered labels, runs the API server, runs etcd.
type NodeClass<'n> = (Vec<(&'n str, &'n str)>, bool, bool);

/// Representative nodes: up to two per class of (filtered labels, apiserver, etcd).
fn node_classes(inv: &Inventory, api: &[&Node], etcd: &[&Node]) -> Vec<(Vec<String>, bool, bool)> {
    let api: Vec<&str> = api.iter().map(|n| n.name.as_str()).collect();
    let etcd: Vec<&str> = etcd.iter().map(|n| n.name.as_str()).collect();
    let mut classes: BTreeMap<NodeClass<'_>, Vec<String>> = BTreeMap::new();
    for n in &inv.nodes {
        let labels: Vec<(&str, &str)> = n
            .labels
            .iter()
            .filter(|(k, _)| kept_by_filter(k))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let key = (
            labels,
            api.contains(&n.name.as_str()),
            etcd.contains(&n.name.as_str()),
        );
        let members = classes.entry(key).or_default();
        if members.len() < 2 {
            members.push(n.name.clone());
        }
    }
    classes
        .into_iter()
        .map(|((_, a, e), m)| (m, a, e))
        .collect()
}

/// Distinct (src, dst) node pairs, one per class pair.
fn pairs(
    classes: &[(Vec<String>, bool, bool)],
    src_ok: impl Fn(bool, bool) -> bool,
    dst_ok: impl Fn(bool, bool) -> bool,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (sm, sa, se) in classes {
        if !src_ok(*sa, *se) {
            continue;
        }
        for (dm, da, de) in classes {
            if !dst_ok(*da, *de) {
                continue;
            }
            let Some(s) = sm.first() else { continue };
            if let Some(d) = dm.iter().find(|d| *d != s) {
                out.push((s.clone(), d.clone()));
            }
        }
    }
    out
}

fn node_flows(
    out: &mut Vec<Flow>,
    pairs: &[(String, String)],
    name: &str,
    protocol: Protocol,
    port: u16,
    critical: bool,
    purpose: &'static str,
) {
    for (s, d) in pairs {
        out.push(Flow {
            name: name.to_owned(),
            src: format!("node/{s}"),
            dst: format!("node/{d}"),
            protocol,
            port,
            critical,
            purpose,
            fqdn: None,
        });
    }
}

/// Every catalogue flow for this inventory.
pub fn catalogue(inv: &Inventory, opts: &CatalogueOptions, policies: &PolicySet) -> Vec<Flow> {
    assemble(inv, &PodFacts::of(inv), opts, &policy_namespaces(policies))
}

/// The catalogue of `inv`, whose pods `facts` describes, for policies in the namespaces
/// `wanted`: it reads nothing else of the pods or the policies.
pub fn assemble(
    inv: &Inventory,
    facts: &PodFacts,
    opts: &CatalogueOptions,
    wanted: &BTreeSet<&str>,
) -> Vec<Flow> {
    let api = inv.hosts_or_control_plane(|n| facts.api_hosts.contains(n));
    let etcd = inv.hosts_or_control_plane(|n| facts.etcd_hosts.contains(n));
    let classes = node_classes(inv, &api, &etcd);
    let mut out = Vec::new();
    let etcd_pairs = pairs(&classes, |_, e| e, |_, e| e);
    node_flows(
        &mut out,
        &etcd_pairs,
        "etcd-peer",
        Protocol::Tcp,
        2380,
        true,
        "etcd raft between members",
    );
    node_flows(
        &mut out,
        &pairs(&classes, |a, e| a || e, |_, e| e),
        "etcd-client",
        Protocol::Tcp,
        2379,
        true,
        "API server and members to etcd",
    );
    node_flows(
        &mut out,
        &pairs(&classes, |_, _| true, |a, _| a),
        "apiserver-from-node",
        Protocol::Tcp,
        6443,
        true,
        "kubelets and components to the API server",
    );
    node_flows(
        &mut out,
        &pairs(&classes, |a, _| a, |_, _| true),
        "kubelet",
        Protocol::Tcp,
        10250,
        true,
        "API server to kubelets (logs, exec, metrics)",
    );
    let all_pairs = pairs(&classes, |_, _| true, |_, _| true);
    // C7.5: health endpoints are workload endpoints; a CCNP `endpointSelector: {}` reaches them.
    for (src, dst) in &all_pairs {
        out.push(Flow {
            name: "cilium-health-endpoint".into(),
            src: format!("node/{src}"),
            dst: format!("health/{dst}"),
            protocol: Protocol::Tcp,
            port: 4240,
            critical: false,
            purpose: "Cilium health probes to the health endpoint of each node",
            fqdn: None,
        });
    }
    node_flows(
        &mut out,
        &all_pairs,
        "cilium-health",
        Protocol::Tcp,
        4240,
        false,
        "Cilium health checks between nodes",
    );
    if let Some(port) = inv.cilium.tunnel.port() {
        node_flows(
            &mut out,
            &all_pairs,
            "tunnel",
            Protocol::Udp,
            port,
            true,
            "pod traffic between nodes (VXLAN/Geneve)",
        );
    }
    if inv.cilium.encryption == crate::inventory::Encryption::Wireguard {
        node_flows(
            &mut out,
            &all_pairs,
            "wireguard",
            Protocol::Udp,
            51871,
            true,
            "WireGuard transparent encryption",
        );
    }
    // C13.7 [INFERRED]: Hubble Relay reaches every agent's Hubble server on 4244.
    if inv.cilium.hubble {
        node_flows(
            &mut out,
            &all_pairs,
            "hubble-peer",
            Protocol::Tcp,
            4244,
            false,
            "Hubble Relay to each node's Hubble server",
        );
    }
    if inv.cilium.bgp {
        node_flows(
            &mut out,
            &all_pairs,
            "bgp",
            Protocol::Tcp,
            179,
            false,
            "BGP sessions",
        );
    }
    let probe = format!("{PROBE_NS}/{PROBE_NAME}");
    for n in &api {
        out.push(Flow {
            name: "apiserver-from-pod".into(),
            src: probe.clone(),
            dst: format!("node/{}", n.name),
            protocol: Protocol::Tcp,
            port: 6443,
            critical: true,
            purpose: "pods (controllers, operators, CoreDNS) to the API server",
            fqdn: None,
        });
    }
    let dns = &facts.dns;
    dns_flows(dns, &probe, usize::MAX, &mut out);
    let first_api = api.first().map(|n| n.name.as_str());
    let sources = wanted.iter().filter_map(|ns| facts.first.get(*ns).cloned());
    flows_from(first_api, dns, sources, &mut out);
    webhook_flows(&facts.webhooks, first_api, &mut out);
    for cidr in &opts.admin_cidrs {
        let ip = cidr.network();
        for n in &api {
            out.push(Flow {
                name: "apiserver-from-admin".into(),
                src: ip.to_string(),
                dst: format!("node/{}", n.name),
                protocol: Protocol::Tcp,
                port: 6443,
                critical: true,
                purpose: "administrators to the API server",
                fqdn: None,
            });
        }
        for (members, _, _) in &classes {
            if let Some(n) = members.first() {
                out.push(Flow {
                    name: "ssh-from-admin".into(),
                    src: ip.to_string(),
                    dst: format!("node/{n}"),
                    protocol: Protocol::Tcp,
                    port: 22,
                    critical: true,
                    purpose: "administrators' SSH: the recovery path",
                    fqdn: None,
                });
            }
        }
    }
    out
}

/// DNS from pods to every CoreDNS backend, on the backend port (policy-semantics (d).15).
/// Namespaces that have namespaced policies: the only thing of the policies the catalogue
/// depends on.
pub fn policy_namespaces(policies: &PolicySet) -> BTreeSet<&str> {
    let mut wanted: BTreeSet<&str> = policies
        .network_policies
        .iter()
        .map(|p| p.namespace.as_str())
        .collect();
    wanted.extend(
        policies
            .cilium
            .iter()
            .filter_map(|p| p.namespace.as_deref()),
    );
    wanted
}

/// The catalogue flows that exist because `namespaces` have policies (d.15, d.16): a caller
/// that knows how a change moves that set adds or removes these instead of recomputing all.
pub fn namespace_flows(inv: &Inventory, namespaces: &BTreeSet<&str>) -> Vec<Flow> {
    let mut out = Vec::new();
    let api = inv.apiserver_nodes().first().map(|n| n.name.clone());
    namespace_flows_with(inv, api.as_deref(), &dns_targets(inv), namespaces, &mut out);
    out
}

/// What [`namespace_flows`] derives from the inventory, found once (each part walks every
/// pod), for a caller that asks for the flows of many namespace sets of one inventory.
#[derive(Debug, Clone)]
pub struct NamespaceSources {
    api: Option<String>,
    dns: Vec<(String, Protocol, u16)>,
    /// `ns/pod` of the first ordinary pod of every namespace.
    first: BTreeMap<String, String>,
}

impl NamespaceSources {
    pub fn of(inv: &Inventory) -> NamespaceSources {
        PodFacts::of(inv).namespace_sources(inv)
    }

    /// What [`namespace_flows`] gives for `namespaces` on the inventory these came from.
    pub fn flows(&self, namespaces: &BTreeSet<&str>) -> Vec<Flow> {
        let sources = namespaces
            .iter()
            .filter_map(|ns| self.first.get(*ns).cloned());
        let mut out = Vec::new();
        flows_from(self.api.as_deref(), &self.dns, sources, &mut out);
        out
    }
}

/// d.15, d.16: a namespace's own egress policies can cut its pods off DNS and the API
/// server; one real pod per namespace with namespaced policies stands for that namespace.
fn namespace_flows_with(
    inv: &Inventory,
    api: Option<&str>,
    dns: &[(String, Protocol, u16)],
    wanted: &BTreeSet<&str>,
    out: &mut Vec<Flow>,
) {
    flows_from(api, dns, namespace_sources(inv, wanted), out);
}

/// The flows of namespace sources (`ns/pod`, in namespace order).
fn flows_from(
    api: Option<&str>,
    dns: &[(String, Protocol, u16)],
    sources: impl IntoIterator<Item = String>,
    out: &mut Vec<Flow>,
) {
    for src in sources {
        dns_flows(dns, &src, 2, out); // UDP and TCP to the first backend
        if let Some(api) = &api {
            out.push(Flow {
                name: "apiserver-from-pod".into(),
                src: src.clone(),
                dst: format!("node/{api}"),
                protocol: Protocol::Tcp,
                port: 6443,
                critical: true,
                purpose: "pods (controllers, operators, CoreDNS) to the API server",
                fqdn: None,
            });
        }
    }
}

/// `ns/pod` of the first ordinary pod of every namespace in `wanted`.
fn namespace_sources(inv: &Inventory, wanted: &BTreeSet<&str>) -> Vec<String> {
    let mut first: BTreeMap<&str, &str> = BTreeMap::new();
    // Pods mostly come grouped by namespace (etcd lists them in key order): carrying the
    // answer along a run of one namespace saves two lookups for each of 10^5 pods. `last`:
    // the previous pod's namespace, and whether its first pod is still sought.
    let mut last: Option<(&str, bool)> = None;
    for p in &inv.pods {
        let ns = p.namespace.as_str();
        let seeking = match last {
            Some((n, s)) if n == ns => s,
            _ => wanted.contains(ns) && !first.contains_key(ns),
        };
        let found = seeking && !p.host_network;
        if found {
            first.insert(ns, p.name.as_str());
        }
        last = Some((ns, seeking && !found));
    }
    first
        .into_iter()
        .map(|(ns, pod)| format!("{ns}/{pod}"))
        .collect()
}

/// DNS destinations: every CoreDNS backend, UDP and TCP, at the backend port (d.15).
/// Computed once: finding backends walks every pod.
/// Flows the catalogue could not derive because the inventory lacks what they are derived
/// from: said, so that "0 denied" never covers flows that were not checked.
pub fn gaps(inv: &Inventory) -> Vec<crate::findings::Finding> {
    use crate::findings::{Finding, Severity};
    let mut missing = Vec::new();
    if inv.apiserver_nodes().is_empty() {
        missing.push("the API server (6443, and kubelet 10250 from it): no kube-apiserver pod and no node labelled node-role.kubernetes.io/control-plane");
    }
    if inv.etcd_nodes().is_empty() {
        missing.push("etcd (2379, 2380): no etcd pod and no control-plane node");
    }
    if dns_targets(inv).is_empty() {
        missing.push("DNS (53): no kube-system/kube-dns service backend or k8s-app=kube-dns pod");
    }
    missing
        .into_iter()
        .map(|what| {
            Finding::new(
                Severity::Warning,
                "flows-not-checked",
                format!("flows to {what} in the inventory, so these flows were not checked; add the missing objects to --cluster (or pass --flows)"),
            )
        })
        .collect()
}

fn dns_targets(inv: &Inventory) -> Vec<(String, Protocol, u16)> {
    let svc = inv.service("kube-system", "kube-dns");
    let backends: Vec<&Pod> = match svc {
        Some(s) => inv.backends(s).collect(),
        None => inv
            .pods
            .iter()
            .map(|p| &**p)
            .filter(|p| {
                p.namespace == "kube-system"
                    && p.labels.get("k8s-app").is_some_and(|v| v == "kube-dns")
            })
            .collect(),
    };
    let mut out = Vec::new();
    for pod in backends {
        for protocol in [Protocol::Udp, Protocol::Tcp] {
            let port = svc
                .and_then(|s| s.ports.iter().find(|p| p.protocol == protocol))
                .map(|sp| match &sp.target {
                    TargetPort::Number(n) => *n,
                    TargetPort::Named(name) => pod.named_port(name, protocol).unwrap_or(sp.port),
                })
                .unwrap_or(53);
            let dst = if pod.host_network {
                match &pod.node {
                    Some(n) => format!("node/{n}"),
                    None => continue,
                }
            } else {
                format!("{}/{}", pod.namespace, pod.name)
            };
            out.push((dst, protocol, port));
        }
    }
    out
}

/// DNS flows from `probe` to the first `limit` targets.
fn dns_flows(targets: &[(String, Protocol, u16)], probe: &str, limit: usize, out: &mut Vec<Flow>) {
    for (dst, protocol, port) in targets.iter().take(limit) {
        out.push(Flow {
            name: format!("dns-{}", protocol.as_str().to_ascii_lowercase()),
            src: probe.to_owned(),
            dst: dst.clone(),
            protocol: *protocol,
            port: *port,
            critical: true,
            purpose: "name resolution for pods (backend port of kube-dns)",
            fqdn: None,
        });
    }
}

/// An admission webhook served in the cluster: the first backend of its service.
#[derive(Debug, Clone, PartialEq)]
struct WebhookTarget {
    name: String,
    /// `ns/pod` of the backend.
    dst: String,
    port: u16,
    fail_closed: bool,
}

fn webhook_targets(inv: &Inventory) -> Vec<WebhookTarget> {
    let mut out = Vec::new();
    for w in &inv.webhooks {
        let Some((ns, name, port)) = &w.service else {
            continue;
        };
        let Some(svc) = inv.service(ns, name) else {
            continue;
        };
        let sp = svc.ports.iter().find(|p| p.port == *port);
        for pod in inv.backends(svc).take(1) {
            let target = sp
                .map(|sp| match &sp.target {
                    TargetPort::Number(n) => *n,
                    TargetPort::Named(n) => pod.named_port(n, Protocol::Tcp).unwrap_or(*port),
                })
                .unwrap_or(*port);
            out.push(WebhookTarget {
                name: w.name.clone(),
                dst: format!("{}/{}", pod.namespace, pod.name),
                port: target,
                fail_closed: w.fail_closed,
            });
        }
    }
    out
}

/// API server to admission webhooks served in the cluster.
fn webhook_flows(targets: &[WebhookTarget], api: Option<&str>, out: &mut Vec<Flow>) {
    let Some(api) = api else {
        return;
    };
    for t in targets {
        out.push(Flow {
            name: format!("webhook {}", t.name),
            src: format!("node/{api}"),
            dst: t.dst.clone(),
            protocol: Protocol::Tcp,
            port: t.port,
            critical: t.fail_closed,
            purpose: "API server to an admission webhook (failurePolicy Fail blocks writes)",
            fqdn: None,
        });
    }
}
