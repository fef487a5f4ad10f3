//! The cluster the policies meet: nodes, namespaces, pods, services, webhooks, Cilium settings.
//!
//! Read from `kubectl get -o yaml` output ([`read`]), or the built-in reference cluster
//! ([`reference`]) when none is given; [`Inventory::assumed`] says which.

pub mod cilium_config;
pub mod read;
pub mod reference;
mod runs;
mod schedule;
mod services;
mod workloads;

pub use workloads::{MAX_DAEMON_PODS, MAX_REPLICAS};

use std::collections::BTreeMap;
use std::net::IpAddr;

pub use cilium_config::{CiliumConfig, Encryption, EnforcementMode, Tunnel};

use crate::model::Protocol;

#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// True when this is the built-in reference cluster, not the user's.
    pub assumed: bool,
    /// Shared like pods: an inventory assembled again after a watch update copies pointers.
    pub nodes: Vec<std::sync::Arc<Node>>,
    pub namespaces: Vec<std::sync::Arc<Namespace>>,
    /// Shared, so that an inventory updated by one pod (a watch) copies pointers, not pods.
    pub pods: Vec<std::sync::Arc<Pod>>,
    pub services: Vec<Service>,
    pub webhooks: Vec<Webhook>,
    pub cilium: CiliumConfig,
    /// Notes about how the inventory was built (e.g. a capped workload expansion); `lint`
    /// and `check` report them.
    pub findings: Vec<crate::findings::Finding>,
    /// Namespace name → index into `namespaces`, rebuilt by [`Inventory::normalise`].
    ns_index: std::collections::HashMap<String, usize>,
    /// Node name → index into `nodes`, rebuilt by [`Inventory::normalise`]: each flow end on
    /// a node is looked up by name, and 5,000 nodes are too many to scan each time.
    node_index: std::collections::HashMap<String, usize>,
    /// Where each namespace's pods are, found by [`Inventory::normalise`] (`None` when some
    /// namespace's pods are not one run): read by [`Inventory::pods_in`].
    runs: Option<runs::PodRuns>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub addresses: Vec<IpAddr>,
    pub kernel: Option<String>,
    /// `spec.taints`: which pods the scheduler keeps off this node.
    pub taints: Vec<Taint>,
}

/// A node taint (`spec.taints[]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Taint {
    pub key: String,
    pub value: String,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
    pub effect: String,
}

impl Node {
    /// kubeadm and most distributions label control-plane nodes this way.
    pub fn is_control_plane(&self) -> bool {
        self.labels
            .contains_key("node-role.kubernetes.io/control-plane")
            || self.labels.contains_key("node-role.kubernetes.io/master")
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Namespace {
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub kind: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerPort {
    pub name: Option<String>,
    pub port: u16,
    pub protocol: Protocol,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pod {
    pub namespace: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub ip: Option<IpAddr>,
    pub host_network: bool,
    pub node: Option<String>,
    pub ports: Vec<ContainerPort>,
    pub owner: Option<Owner>,
    pub service_account: String,
}

impl Pod {
    /// Resolve a named port on this pod (K7, C10).
    pub fn named_port(&self, name: &str, protocol: Protocol) -> Option<u16> {
        self.ports
            .iter()
            .find(|p| {
                p.name
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
                    && protocol.expand().contains(&p.protocol)
            })
            .map(|p| p.port)
    }

    pub fn is_control_plane_component(&self, component: &str) -> bool {
        self.namespace == "kube-system"
            && (self.labels.get("component").is_some_and(|c| c == component)
                || self
                    .name
                    .strip_prefix(component)
                    .is_some_and(|rest| rest.starts_with('-')))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServicePort {
    pub name: Option<String>,
    pub port: u16,
    /// Numeric target port, or a container port name.
    pub target: TargetPort,
    pub protocol: Protocol,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetPort {
    Number(u16),
    Named(String),
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Service {
    pub namespace: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// `None` for services without a selector.
    pub selector: Option<BTreeMap<String, String>>,
    pub cluster_ip: Option<IpAddr>,
    pub ports: Vec<ServicePort>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    pub configuration: String,
    pub name: String,
    pub mutating: bool,
    /// In-cluster service target: (namespace, name, port).
    pub service: Option<(String, String, u16)>,
    pub url: Option<String>,
    pub fail_closed: bool,
}

impl Inventory {
    pub fn namespace(&self, name: &str) -> Option<&Namespace> {
        match self.ns_index.get(name) {
            Some(&i) => self
                .namespaces
                .get(i)
                .map(|n| &**n)
                .filter(|n| n.name == name),
            None if self.ns_index.len() == self.namespaces.len() => None,
            None => self
                .namespaces
                .iter()
                .map(|n| &**n)
                .find(|n| n.name == name),
        }
    }

    pub fn node(&self, name: &str) -> Option<&Node> {
        let found = self.node_index.get(name).and_then(|&i| self.nodes.get(i));
        match found.map(|n| &**n).filter(|n| n.name == name) {
            Some(n) => Some(n),
            // Indexed (names unique) and not in it: none. Otherwise the index is not this
            // list's (not normalised, or nodes changed since): the list is read.
            None if found.is_none() && self.node_index.len() == self.nodes.len() => None,
            None => self.nodes.iter().map(|n| &**n).find(|n| n.name == name),
        }
    }

    pub fn service(&self, ns: &str, name: &str) -> Option<&Service> {
        self.services
            .iter()
            .find(|s| s.namespace == ns && s.name == name)
    }

    /// The pods of namespace `ns`, in list order. Found from the runs [`Inventory::normalise`]
    /// noted when it can, without visiting the other namespaces' pods; by a walk over every
    /// pod otherwise (and if the pods changed since). Either way each pod is checked to be in
    /// `ns`.
    pub fn pods_in<'a>(&'a self, ns: &'a str) -> Box<dyn Iterator<Item = &'a Pod> + 'a> {
        let run = self.runs.as_ref().and_then(|r| r.get(&self.pods, ns));
        let in_ns = move |p: &&'a Pod| p.namespace == ns;
        match run.and_then(|r| self.pods.get(r)) {
            Some(run) => Box::new(run.iter().map(|p| &**p).filter(in_ns)),
            None => Box::new(self.pods.iter().map(|p| &**p).filter(in_ns)),
        }
    }

    /// Pods a service selects.
    pub fn backends<'a>(&'a self, svc: &'a Service) -> impl Iterator<Item = &'a Pod> + 'a {
        self.pods_in(&svc.namespace).filter(move |p| {
            svc.selector.as_ref().is_some_and(|sel| {
                !sel.is_empty() && sel.iter().all(|(k, v)| p.labels.get(k) == Some(v))
            })
        })
    }

    /// Nodes running the API server: a kube-apiserver pod on them, else control-plane nodes.
    pub fn apiserver_nodes(&self) -> Vec<&Node> {
        self.nodes_running("kube-apiserver")
    }

    /// Nodes running etcd: an etcd pod on them, else control-plane nodes (external etcd on
    /// the control plane, as in the field report).
    pub fn etcd_nodes(&self) -> Vec<&Node> {
        self.nodes_running("etcd")
    }

    /// One pass over pods, then over nodes: inventories have 10^5 pods and 10^3 nodes.
    fn nodes_running(&self, component: &str) -> Vec<&Node> {
        // Control-plane components are in kube-system (`is_control_plane_component`).
        let hosts: std::collections::HashSet<&str> = self
            .pods_in("kube-system")
            .filter(|p| p.is_control_plane_component(component))
            .filter_map(|p| p.node.as_deref())
            .collect();
        self.hosts_or_control_plane(|n| hosts.contains(n))
    }

    /// The nodes `hosts` names (those a component's pods run on), else the control-plane
    /// nodes: where a component runs when its pods do not say.
    pub fn hosts_or_control_plane(&self, hosts: impl Fn(&str) -> bool) -> Vec<&Node> {
        let nodes = self.nodes.iter().map(|n| &**n);
        let with_pod: Vec<&Node> = nodes.clone().filter(|n| hosts(&n.name)).collect();
        if with_pod.is_empty() {
            nodes.filter(|n| n.is_control_plane()).collect()
        } else {
            with_pod
        }
    }

    /// Whether `other` holds the same pods in the same order (compared by pointer first).
    pub fn same_pods(&self, other: &Inventory) -> bool {
        self.pods.len() == other.pods.len()
            && self
                .pods
                .iter()
                .zip(&other.pods)
                .all(|(a, b)| std::sync::Arc::ptr_eq(a, b) || a == b)
    }

    /// Whether `other` holds the same objects and settings. Pods are compared by pointer
    /// first: an inventory rebuilt after a watch update shares the pods that did not change,
    /// so asking costs a pass of pointer comparisons.
    pub fn same_objects(&self, other: &Inventory) -> bool {
        self.assumed == other.assumed
            && self.same_pods(other)
            && self.nodes == other.nodes
            && self.namespaces == other.namespaces
            && self.services == other.services
            && self.webhooks == other.webhooks
            && self.cilium == other.cilium
            && self.findings == other.findings
    }

    /// Add namespaces that pods refer to but that were not listed, and the immutable
    /// `kubernetes.io/metadata.name` label every namespace carries (K6).
    pub fn normalise(&mut self) {
        self.normalise_after(0, Some(std::collections::HashMap::new()));
    }

    /// [`Inventory::normalise`] when the first `settled` pods are known to be in listed
    /// namespaces (they would add none), with the runs of their namespaces when known: only
    /// the pods after them are walked.
    pub(crate) fn normalise_after(
        &mut self,
        settled: usize,
        runs: Option<std::collections::HashMap<String, std::ops::Range<usize>>>,
    ) {
        self.runs = runs.and_then(|known| runs::PodRuns::of(&self.pods, settled, known));
        let mut known: std::collections::HashSet<String> =
            self.namespaces.iter().map(|n| n.name.clone()).collect();
        let mut missing: Vec<String> = Vec::new();
        // Pods mostly come grouped by namespace: one lookup per run of a namespace.
        let mut last: Option<&str> = None;
        for p in self.pods.iter().skip(settled) {
            if last == Some(p.namespace.as_str()) {
                continue;
            }
            last = Some(p.namespace.as_str());
            if !known.contains(&p.namespace) {
                known.insert(p.namespace.clone());
                missing.push(p.namespace.clone());
            }
        }
        for name in missing {
            self.namespaces.push(std::sync::Arc::new(Namespace {
                name,
                labels: BTreeMap::new(),
            }));
        }
        // Of two nodes with one name the first, as a scan finds.
        self.node_index = std::collections::HashMap::with_capacity(self.nodes.len());
        for (i, n) in self.nodes.iter().enumerate() {
            self.node_index.entry(n.name.clone()).or_insert(i);
        }
        self.ns_index = self
            .namespaces
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.clone(), i))
            .collect();
        const NAME_LABEL: &str = "kubernetes.io/metadata.name";
        // Namespaces read from a cluster carry it already: those stay shared, not copied.
        for ns in &mut self.namespaces {
            if !ns.labels.contains_key(NAME_LABEL) {
                let ns = std::sync::Arc::make_mut(ns);
                ns.labels.insert(NAME_LABEL.to_owned(), ns.name.clone());
            }
        }
    }
}

#[cfg(test)]
mod node_index_tests {
    use super::*;
    use std::sync::Arc;

    fn node(name: &str, kernel: &str) -> Arc<Node> {
        Arc::new(Node {
            name: name.to_owned(),
            kernel: Some(kernel.to_owned()),
            ..Node::default()
        })
    }

    /// Found through the index as a scan finds it: the first of two with one name, none for
    /// an unknown name, and by a scan when the inventory was never normalised.
    #[test]
    fn a_node_is_found_by_name_as_a_scan_finds_it() {
        let mut inv = Inventory {
            nodes: vec![node("a", "1"), node("b", "2"), node("a", "3")],
            ..Inventory::default()
        };
        assert_eq!(inv.node("b").and_then(|n| n.kernel.as_deref()), Some("2"));
        inv.normalise();
        assert_eq!(inv.node("a").and_then(|n| n.kernel.as_deref()), Some("1"));
        assert_eq!(inv.node("b").and_then(|n| n.kernel.as_deref()), Some("2"));
        assert!(inv.node("c").is_none());
        inv.nodes.push(node("c", "4"));
        assert_eq!(inv.node("c").and_then(|n| n.kernel.as_deref()), Some("4"));
    }
}
