//! Typed policy model: what the parser produces and the engine consumes.
//!
//! Absent and explicitly empty lists are kept apart (`Option<Vec<_>>`) because they mean
//! different things: K5 (empty `from` = all peers) and C5.4 (empty Cilium peer list = none).

pub mod cilium;
pub mod knp;
pub mod ports;
pub mod selector;

use std::sync::Arc;

pub use cilium::{
    CidrRule, CiliumPolicy, CiliumRule, DefaultDeny, Entity, FieldUse, FqdnSelector, IcmpField,
    L7Kind, Peer, PortRule, RuleItem, Subject,
};
pub use knp::{KnpPeer, KnpRule, NetworkPolicy};
pub use ports::{PortProtocol, PortSpec, Protocol};
pub use selector::{LabelSelector, Op, Requirement};

/// Where an object came from: reported in every error, finding and explanation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Origin {
    pub file: String,
    /// 1-based document index inside the file (items of a `List` count as documents).
    pub doc: usize,
    pub line: u32,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (document {}, line {})",
            self.file, self.doc, self.line
        )
    }
}

/// Traffic direction relative to the selected subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }
}

/// What names an object to the API server: kind, namespace (none for cluster-scoped kinds)
/// and name. Two objects with one key are one object: the later write replaces the earlier.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    pub kind: &'static str,
    pub namespace: Option<String>,
    pub name: String,
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {ns}/{}", self.kind, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

/// An object set aside because another with its key came later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replaced {
    pub key: ObjectKey,
    /// Where the object set aside was read.
    pub replaced: Origin,
    /// Where the object that counts was read.
    pub by: Origin,
}

/// All policies read from the input, in input order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicySet {
    /// Each policy shared: a set made after a watch update changes one policy of 10^4 copies
    /// pointers to the others, and compares them by pointer first (the types are `Eq`).
    pub network_policies: Vec<Arc<NetworkPolicy>>,
    pub cilium: Vec<Arc<CiliumPolicy>>,
}

impl PolicySet {
    pub fn is_empty(&self) -> bool {
        self.network_policies.is_empty() && self.cilium.is_empty()
    }

    pub fn extend(&mut self, other: PolicySet) {
        self.network_policies.extend(other.network_policies);
        self.cilium.extend(other.cilium);
    }

    /// Of several objects with one key, keeps the last (as successive `kubectl apply`s
    /// leave it) and returns the others.
    pub fn keep_last_of_each(&mut self) -> Vec<Replaced> {
        let mut out = keep_last(&mut self.network_policies, |p| (p.key(), &p.origin));
        out.extend(keep_last(&mut self.cilium, |p| (p.key(), &p.origin)));
        out
    }

    /// Removes the objects that `newer` holds a version of (same key), as `kubectl apply`
    /// of `newer` would replace them, and returns them.
    pub fn remove_replaced_by(&mut self, newer: &PolicySet) -> Vec<Replaced> {
        // The usual case (no proposed policies): no key of 10^4 policies made for nothing.
        if newer.is_empty() {
            return Vec::new();
        }
        let by: std::collections::HashMap<ObjectKey, &Origin> = newer
            .network_policies
            .iter()
            .map(|p| (p.key(), &p.origin))
            .chain(newer.cilium.iter().map(|p| (p.key(), &p.origin)))
            .collect();
        let mut out = Vec::new();
        let mut take = |key: ObjectKey, origin: &Origin| match by.get(&key) {
            Some(newer) => {
                out.push(Replaced {
                    key,
                    replaced: origin.clone(),
                    by: (*newer).clone(),
                });
                false
            }
            None => true,
        };
        self.network_policies.retain(|p| take(p.key(), &p.origin));
        self.cilium.retain(|p| take(p.key(), &p.origin));
        out
    }
}

fn keep_last<T>(items: &mut Vec<T>, key: impl Fn(&T) -> (ObjectKey, &Origin)) -> Vec<Replaced> {
    let mut last: std::collections::HashMap<ObjectKey, usize> = std::collections::HashMap::new();
    for (i, item) in items.iter().enumerate() {
        last.insert(key(item).0, i);
    }
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let (k, origin) = key(item);
        if let Some(&keep) = last.get(&k)
            && keep != i
            && let Some(kept) = items.get(keep)
        {
            let by = key(kept).1.clone();
            out.push(Replaced {
                key: k,
                replaced: origin.clone(),
                by,
            });
        }
    }
    let mut i = 0;
    items.retain(|item| {
        let keep = last.get(&key(item).0) == Some(&i);
        i += 1;
        keep
    });
    out
}
