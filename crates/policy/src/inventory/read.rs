//! `kubectl get -o yaml` objects → [`Inventory`]. Lenient: missing fields take Kubernetes
//! defaults; fields of the wrong type are errors naming file, document and field.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::ops::Range;
use std::sync::Arc;

use super::services;
use super::workloads::expand_workloads;
use super::{ContainerPort, Inventory, Namespace, Node, Owner, Pod, Service, Taint, Webhook};
use crate::error::ParseError;
use crate::model::Protocol;
use crate::parse::meta::{meta, string_map};
use crate::parse::reader::{Cx, field};
use crate::source::Document;
use crate::yaml::{self, Node as YNode, Value};

/// Kinds that feed the inventory.
pub const WORKLOAD_KINDS: &[&str] = &[
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
    "ReplicationController",
];

/// One inventory object converted from one document. Cheap to clone (pods and documents are
/// shared), so that a store of converted objects can assemble an inventory again and again.
#[derive(Debug, Clone)]
pub enum Object {
    Pod(Arc<Pod>),
    Namespace(Arc<Namespace>),
    Node(Arc<Node>),
    Service(Service),
    Webhooks(Vec<Webhook>),
    CiliumConfig(BTreeMap<String, String>),
    /// A cilium-agent pod and the Cilium version of its image.
    CiliumAgent(Arc<Pod>, (u32, u32)),
    /// Expanded once all pods are known (their template becomes a pod when none is given).
    Workload(Arc<Document>),
    /// A NetworkPolicy, CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy: in force in
    /// the cluster the inventory describes.
    Policy(Arc<Document>),
    Other,
}

/// Convert one document; independent of the others, so large lists convert in parallel.
pub fn object(doc: &Document) -> (Object, Vec<ParseError>) {
    let mut cx = Cx::new(&doc.origin);
    let kind = doc.kind();
    let obj = match kind {
        "Pod" => {
            let p = pod(&mut cx, &doc.node);
            // The agent's image tag is the cluster's Cilium version (checked only for the
            // agent's own pods: inventories hold 10^5 pods).
            let agent = p
                .owner
                .as_ref()
                .is_some_and(|o| o.kind == "DaemonSet" && o.name == "cilium");
            match agent
                .then(|| super::cilium_config::image_version(&doc.node))
                .flatten()
            {
                Some(v) => Object::CiliumAgent(Arc::new(p), v),
                None => Object::Pod(Arc::new(p)),
            }
        }
        "Namespace" => {
            let m = meta(&mut cx, &doc.node);
            Object::Namespace(Arc::new(Namespace {
                name: m.name,
                labels: m.labels,
            }))
        }
        "Node" => Object::Node(Arc::new(node(&mut cx, &doc.node))),
        "Service" => Object::Service(services::service(&mut cx, &doc.node)),
        "ValidatingWebhookConfiguration" | "MutatingWebhookConfiguration" => Object::Webhooks(
            services::webhooks(&mut cx, &doc.node, kind.starts_with("Mutating")),
        ),
        "ConfigMap" => {
            let m = meta(&mut cx, &doc.node);
            if m.name == "cilium-config" {
                Object::CiliumConfig(string_map(&mut cx, &doc.node, "data", "data"))
            } else {
                Object::Other
            }
        }
        k if WORKLOAD_KINDS.contains(&k) => Object::Workload(Arc::new(doc.clone())),
        k if crate::parse::is_policy_kind(k) => Object::Policy(Arc::new(doc.clone())),
        _ => Object::Other,
    };
    (obj, cx.errors)
}

/// Put converted objects together: workloads expanded, namespaces completed.
pub fn assemble(
    objects: impl IntoIterator<Item = (Object, Vec<ParseError>)>,
) -> Result<Inventory, Vec<ParseError>> {
    assemble_with_policies(objects).map(|(inv, _)| inv)
}

/// [`assemble`], and the policy objects among them (the policies in force), in input order.
pub fn assemble_with_policies(
    objects: impl IntoIterator<Item = (Object, Vec<ParseError>)>,
) -> Result<(Inventory, Vec<Document>), Vec<ParseError>> {
    assemble_onto(Inventory::default(), objects, None)
}

/// Pods converted earlier, in the order [`assemble`] would push them, with what they tell
/// about the cluster beyond themselves, so that the inventory can be assembled without
/// walking them again.
pub struct KnownPods<'a> {
    pub pods: Vec<Arc<Pod>>,
    /// The newest Cilium version among them that are Cilium agents.
    pub agent_version: Option<(u32, u32)>,
    /// Every namespace they are in (a superset does no harm to the answer, only to speed).
    pub namespaces: Vec<&'a str>,
    /// Where each namespace's pods are among them, when each namespace's are one run.
    pub runs: Option<HashMap<String, Range<usize>>>,
}

/// [`assemble`] of `known`'s pods followed by `objects` that hold no pod: the same inventory
/// as `assemble` of all of them in that order, without walking the known pods (10^5 from
/// etcd) when their namespaces are all listed.
pub fn assemble_with_known_pods(
    known: KnownPods<'_>,
    objects: impl IntoIterator<Item = (Object, Vec<ParseError>)>,
) -> Result<Inventory, Vec<ParseError>> {
    let mut inv = Inventory {
        pods: known.pods,
        ..Inventory::default()
    };
    inv.cilium.version = known.agent_version;
    let settled = Settled {
        pods: inv.pods.len(),
        namespaces: &known.namespaces,
        runs: known.runs,
    };
    assemble_onto(inv, objects, Some(settled)).map(|(inv, _)| inv)
}

/// What is known of the first pods of an inventory being assembled.
struct Settled<'a> {
    /// How many.
    pods: usize,
    /// Their namespaces: when all of them are listed, those pods add none to the inventory.
    namespaces: &'a [&'a str],
    runs: Option<HashMap<String, Range<usize>>>,
}

/// [`assemble`] onto an inventory that may hold pods already (`settled` says what is known of
/// them).
fn assemble_onto(
    mut inv: Inventory,
    objects: impl IntoIterator<Item = (Object, Vec<ParseError>)>,
    settled: Option<Settled<'_>>,
) -> Result<(Inventory, Vec<Document>), Vec<ParseError>> {
    let mut policies = Vec::new();
    let mut errors = Vec::new();
    let mut workloads = Vec::new();
    for (obj, mut errs) in objects {
        errors.append(&mut errs);
        match obj {
            Object::Pod(p) => inv.pods.push(p),
            Object::CiliumAgent(p, v) => {
                inv.pods.push(p);
                inv.cilium.version = inv.cilium.version.max(Some(v));
            }
            Object::Namespace(n) => inv.namespaces.push(n),
            Object::Node(n) => inv.nodes.push(n),
            Object::Service(s) => inv.services.push(s),
            Object::Webhooks(w) => inv.webhooks.extend(w),
            Object::CiliumConfig(data) => {
                let unknown = inv.cilium.apply(&data);
                let found =
                    super::cilium_config::unknown_values(&unknown, "ConfigMap cilium-config");
                inv.findings.extend(found);
            }
            Object::Workload(doc) => workloads.push(doc),
            Object::Policy(doc) => policies.push(Arc::unwrap_or_clone(doc)),
            Object::Other => {}
        }
    }
    if inv.cilium.version.is_none() {
        inv.cilium.version = workloads
            .iter()
            .filter(|d| {
                d.kind() == "DaemonSet"
                    && field(&d.node, "metadata")
                        .and_then(|m| field(m, "name"))
                        .and_then(|n| n.scalar_text())
                        .is_some_and(|n| n == "cilium")
            })
            .filter_map(|d| field(&d.node, "spec").and_then(|s| field(s, "template")))
            .find_map(super::cilium_config::image_version);
    }
    let refs: Vec<&Document> = workloads.iter().map(|d| &**d).collect();
    expand_workloads(&mut inv, &refs, &mut errors);
    if errors.is_empty() {
        let listed: HashSet<&str> = inv.namespaces.iter().map(|n| n.name.as_str()).collect();
        match settled {
            Some(s) if s.namespaces.iter().all(|ns| listed.contains(ns)) => {
                inv.normalise_after(s.pods, s.runs);
            }
            _ => inv.normalise(),
        }
        Ok((inv, policies))
    } else {
        Err(errors)
    }
}

/// Build an inventory from a file or folder, converting large lists in parallel.
pub fn inventory_from_path(path: &std::path::Path) -> Result<Inventory, crate::error::LoadError> {
    inventory_and_policies_from_path(path).map(|(inv, _)| inv)
}

/// [`inventory_from_path`], and the policy objects the inventory holds (`kubectl get
/// netpol,cnp,ccnp -A -o yaml` in `--cluster`): the policies in force.
pub fn inventory_and_policies_from_path(
    path: &std::path::Path,
) -> Result<(Inventory, Vec<Document>), crate::error::LoadError> {
    let objects = crate::source::load_objects(path, inputs::Kind::INVENTORY, &object)?;
    assemble_with_policies(objects).map_err(crate::error::LoadError::Invalid)
}

/// Build an inventory from documents; policy objects and unknown kinds are skipped.
pub fn inventory(docs: &[Document]) -> Result<Inventory, Vec<ParseError>> {
    assemble(docs.iter().map(object))
}

pub(super) fn ip(cx: &mut Cx, n: &yaml::Node, path: &str) -> Option<IpAddr> {
    let s = cx.string(n, path)?;
    if s.is_empty() || s == "None" {
        return None;
    }
    match s.parse() {
        Ok(ip) => Some(ip),
        Err(_) => {
            cx.error(n.line, path, format!("{s:?} is not an IP address"));
            None
        }
    }
}

pub(crate) fn pod(cx: &mut Cx, doc: &yaml::Node) -> Pod {
    let m = meta(cx, doc);
    let mut p = Pod {
        namespace: m.namespace.unwrap_or_else(|| "default".to_owned()),
        name: m.name,
        labels: m.labels,
        ..Pod::default()
    };
    p.owner = owner(cx, doc);
    if let Some(spec) = field(doc, "spec") {
        pod_spec(cx, spec, "spec", &mut p);
    }
    if let Some(st) = field(doc, "status") {
        p.ip = field(st, "podIP").and_then(|n| ip(cx, n, "status.podIP"));
        if p.ip.is_none() && p.host_network {
            p.ip = field(st, "hostIP").and_then(|n| ip(cx, n, "status.hostIP"));
        }
    }
    p
}

/// The fields of a pod spec (also used for workload templates).
pub(crate) fn pod_spec(cx: &mut Cx, spec: &yaml::Node, path: &str, p: &mut Pod) {
    // Paths are formatted only on error: this runs for every pod of the inventory.
    p.host_network = match field(spec, "hostNetwork") {
        None => false,
        Some(YNode {
            value: Value::Bool(b),
            ..
        }) => *b,
        Some(n) => cx.bool(n, &format!("{path}.hostNetwork")).unwrap_or(false),
    };
    p.node = match field(spec, "nodeName") {
        None => None,
        Some(YNode {
            value: Value::Str(s),
            ..
        }) => Some(s.clone()),
        Some(n) => cx.string(n, &format!("{path}.nodeName")),
    };
    p.service_account =
        match field(spec, "serviceAccountName").or_else(|| field(spec, "serviceAccount")) {
            None => "default".to_owned(),
            Some(YNode {
                value: Value::Str(s),
                ..
            }) => s.clone(),
            Some(n) => cx
                .string(n, &format!("{path}.serviceAccountName"))
                .unwrap_or_else(|| "default".to_owned()),
        };
    for key in ["containers", "initContainers"] {
        let Some(list) = field(spec, key) else {
            continue;
        };
        // Paths are formatted only on error (this runs for every container of 10^5 pods).
        let items = match &list.value {
            Value::Seq(v) => v.as_slice(),
            _ => cx.list(list, &format!("{path}.{key}")).unwrap_or_default(),
        };
        for (i, c) in items.iter().enumerate() {
            let Some(ports) = field(c, "ports") else {
                continue;
            };
            let ports = match &ports.value {
                Value::Seq(v) => v.as_slice(),
                _ => cx
                    .list(ports, &format!("{path}.{key}[{i}].ports"))
                    .unwrap_or_default(),
            };
            for (j, port) in ports.iter().enumerate() {
                // Go's JSON decoding matches field names case-insensitively; so do we here.
                let key = ["containerPort", "containerport", "ContainerPort"]
                    .into_iter()
                    .find(|k| field(port, k).is_some())
                    .unwrap_or("containerPort");
                let number = field(port, key).and_then(|n| match &n.value {
                    Value::Int(v) => u16::try_from(*v).ok(),
                    Value::Str(s) => s.parse().ok(),
                    _ => None,
                });
                let Some(number) = number else {
                    cx.error(
                        port.line,
                        &format!("{path}.{key}[{i}].ports[{j}].containerPort"),
                        "containerPort must be a number in 1-65535",
                    );
                    continue;
                };
                let protocol = match field(port, "protocol").map(|n| &n.value) {
                    Some(Value::Str(s)) => Protocol::parse(s),
                    _ => None,
                }
                .unwrap_or(Protocol::Tcp);
                let name = field(port, "name").and_then(|n| n.scalar_text());
                p.ports.push(ContainerPort {
                    name,
                    port: number,
                    protocol,
                });
            }
        }
    }
}

fn owner(cx: &mut Cx, doc: &yaml::Node) -> Option<Owner> {
    let md = field(doc, "metadata")?;
    let refs = field(md, "ownerReferences")?;
    let refs = cx.list(refs, "metadata.ownerReferences")?;
    let pick = refs
        .iter()
        .find(|r| field(r, "controller").is_some_and(|c| c.value == Value::Bool(true)))
        .or_else(|| refs.first())?;
    Some(Owner {
        kind: field(pick, "kind")
            .and_then(|n| n.scalar_text())
            .unwrap_or_default(),
        name: field(pick, "name").and_then(|n| n.scalar_text())?,
    })
}

fn node(cx: &mut Cx, doc: &yaml::Node) -> Node {
    let m = meta(cx, doc);
    let mut n = Node {
        name: m.name,
        labels: m.labels,
        ..Node::default()
    };
    if let Some(taints) = field(doc, "spec").and_then(|s| field(s, "taints")) {
        for (i, t) in cx
            .list(taints, "spec.taints")
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let text = |k: &str| {
                field(t, k)
                    .and_then(|n| n.scalar_text())
                    .unwrap_or_default()
            };
            let taint = Taint {
                key: text("key"),
                value: text("value"),
                effect: text("effect"),
            };
            if taint.key.is_empty() {
                cx.error(
                    t.line,
                    &format!("spec.taints[{i}].key"),
                    "a taint needs a key",
                );
                continue;
            }
            n.taints.push(taint);
        }
    }
    if let Some(st) = field(doc, "status") {
        if let Some(addrs) = field(st, "addresses") {
            for (i, a) in cx
                .list(addrs, "status.addresses")
                .unwrap_or_default()
                .iter()
                .enumerate()
            {
                let kind = field(a, "type")
                    .and_then(|t| t.scalar_text())
                    .unwrap_or_default();
                if kind.ends_with("IP")
                    && let Some(addr) = field(a, "address")
                        .and_then(|x| ip(cx, x, &format!("status.addresses[{i}].address")))
                {
                    n.addresses.push(addr);
                }
            }
        }
        n.kernel = field(st, "nodeInfo")
            .and_then(|ni| field(ni, "kernelVersion"))
            .and_then(|k| k.scalar_text());
    }
    n
}

/// Helper for tests and callers: labels as a map.
pub fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}
