//! Objects converted one at a time: what one stored object (one etcd key) gives the policy set
//! and the inventory, kept so that the input of a cluster followed by a watch is assembled from
//! conversions already made (shared pods, parsed policies) instead of from documents read again.

use std::sync::Arc;

use crate::error::ParseError;
use crate::inventory::Pod;
use crate::inventory::read::{self, Object};
use crate::model::PolicySet;
use crate::parse::{self, Parsed};
use crate::source::Document;

/// The conversions of one object's documents (several for a `List`).
#[derive(Debug, Clone, Default)]
pub struct Converted {
    /// What each document gives the inventory, with its errors; policies are left out (they
    /// are in `policies`, which is what the input reads them from).
    pub(super) objects: Vec<(Object, Vec<ParseError>)>,
    /// The policies among the documents, parsed, with their findings and errors.
    policies: Arc<Parsed>,
}

impl Converted {
    /// Converts `docs` (one object's documents, in order).
    pub fn of(docs: &[Document]) -> Converted {
        let objects = docs
            .iter()
            .map(|d| match read::object(d) {
                (Object::Policy(_), errors) => (Object::Other, errors),
                converted => converted,
            })
            .collect();
        Converted {
            objects,
            policies: Arc::new(parse::policies(docs)),
        }
    }
}

impl Converted {
    /// Whether the object gives the policy set anything: policies, findings or errors.
    pub fn has_policies(&self) -> bool {
        let p = &self.policies;
        !p.policies.is_empty() || !p.findings.is_empty() || !p.errors.is_empty()
    }
}

/// The policies of every conversion, in order, as [`parse::policies`] of all their documents
/// would give them (it reads each document on its own).
pub(super) fn policies_of<'a>(all: impl IntoIterator<Item = &'a Converted>) -> Parsed {
    let mut out = Parsed::default();
    for c in all {
        let p = &c.policies;
        let PolicySet {
            network_policies,
            cilium,
        } = &p.policies;
        out.policies
            .network_policies
            .extend(network_policies.iter().cloned());
        out.policies.cilium.extend(cilium.iter().cloned());
        out.findings.extend(p.findings.iter().cloned());
        out.errors.extend(p.errors.iter().cloned());
    }
    out
}

/// The inventory objects of every conversion, in order (clones share pods and documents).
pub(super) fn objects_of<'a>(
    all: impl IntoIterator<Item = &'a Converted>,
) -> impl Iterator<Item = (Object, Vec<ParseError>)> {
    all.into_iter().flat_map(|c| c.objects.iter().cloned())
}

/// (major, minor) of a Cilium agent's image.
pub(super) type CiliumVersion = (u32, u32);

impl Converted {
    /// The one pod this object is, with its Cilium version when it is a Cilium agent: what
    /// nearly every key of a cluster holds. `None` for anything else, or a pod with errors.
    pub(super) fn single_pod(&self) -> Option<(&Arc<Pod>, Option<CiliumVersion>)> {
        if self.has_policies() {
            return None;
        }
        match self.objects.as_slice() {
            [(Object::Pod(p), errors)] if errors.is_empty() => Some((p, None)),
            [(Object::CiliumAgent(p, v), errors)] if errors.is_empty() => Some((p, Some(*v))),
            _ => None,
        }
    }

    /// Whether any of its objects is a pod (a `List` of them, a pod with errors...).
    pub(super) fn holds_pods(&self) -> bool {
        let pod = |(o, _): &(Object, Vec<ParseError>)| {
            matches!(o, Object::Pod(_) | Object::CiliumAgent(..))
        };
        self.objects.iter().any(pod)
    }

    /// Whether it gives the inventory anything: an object, or an error.
    pub(super) fn gives_inventory(&self) -> bool {
        self.objects.iter().any(gives_inventory)
    }
}

pub(super) fn gives_inventory((o, errors): &(Object, Vec<ParseError>)) -> bool {
    !matches!(o, Object::Other) || !errors.is_empty()
}
