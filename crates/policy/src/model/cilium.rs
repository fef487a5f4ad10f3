//! CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy (cilium.io/v2), rules C1-C14.

use super::{LabelSelector, Origin, PortProtocol};
use ipnet::IpNet;

/// One use of a versioned field in a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldUse {
    /// Index into the version table (`crate::parse::versions::TABLE`).
    pub row: usize,
    /// `spec.ingress[0].fromNodes`.
    pub path: String,
    pub line: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiliumPolicy {
    pub name: String,
    /// `None` for a CiliumClusterwideNetworkPolicy.
    pub namespace: Option<String>,
    pub origin: Origin,
    /// `spec` first, then `specs[]` (C1).
    pub rules: Vec<CiliumRule>,
    /// Fields that older Cilium versions do not have ([`crate::parse::versions`]).
    pub versioned: Vec<FieldUse>,
}

impl CiliumPolicy {
    pub fn kind(&self) -> &'static str {
        if self.namespace.is_some() {
            "CiliumNetworkPolicy"
        } else {
            "CiliumClusterwideNetworkPolicy"
        }
    }

    pub fn key(&self) -> super::ObjectKey {
        super::ObjectKey {
            kind: self.kind(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }

    pub fn display_name(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("CiliumNetworkPolicy {ns}/{}", self.name),
            None => format!("CiliumClusterwideNetworkPolicy {}", self.name),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// Workload endpoints (C7.1, C7.5).
    Endpoints(LabelSelector),
    /// Host endpoints of the matching nodes (C13.2). CCNP only (C1).
    Nodes(LabelSelector),
}

/// `enableDefaultDeny`, per direction; `None` = unset (C2.3).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DefaultDeny {
    pub ingress: Option<bool>,
    pub egress: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiliumRule {
    /// Path of the rule inside the object: `spec` or `specs[N]`.
    pub path: String,
    pub line: u32,
    pub subject: Subject,
    pub ingress: Vec<RuleItem>,
    pub ingress_deny: Vec<RuleItem>,
    pub egress: Vec<RuleItem>,
    pub egress_deny: Vec<RuleItem>,
    pub enable_default_deny: DefaultDeny,
    pub description: Option<String>,
}

/// One element of `ingress[]`, `egress[]`, `ingressDeny[]` or `egressDeny[]`: one PolicyEntry (C2.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleItem {
    pub line: u32,
    /// Field path, e.g. `spec.ingress[1]`.
    pub path: String,
    /// True when at least one L3 list was written (even if empty).
    pub l3_present: bool,
    /// Union of all L3 peers of the item (C5.1). `l3_present && peers.is_empty()` selects
    /// nothing (C5.4); `!l3_present` selects every peer (C5.2).
    pub peers: Vec<Peer>,
    /// `toPorts`; `None` = all ports (C5.3).
    pub ports: Option<Vec<PortRule>>,
    /// `icmps` fields (C10); `None` when absent.
    pub icmps: Option<Vec<IcmpField>>,
    /// Names of explicitly empty peer lists, for the C5.4 lint.
    pub empty_lists: Vec<String>,
    /// `fromRequires`/`toRequires` with entries: deprecated, not evaluated (C1).
    pub requires: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    Endpoints(LabelSelector),
    Entity(Entity),
    Cidr(CidrRule),
    Nodes(LabelSelector),
    Fqdn(FqdnSelector),
    /// `toServices`: a Kubernetes service by name/namespace or selector.
    Service {
        name: Option<String>,
        namespace: Option<String>,
        selector: Option<LabelSelector>,
    },
    /// Peers only known at runtime: `fromGroups`/`toGroups` (cloud provider groups, resolved by
    /// the operator) and CiliumCIDRGroup references. `what` names them for verdicts.
    Unresolved {
        what: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CidrRule {
    pub cidr: IpNet,
    pub except: Vec<IpNet>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FqdnSelector {
    Name(String),
    Pattern(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Entity {
    All,
    World,
    WorldIpv4,
    WorldIpv6,
    Cluster,
    Host,
    RemoteNode,
    KubeApiserver,
    Ingress,
    Health,
    Init,
    Unmanaged,
    None,
}

impl Entity {
    pub fn parse(s: &str) -> Option<Entity> {
        Some(match s {
            "all" => Entity::All,
            "world" => Entity::World,
            "world-ipv4" => Entity::WorldIpv4,
            "world-ipv6" => Entity::WorldIpv6,
            "cluster" => Entity::Cluster,
            "host" => Entity::Host,
            "remote-node" => Entity::RemoteNode,
            "kube-apiserver" => Entity::KubeApiserver,
            "ingress" => Entity::Ingress,
            "health" => Entity::Health,
            "init" => Entity::Init,
            "unmanaged" => Entity::Unmanaged,
            "none" => Entity::None,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Entity::All => "all",
            Entity::World => "world",
            Entity::WorldIpv4 => "world-ipv4",
            Entity::WorldIpv6 => "world-ipv6",
            Entity::Cluster => "cluster",
            Entity::Host => "host",
            Entity::RemoteNode => "remote-node",
            Entity::KubeApiserver => "kube-apiserver",
            Entity::Ingress => "ingress",
            Entity::Health => "health",
            Entity::Init => "init",
            Entity::Unmanaged => "unmanaged",
            Entity::None => "none",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L7Kind {
    Http,
    Kafka,
    Dns,
    Generic,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortRule {
    pub line: u32,
    pub ports: Vec<PortProtocol>,
    /// The L7 rule type present on this port rule, if any (C11).
    pub l7: Option<L7Kind>,
    /// DNS `matchPattern`/`matchName` entries when `l7 == Some(Dns)` (C12).
    pub dns_patterns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcmpField {
    pub family: String,
    pub icmp_type: String,
}
