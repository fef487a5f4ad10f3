//! The Cilium policy engine: identities, per-direction enforcement and verdicts with
//! explanations. KNPs are evaluated as Cilium translates them (K9).
//!
//! - [`labels`]: identity labels, the label filter (C6) and source-aware selectors.
//! - [`endpoint`]: pods, host, health and world endpoints built from the inventory.
//! - [`compile`]: policies → entries with namespace/cluster injection (C7) and K9.
//! - [`eval`]: verdicts (C2, C3, C4, C13, C14) with explanations.

pub mod compile;
pub mod endpoint;
pub mod eval;
pub mod fqdn;
mod l7;
pub mod labels;
pub mod pods;
mod replace;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

pub use compile::Entry;
pub use endpoint::{Endpoint, EpKind};
pub use eval::{DirVerdict, FlowVerdict};
pub use replace::Detached;

use crate::inventory::Inventory;
use crate::model::{Direction, PolicySet};
use pods::PodIndex;
pub use pods::{NamespacePods, PodEdits};

pub struct Engine<'a> {
    pub inv: &'a Inventory,
    /// Shared so that an engine derived from another ([`Engine::with_replaced`]) copies
    /// pointers, not compiled rules.
    pub entries: Vec<Arc<Entry>>,
    /// Entries of policies the Cilium agent refuses under the configuration: not enforced.
    pub refused: Vec<Arc<Entry>>,
    /// C7.8: namespaced rules are only considered for identities of their namespace;
    /// cluster-wide rules for every identity. Entry indices, ascending.
    by_namespace: Arc<HashMap<String, Vec<usize>>>,
    clusterwide: Vec<usize>,
    /// Derived from the inventory only: shared by every engine derived from this one.
    tables: Arc<Tables>,
    /// Pods a caller stands in for a class of pods (a flow catalogue's "any pod"): resolved by
    /// name, not part of the inventory.
    synthetic: Vec<crate::inventory::Pod>,
}

/// What an engine derives from the inventory alone (the pod index of a large cluster costs
/// more than compiling one policy).
struct Tables {
    /// Nodes running the API server (their host identity carries `kube-apiserver`, C8):
    /// found when first asked (it walks every pod), unless given ([`Engine::with_apiservers`]).
    apiservers: OnceLock<HashSet<String>>,
    /// Pod positions in `inv.pods`; shared by the tables of an inventory that differs from
    /// this one in its nodes only.
    pods: Arc<PodIndex>,
}

impl Tables {
    fn new(inv: &Inventory) -> Tables {
        Tables::with_index(Arc::new(PodIndex::new(&inv.pods)))
    }

    fn with_index(pods: Arc<PodIndex>) -> Tables {
        Tables {
            apiservers: OnceLock::new(),
            pods,
        }
    }
}

pub(crate) fn apiservers(inv: &Inventory) -> HashSet<String> {
    inv.apiserver_nodes()
        .iter()
        .map(|n| n.name.clone())
        .collect()
}

impl<'a> Engine<'a> {
    pub fn new(inv: &'a Inventory, policies: &PolicySet) -> Engine<'a> {
        let (entries, refused) = compile::compile(policies, &inv.cilium);
        Engine::assemble(
            inv,
            entries.into_iter().map(Arc::new).collect(),
            refused.into_iter().map(Arc::new).collect(),
            Arc::new(Tables::new(inv)),
            Vec::new(),
        )
    }

    fn assemble(
        inv: &'a Inventory,
        entries: Vec<Arc<Entry>>,
        refused: Vec<Arc<Entry>>,
        tables: Arc<Tables>,
        synthetic: Vec<crate::inventory::Pod>,
    ) -> Engine<'a> {
        let mut by_namespace: HashMap<String, Vec<usize>> = HashMap::new();
        let mut clusterwide = Vec::new();
        // Entries come in runs of one namespace (one object's, often one namespace's
        // objects): one lookup per run, the name cloned once per namespace.
        let mut first = 0;
        for run in entries.chunk_by(|a, b| a.namespace == b.namespace) {
            let positions = first..first + run.len();
            first = positions.end;
            match run.first().and_then(|e| e.namespace.as_ref()) {
                Some(ns) => match by_namespace.get_mut(ns) {
                    Some(list) => list.extend(positions),
                    None => {
                        by_namespace.insert(ns.clone(), positions.collect());
                    }
                },
                None => clusterwide.extend(positions),
            }
        }
        Engine {
            inv,
            entries,
            refused,
            by_namespace: Arc::new(by_namespace),
            clusterwide,
            tables,
            synthetic,
        }
    }

    /// Lets [`Engine::resolve`] find `pod` by `NS/NAME` although the inventory does not hold it.
    pub fn with_synthetic_pod(mut self, pod: crate::inventory::Pod) -> Engine<'a> {
        self.synthetic.push(pod);
        self
    }

    /// Entries in direction `d` whose subject selects `e`, in policy order.
    pub fn entries_for(&self, e: &Endpoint, d: Direction) -> Vec<usize> {
        let local = e
            .namespace
            .as_deref()
            .and_then(|ns| self.by_namespace.get(ns))
            .map_or(&[][..], Vec::as_slice);
        let mut out: Vec<usize> = self
            .clusterwide
            .iter()
            .chain(local)
            .copied()
            .filter(|&i| self.entries[i].dir == d && self.selects(i, e))
            .collect();
        out.sort_unstable();
        out
    }

    /// This engine with `names` as the nodes running the API server: what
    /// `inv.apiserver_nodes()` gives, found by a caller that follows the inventory through
    /// watch updates without a walk over every pod.
    pub fn with_apiservers(mut self, names: HashSet<String>) -> Engine<'a> {
        let tables = Tables::with_index(Arc::clone(&self.tables.pods));
        tables.apiservers.get_or_init(|| names);
        self.tables = Arc::new(tables);
        self
    }

    fn apiservers(&self) -> &HashSet<String> {
        self.tables.apiservers.get_or_init(|| apiservers(self.inv))
    }

    pub fn host(&self, node: &str) -> Option<Endpoint> {
        endpoint::host_endpoint(self.inv, node, self.apiservers())
    }

    /// A pod by namespace and name; a hostNetwork pod resolves to its node (C8 `host`).
    pub fn pod(&self, namespace: &str, name: &str) -> Option<Endpoint> {
        let i = self.tables.pods.find(&self.inv.pods, namespace, name)?;
        endpoint::pod_endpoint(self.inv, i, self.apiservers())
    }

    /// Where the pods of `namespace` are in `inv.pods`, if the pod index keeps runs.
    pub fn namespace_pods(&self, namespace: &str) -> NamespacePods {
        self.tables.pods.namespace(namespace)
    }

    pub fn pod_at(&self, index: usize) -> Option<Endpoint> {
        endpoint::pod_endpoint(self.inv, index, self.apiservers())
    }

    pub fn health(&self, node: &str) -> Endpoint {
        endpoint::health_endpoint(node)
    }

    pub fn world(&self, ip: IpAddr) -> Endpoint {
        endpoint::world_endpoint(ip)
    }

    /// Resolve `node/NAME`, `health/NODE`, `world/IP`, `IP`, `NS/POD` (as in `--flows`).
    pub fn resolve(&self, spec: &str) -> Option<Endpoint> {
        if let Some(n) = spec.strip_prefix("node/") {
            return self.host(n);
        }
        if let Some(n) = spec.strip_prefix("health/") {
            return self.inv.node(n).map(|_| self.health(n));
        }
        let ip_text = spec.strip_prefix("world/").unwrap_or(spec);
        if let Ok(ip) = ip_text.parse::<IpAddr>() {
            // A node address is that node's host endpoint; any other address is outside.
            if let Some(n) = self.inv.nodes.iter().find(|n| n.addresses.contains(&ip)) {
                return self.host(&n.name);
            }
            if let Some(i) = self
                .inv
                .pods
                .iter()
                .position(|p| p.ip == Some(ip) && !p.host_network)
            {
                return self.pod_at(i);
            }
            return Some(self.world(ip));
        }
        let (ns, name) = spec.split_once('/')?;
        self.pod(ns, name).or_else(|| {
            self.synthetic
                .iter()
                .find(|p| p.namespace == ns && p.name == name)
                .map(|p| endpoint::synthetic_pod_endpoint(self.inv, p))
        })
    }
}

#[cfg(test)]
mod pod_index_tests {
    use super::*;
    use std::sync::Arc;

    fn pod(namespace: &str, name: &str) -> Arc<crate::inventory::Pod> {
        Arc::new(crate::inventory::Pod {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            ..Default::default()
        })
    }

    /// Pods of one namespace in several runs (files, not key order), and one name twice: each
    /// pod is found at its own position, and of two pods with one name the later.
    #[test]
    fn the_pod_index_finds_each_pod_across_runs_of_its_namespace() {
        let mut inv = Inventory::default();
        inv.pods = vec![
            pod("a", "x"),
            pod("a", "y"),
            pod("b", "x"),
            pod("a", "z"),
            pod("b", "w"),
            pod("a", "x"),
        ];
        let tables = Tables::new(&inv);
        let at = |ns: &str, name: &str| tables.pods.find(&inv.pods, ns, name);
        assert_eq!(at("a", "x"), Some(5), "the later of two pods with one name");
        assert_eq!(at("a", "y"), Some(1));
        assert_eq!(at("b", "x"), Some(2));
        assert_eq!(at("a", "z"), Some(3));
        assert_eq!(at("b", "w"), Some(4));
        assert_eq!(at("c", "x"), None);
    }
}
