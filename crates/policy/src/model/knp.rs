//! Kubernetes NetworkPolicy (networking.k8s.io/v1), rules K1-K9.

use super::{Direction, LabelSelector, Origin, PortProtocol};
use ipnet::IpNet;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkPolicy {
    pub name: String,
    pub namespace: String,
    pub origin: Origin,
    /// K3: absent selector is `{}`.
    pub pod_selector: LabelSelector,
    /// Effective policy types after K2 defaulting.
    pub policy_types: Vec<Direction>,
    /// Whether `policyTypes` was written (lint: K2 footgun).
    pub policy_types_explicit: bool,
    pub ingress: Vec<KnpRule>,
    pub egress: Vec<KnpRule>,
}

impl NetworkPolicy {
    pub fn key(&self) -> super::ObjectKey {
        super::ObjectKey {
            kind: "NetworkPolicy",
            namespace: Some(self.namespace.clone()),
            name: self.name.clone(),
        }
    }

    pub fn affects(&self, d: Direction) -> bool {
        self.policy_types.contains(&d)
    }

    pub fn rules(&self, d: Direction) -> &[KnpRule] {
        match d {
            Direction::Ingress => &self.ingress,
            Direction::Egress => &self.egress,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnpRule {
    pub line: u32,
    /// K5: empty = every peer, including outside the cluster.
    pub peers: Vec<KnpPeer>,
    /// K5: empty = every port and protocol.
    pub ports: Vec<PortProtocol>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KnpPeer {
    /// K6: pod and/or namespace selector; both present = AND.
    Pods {
        pods: Option<LabelSelector>,
        namespaces: Option<LabelSelector>,
    },
    IpBlock {
        cidr: IpNet,
        except: Vec<IpNet>,
    },
}
