//! Endpoints the engine reasons about: pods, host endpoints (one per node; hostNetwork pods
//! are the host, C8), health endpoints, and addresses outside the cluster.

use std::collections::HashSet;
use std::net::IpAddr;

use super::labels::{Label, Labels, filtered_k8s, k8s, reserved};
use crate::inventory::{Inventory, Pod};
use crate::model::Entity;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EpKind {
    Pod,
    Host,
    Health,
    World,
}

#[derive(Debug, Clone)]
pub struct Endpoint {
    pub kind: EpKind,
    /// `ns/pod`, `node/<name>`, `health/<node>`, `world/<ip>`.
    pub name: String,
    pub node: Option<String>,
    pub ip: Option<IpAddr>,
    /// Identity labels as the subject (C6, C7, C13.2).
    pub labels: Labels,
    pub namespace: Option<String>,
    /// Index into `Inventory::pods`, for named ports.
    pub pod: Option<usize>,
    /// Runs the API server: its host identity carries `reserved:kube-apiserver` (C8).
    pub apiserver: bool,
    /// The DNS name the user says this (outside) address answers for: what toFQDNs
    /// rules are judged on (C12).
    pub fqdn: Option<String>,
}

impl Endpoint {
    /// Whether this endpoint of `inv` and `other` of `other_inv` are the same for a verdict:
    /// every field equal, and the pods behind them (named ports, service backends) the same
    /// object or equal, wherever they sit in their inventories.
    pub fn same_as(&self, inv: &Inventory, other: &Endpoint, other_inv: &Inventory) -> bool {
        let pods = match (self.pod, other.pod) {
            (None, None) => true,
            (Some(a), Some(b)) => match (inv.pods.get(a), other_inv.pods.get(b)) {
                (Some(a), Some(b)) => std::sync::Arc::ptr_eq(a, b) || a == b,
                _ => false,
            },
            _ => false,
        };
        pods && self.kind == other.kind
            && self.name == other.name
            && self.node == other.node
            && self.ip == other.ip
            && self.labels == other.labels
            && self.namespace == other.namespace
            && self.apiserver == other.apiserver
            && self.fqdn == other.fqdn
    }

    /// Labels of this endpoint as a peer seen from `observer_node` (C8: `host` is the local
    /// node, `remote-node` any other).
    pub fn peer_labels(&self, observer_node: Option<&str>, node_labels: bool) -> Labels {
        match self.kind {
            EpKind::Host => {
                let local = observer_node.is_some() && observer_node == self.node.as_deref();
                let mut l = vec![reserved(if local { "host" } else { "remote-node" })];
                if self.apiserver {
                    l.push(reserved("kube-apiserver"));
                }
                if node_labels {
                    l.extend(self.labels.iter().filter(|x| x.source == "k8s").cloned());
                }
                l
            }
            _ => self.labels.clone(),
        }
    }

    pub fn is_local_host_of(&self, node: Option<&str>) -> bool {
        self.kind == EpKind::Host && node.is_some() && self.node.as_deref() == node
    }
}

/// Identity labels of a pod (C6.3): filtered pod labels plus namespace, namespace labels,
/// service account and cluster.
pub fn pod_labels(inv: &Inventory, p: &Pod) -> Labels {
    let mut l = filtered_k8s(&p.labels);
    l.push(k8s("io.kubernetes.pod.namespace", &p.namespace));
    if let Some(ns) = inv.namespace(&p.namespace) {
        for (k, v) in &ns.labels {
            l.push(k8s(&format!("io.cilium.k8s.namespace.labels.{k}"), v));
        }
    }
    l.push(k8s(
        "io.cilium.k8s.policy.serviceaccount",
        &p.service_account,
    ));
    l.push(k8s(
        "io.cilium.k8s.policy.cluster",
        &inv.cilium.cluster_name,
    ));
    l
}

pub fn pod_endpoint(
    inv: &Inventory,
    index: usize,
    apiservers: &HashSet<String>,
) -> Option<Endpoint> {
    let p = inv.pods.get(index)?;
    if p.host_network {
        // A hostNetwork pod is its node's host endpoint (C8 `host`).
        return p
            .node
            .as_deref()
            .and_then(|n| host_endpoint(inv, n, apiservers));
    }
    Some(Endpoint {
        kind: EpKind::Pod,
        name: format!("{}/{}", p.namespace, p.name),
        node: p.node.clone(),
        ip: p.ip,
        labels: pod_labels(inv, p),
        namespace: Some(p.namespace.clone()),
        pod: Some(index),
        apiserver: false,
        fqdn: None,
    })
}

/// An endpoint for a pod that is not in the inventory (no named ports).
pub fn synthetic_pod_endpoint(inv: &Inventory, p: &Pod) -> Endpoint {
    Endpoint {
        kind: EpKind::Pod,
        name: format!("{}/{}", p.namespace, p.name),
        node: p.node.clone(),
        ip: p.ip,
        labels: pod_labels(inv, p),
        namespace: Some(p.namespace.clone()),
        pod: None,
        apiserver: false,
        fqdn: None,
    }
}

/// `apiservers`: names of nodes running the API server (computed once per engine).
pub fn host_endpoint(
    inv: &Inventory,
    node: &str,
    apiservers: &HashSet<String>,
) -> Option<Endpoint> {
    let n = inv.node(node)?;
    let mut labels = filtered_k8s(&n.labels);
    labels.push(reserved("host"));
    let apiserver = apiservers.contains(node);
    Some(Endpoint {
        kind: EpKind::Host,
        name: format!("node/{node}"),
        node: Some(node.to_owned()),
        ip: n.addresses.first().copied(),
        labels,
        namespace: None,
        pod: None,
        apiserver,
        fqdn: None,
    })
}

pub fn health_endpoint(node: &str) -> Endpoint {
    Endpoint {
        kind: EpKind::Health,
        name: format!("health/{node}"),
        node: Some(node.to_owned()),
        ip: None,
        labels: vec![reserved("health")],
        namespace: None,
        pod: None,
        apiserver: false,
        fqdn: None,
    }
}

pub fn world_endpoint(ip: IpAddr) -> Endpoint {
    let family = if ip.is_ipv4() {
        "world-ipv4"
    } else {
        "world-ipv6"
    };
    Endpoint {
        kind: EpKind::World,
        name: format!("world/{ip}"),
        node: None,
        ip: Some(ip),
        labels: vec![reserved("world"), reserved(family)],
        namespace: None,
        pod: None,
        apiserver: false,
        fqdn: None,
    }
}

/// Label list → `k=v` text for explanations.
pub fn show_labels(labels: &[Label]) -> String {
    labels
        .iter()
        .map(|l| {
            if l.value.is_empty() {
                format!("{}:{}", l.source, l.key)
            } else {
                format!("{}:{}={}", l.source, l.key, l.value)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// C8: entity membership of a peer seen from `observer` (the subject's node).
pub fn entity_matches(e: Entity, p: &Endpoint, observer: Option<&str>) -> bool {
    match e {
        Entity::All => true,
        Entity::World => p.kind == EpKind::World,
        Entity::WorldIpv4 => p.kind == EpKind::World && p.ip.is_some_and(|i| i.is_ipv4()),
        Entity::WorldIpv6 => p.kind == EpKind::World && p.ip.is_some_and(|i| i.is_ipv6()),
        Entity::Cluster => p.kind != EpKind::World,
        Entity::Host => p.is_local_host_of(observer),
        Entity::RemoteNode => p.kind == EpKind::Host && !p.is_local_host_of(observer),
        Entity::KubeApiserver => p.kind == EpKind::Host && p.apiserver,
        Entity::Health => p.kind == EpKind::Health,
        Entity::Ingress | Entity::Init | Entity::Unmanaged | Entity::None => false,
    }
}
