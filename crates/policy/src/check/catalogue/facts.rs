//! What the catalogue reads of the pods, kept apart so that a caller following an inventory
//! through watch updates finds it again from the pods that changed, not by walking 10^5 pods
//! (each part below walks them all).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use super::{NamespaceSources, WebhookTarget, dns_targets, webhook_targets};
use crate::engine::{NamespacePods, PodEdits};
use crate::inventory::{Inventory, Node, Pod};
use crate::model::Protocol;

#[derive(Debug, Clone, PartialEq)]
pub struct PodFacts {
    /// Nodes a kube-apiserver pod runs on.
    pub(super) api_hosts: HashSet<String>,
    /// Nodes an etcd pod runs on.
    pub(super) etcd_hosts: HashSet<String>,
    pub(super) dns: Vec<(String, Protocol, u16)>,
    /// `ns/pod` of the first ordinary (not hostNetwork) pod of every namespace.
    pub(super) first: BTreeMap<String, String>,
    pub(super) webhooks: Vec<WebhookTarget>,
}

const APISERVER: &str = "kube-apiserver";
const ETCD: &str = "etcd";

impl PodFacts {
    pub fn of(inv: &Inventory) -> PodFacts {
        PodFacts {
            api_hosts: hosts_of(inv, APISERVER),
            etcd_hosts: hosts_of(inv, ETCD),
            dns: dns_targets(inv),
            first: first_pods(inv),
            webhooks: webhook_targets(inv),
        }
    }

    /// What [`PodFacts::of`] gives for `after`, from these facts of `before` and the pod
    /// `edits` between them: a part is found again only if a changed pod (old or new
    /// version) or another object it reads could change it. `runs`: where a namespace's pods
    /// are in `after` (the engine's pod index), to find its first pod without a walk.
    pub fn after(
        &self,
        before: &Inventory,
        after: &Inventory,
        edits: &PodEdits,
        runs: impl Fn(&str) -> NamespacePods,
    ) -> PodFacts {
        let changed: Vec<&Pod> = edits.changed(&before.pods, &after.pods).collect();
        let component = |c: &str| changed.iter().any(|p| p.is_control_plane_component(c));
        let hosts = |c: &str, kept: &HashSet<String>| match component(c) {
            true => hosts_of(after, c),
            false => kept.clone(),
        };
        let same_services = before.services == after.services;
        // The kube-dns service is in kube-system, and so are the pods found without it.
        let dns = match same_services && !changed.iter().any(|p| p.namespace == "kube-system") {
            true => self.dns.clone(),
            false => dns_targets(after),
        };
        let serves_webhook = |p: &&Pod| {
            after.webhooks.iter().any(|w| {
                w.service
                    .as_ref()
                    .is_some_and(|(ns, _, _)| *ns == p.namespace)
            })
        };
        let webhooks = match same_services
            && before.webhooks == after.webhooks
            && !changed.iter().any(serves_webhook)
        {
            true => self.webhooks.clone(),
            false => webhook_targets(after),
        };
        let namespaces: BTreeSet<&str> = changed.iter().map(|p| p.namespace.as_str()).collect();
        PodFacts {
            api_hosts: hosts(APISERVER, &self.api_hosts),
            etcd_hosts: hosts(ETCD, &self.etcd_hosts),
            dns,
            first: self.first_after(after, &namespaces, runs),
            webhooks,
        }
    }

    /// The first pods of `after`'s namespaces, of which only those of `namespaces` may differ
    /// from these.
    fn first_after(
        &self,
        after: &Inventory,
        namespaces: &BTreeSet<&str>,
        runs: impl Fn(&str) -> NamespacePods,
    ) -> BTreeMap<String, String> {
        let mut first = self.first.clone();
        for &ns in namespaces {
            let found = match runs(ns) {
                NamespacePods::Run(r) => after
                    .pods
                    .get(r)
                    .unwrap_or_default()
                    .iter()
                    .find(|p| !p.host_network),
                NamespacePods::Absent => None,
                NamespacePods::Unknown => return first_pods(after),
            };
            match found {
                Some(p) => first.insert(ns.to_owned(), format!("{}/{}", p.namespace, p.name)),
                None => first.remove(ns),
            };
        }
        first
    }

    /// The nodes `inv.apiserver_nodes()` gives, for the inventory these facts describe.
    pub fn apiserver_nodes<'i>(&self, inv: &'i Inventory) -> Vec<&'i Node> {
        inv.hosts_or_control_plane(|n| self.api_hosts.contains(n))
    }

    /// What [`NamespaceSources::of`] gives for the inventory these facts describe.
    pub fn namespace_sources(&self, inv: &Inventory) -> NamespaceSources {
        NamespaceSources {
            api: self.apiserver_nodes(inv).first().map(|n| n.name.clone()),
            dns: self.dns.clone(),
            first: self.first.clone(),
        }
    }
}

/// Nodes that a pod of this control-plane component runs on.
fn hosts_of(inv: &Inventory, component: &str) -> HashSet<String> {
    inv.pods
        .iter()
        .filter(|p| p.is_control_plane_component(component))
        .filter_map(|p| p.node.clone())
        .collect()
}

/// `ns/pod` of the first ordinary pod of every namespace.
fn first_pods(inv: &Inventory) -> BTreeMap<String, String> {
    let mut first: BTreeMap<String, String> = BTreeMap::new();
    // One lookup per run of a namespace's pods (they mostly come grouped).
    let mut last: Option<&str> = None;
    for p in inv.pods.iter().filter(|p| !p.host_network) {
        if last == Some(p.namespace.as_str()) {
            continue;
        }
        last = Some(p.namespace.as_str());
        if !first.contains_key(&p.namespace) {
            first.insert(p.namespace.clone(), format!("{}/{}", p.namespace, p.name));
        }
    }
    first
}

#[cfg(test)]
mod tests;
