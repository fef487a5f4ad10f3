//! Where the scheduler would put a workload's pods: the template's `nodeSelector` and
//! `tolerations` against node labels and taints. Node affinity and resources are not
//! modelled: a node that passes these two checks is taken as able to run the pod.

use std::collections::BTreeMap;

use super::{Node, Taint};
use crate::parse::meta::string_map;
use crate::parse::reader::{Cx, field};
use crate::yaml;

/// One `tolerations[]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Toleration {
    /// Empty with `Exists`: tolerates every taint.
    pub key: String,
    pub exists: bool,
    pub value: String,
    /// Empty: every effect.
    pub effect: String,
}

impl Toleration {
    fn exists(key: &str, effect: &str) -> Toleration {
        Toleration {
            key: key.to_owned(),
            exists: true,
            value: String::new(),
            effect: effect.to_owned(),
        }
    }

    /// The scheduler's `ToleratesTaint`: effect (if set) and key (if set) must equal the
    /// taint's; then `Exists` matches any value, `Equal` needs the same value.
    pub fn tolerates(&self, t: &Taint) -> bool {
        if !self.effect.is_empty() && self.effect != t.effect {
            return false;
        }
        if !self.key.is_empty() && self.key != t.key {
            return false;
        }
        self.exists || self.value == t.value
    }
}

/// The scheduling constraints of a pod template.
#[derive(Debug, Clone, Default)]
pub(super) struct Placement {
    pub node_selector: BTreeMap<String, String>,
    pub tolerations: Vec<Toleration>,
}

impl Placement {
    /// Read `nodeSelector` and `tolerations` from a pod spec; `path` names it in errors.
    pub fn read(cx: &mut Cx, spec: &yaml::Node, path: &str) -> Placement {
        // A nodeSelector of the wrong type would silently read as "every node".
        if let Some(ns) = field(spec, "nodeSelector")
            && ns.value != yaml::Value::Null
        {
            cx.map(ns, &format!("{path}.nodeSelector"));
        }
        let mut p = Placement {
            node_selector: string_map(cx, spec, "nodeSelector", &format!("{path}.nodeSelector")),
            tolerations: Vec::new(),
        };
        if let Some(list) = field(spec, "tolerations") {
            let tp = format!("{path}.tolerations");
            for t in cx.list(list, &tp).unwrap_or_default() {
                let text = |k: &str| {
                    field(t, k)
                        .and_then(|n| n.scalar_text())
                        .unwrap_or_default()
                };
                p.tolerations.push(Toleration {
                    key: text("key"),
                    exists: text("operator") == "Exists",
                    value: text("value"),
                    effect: text("effect"),
                });
            }
        }
        p
    }

    /// The tolerations the DaemonSet controller adds to every daemon pod, so that daemons
    /// keep running on nodes with condition taints (and on not-yet-networked nodes for
    /// hostNetwork daemons, which is how a CNI agent starts).
    pub fn add_daemon_tolerations(&mut self, host_network: bool) {
        for (key, effect) in [
            ("node.kubernetes.io/not-ready", "NoExecute"),
            ("node.kubernetes.io/unreachable", "NoExecute"),
            ("node.kubernetes.io/disk-pressure", "NoSchedule"),
            ("node.kubernetes.io/memory-pressure", "NoSchedule"),
            ("node.kubernetes.io/pid-pressure", "NoSchedule"),
            ("node.kubernetes.io/unschedulable", "NoSchedule"),
        ] {
            self.tolerations.push(Toleration::exists(key, effect));
        }
        if host_network {
            self.tolerations.push(Toleration::exists(
                "node.kubernetes.io/network-unavailable",
                "NoSchedule",
            ));
        }
    }

    /// The node's labels carry every `nodeSelector` pair, and every `NoSchedule` or
    /// `NoExecute` taint is tolerated (`PreferNoSchedule` only steers, it never forbids).
    pub fn fits(&self, node: &Node) -> bool {
        self.node_selector
            .iter()
            .all(|(k, v)| node.labels.get(k) == Some(v))
            && node
                .taints
                .iter()
                .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
                .all(|t| self.tolerations.iter().any(|x| x.tolerates(t)))
    }
}
