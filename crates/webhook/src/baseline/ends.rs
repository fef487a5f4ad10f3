//! The catalogue's flow ends after a watch update: an end resolves as before when nothing it
//! is resolved from changed, and is then taken from the baseline before (its pod position
//! moved to where the same pod now sits) instead of being looked up and built again.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use policy::check::catalogue::Flow;
use policy::engine::{Endpoint, Engine, EpKind, PodEdits};
use policy::inventory::Inventory;

/// What the ends of the baseline before were resolved from, against the inventory now.
pub(super) struct EndsBefore<'p> {
    pub ends: &'p HashMap<String, Option<Endpoint>>,
    /// How the pods changed; `None`: not known, no pod end is taken.
    pub edits: Option<&'p PodEdits>,
    /// The nodes are equal (host and health ends, node addresses).
    pub nodes: bool,
    /// The nodes running the API server are the same (host ends).
    pub apiservers: bool,
    /// The namespaces are equal (their labels are pod identities).
    pub namespaces: bool,
    /// `ns/name` of every changed pod (old and new versions): a name one of them holds may
    /// now resolve to another pod.
    pub changed: HashSet<String>,
    /// The inventory is the one before (same objects, pods in the same order): every end
    /// resolves as before.
    pub same_inventory: bool,
}

impl EndsBefore<'_> {
    pub fn changed_pods(
        before: &Inventory,
        after: &Inventory,
        edits: &PodEdits,
    ) -> HashSet<String> {
        edits
            .changed(&before.pods, &after.pods)
            .map(|p| format!("{}/{}", p.namespace, p.name))
            .collect()
    }

    /// `spec`'s end now, if it is provably what resolving it again gives. Only ends that
    /// depend on nothing but what is compared here are taken: host and health ends (nodes,
    /// API server), and ordinary pods found by name (the pod object, its namespace's labels;
    /// the Cilium settings are the same on this path). Addresses (found by a walk over pods),
    /// hostNetwork pods, unresolved names and the probe pod are resolved again.
    fn taken(&self, spec: &str) -> Option<Option<Endpoint>> {
        let old = self.ends.get(spec)?;
        if spec.starts_with("node/") {
            return (self.nodes && self.apiservers).then(|| old.clone());
        }
        if spec.starts_with("health/") {
            return self.nodes.then(|| old.clone());
        }
        let edits = self.edits?;
        let address = spec.strip_prefix("world/").unwrap_or(spec);
        if address.parse::<IpAddr>().is_ok() {
            return None;
        }
        let old = old.as_ref()?;
        if old.kind != EpKind::Pod || !self.namespaces || self.changed.contains(spec) {
            return None;
        }
        let position = edits.remap(old.pod?)?;
        let mut end = old.clone();
        end.pod = Some(position);
        Some(Some(end))
    }
}

/// The ends of `flows` as `engine` resolves them, and which of them were taken from
/// `before` (whose verdict inputs did not change).
pub(super) fn resolve<'f>(
    engine: &Engine<'_>,
    flows: &'f [Flow],
    before: Option<&EndsBefore<'_>>,
) -> (HashMap<String, Option<Endpoint>>, HashSet<&'f str>) {
    let mut ends = HashMap::with_capacity(flows.len());
    let mut taken = HashSet::with_capacity(flows.len());
    for f in flows {
        for spec in [&f.src, &f.dst] {
            if ends.contains_key(spec) {
                continue;
            }
            let end = match before.and_then(|b| b.taken(spec)) {
                Some(end) => {
                    taken.insert(spec.as_str());
                    end
                }
                None => engine.resolve(spec),
            };
            ends.insert(spec.clone(), end);
        }
    }
    (ends, taken)
}
