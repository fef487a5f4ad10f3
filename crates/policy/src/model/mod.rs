//! Typed policy model: what the parser produces and the engine consumes.
//!
//! Absent and explicitly empty lists are kept apart (`Option<Vec<_>>`) because they mean
//! different things: K5 (empty `from` = all peers) and C5.4 (empty Cilium peer list = none).

pub mod cilium;
pub mod knp;
pub mod ports;
pub mod selector;

pub use cilium::{
    CidrRule, CiliumPolicy, CiliumRule, DefaultDeny, Entity, FqdnSelector, IcmpField, L7Kind, Peer,
    PortRule, RuleItem, Subject,
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

/// All policies read from the input, in input order.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    pub network_policies: Vec<NetworkPolicy>,
    pub cilium: Vec<CiliumPolicy>,
}

impl PolicySet {
    pub fn is_empty(&self) -> bool {
        self.network_policies.is_empty() && self.cilium.is_empty()
    }

    pub fn extend(&mut self, other: PolicySet) {
        self.network_policies.extend(other.network_policies);
        self.cilium.extend(other.cilium);
    }
}
