//! NetworkPolicy (networking.k8s.io/v1) → model, with K2 policyTypes defaulting.

use super::common::{check_range, cidr, end_port, excepts, port_spec, protocol, selector};
use super::meta::Meta;
use super::reader::{Cx, field};
use crate::model::{Direction, KnpPeer, KnpRule, NetworkPolicy, PortProtocol, PortSpec, Protocol};
use crate::yaml::Node;

const K8S_PROTOCOLS: &[Protocol] = &[Protocol::Tcp, Protocol::Udp, Protocol::Sctp];

pub(crate) fn network_policy(cx: &mut Cx, doc: &Node, meta: Meta) -> Option<NetworkPolicy> {
    cx.check_known(
        doc,
        "",
        &["apiVersion", "kind", "metadata", "spec", "status"],
    );
    let Some(spec) = field(doc, "spec").and_then(|s| cx.map(s, "spec")) else {
        cx.error(doc.line, "spec", "NetworkPolicy has no spec");
        return None;
    };
    cx.check_known(
        spec,
        "spec",
        &["podSelector", "policyTypes", "ingress", "egress"],
    );
    let pod_selector = field(spec, "podSelector")
        .and_then(|n| selector(cx, n, "spec.podSelector"))
        .unwrap_or_default();
    let ingress = rules(cx, spec, "ingress", "from");
    let egress = rules(cx, spec, "egress", "to");
    let explicit = field(spec, "policyTypes");
    let policy_types = match explicit {
        Some(node) => {
            let mut types = Vec::new();
            let written = cx.strings(node, "spec.policyTypes").unwrap_or_default();
            if written.len() > 2 {
                cx.error(
                    node.line,
                    "spec.policyTypes",
                    "may not specify more than two policyTypes (Ingress, Egress)",
                );
            }
            for (i, t) in written.iter().enumerate() {
                match t.as_str() {
                    "Ingress" => types.push(Direction::Ingress),
                    "Egress" => types.push(Direction::Egress),
                    other => cx.error(
                        node.line,
                        &format!("spec.policyTypes[{i}]"),
                        format!("unknown policy type {other:?} (Ingress, Egress)"),
                    ),
                }
            }
            types
        }
        // K2: Ingress always; Egress only when spec.egress is present and non-empty.
        None => {
            let mut types = vec![Direction::Ingress];
            if egress.as_ref().is_some_and(|e| !e.is_empty()) {
                types.push(Direction::Egress);
            }
            types
        }
    };
    let namespace = super::meta::namespace_or_default(cx, doc, &meta, "NetworkPolicy");
    Some(NetworkPolicy {
        name: meta.name,
        namespace,
        origin: cx.origin.clone(),
        pod_selector,
        policy_types,
        policy_types_explicit: explicit.is_some(),
        ingress: ingress.unwrap_or_default(),
        egress: egress.unwrap_or_default(),
    })
}

fn rules(cx: &mut Cx, spec: &Node, key: &str, peer_key: &str) -> Option<Vec<KnpRule>> {
    let node = field(spec, key)?;
    let path = format!("spec.{key}");
    let mut out = Vec::new();
    for (i, item) in cx.list(node, &path).unwrap_or_default().iter().enumerate() {
        let ip = format!("{path}[{i}]");
        let Some(item) = cx.map(item, &ip) else {
            continue;
        };
        cx.check_known(item, &ip, &[peer_key, "ports"]);
        let mut peers = Vec::new();
        if let Some(list) = field(item, peer_key) {
            let pp = format!("{ip}.{peer_key}");
            for (j, p) in cx.list(list, &pp).unwrap_or_default().iter().enumerate() {
                if let Some(peer) = knp_peer(cx, p, &format!("{pp}[{j}]")) {
                    peers.push(peer);
                }
            }
        }
        let mut ports = Vec::new();
        if let Some(list) = field(item, "ports") {
            let pp = format!("{ip}.ports");
            for (j, p) in cx.list(list, &pp).unwrap_or_default().iter().enumerate() {
                if let Some(port) = knp_port(cx, p, &format!("{pp}[{j}]")) {
                    ports.push(port);
                }
            }
        }
        out.push(KnpRule {
            line: item.line,
            peers,
            ports,
        });
    }
    Some(out)
}

fn knp_peer(cx: &mut Cx, node: &Node, path: &str) -> Option<KnpPeer> {
    let node = cx.map(node, path)?;
    cx.check_known(node, path, &["podSelector", "namespaceSelector", "ipBlock"]);
    let pods =
        field(node, "podSelector").and_then(|n| selector(cx, n, &format!("{path}.podSelector")));
    let namespaces = field(node, "namespaceSelector")
        .and_then(|n| selector(cx, n, &format!("{path}.namespaceSelector")));
    if let Some(ib) = field(node, "ipBlock") {
        // K6: ipBlock cannot be combined with the selectors.
        if pods.is_some() || namespaces.is_some() {
            cx.error(
                node.line,
                path,
                "ipBlock cannot be combined with podSelector or namespaceSelector",
            );
            return None;
        }
        let ip = format!("{path}.ipBlock");
        let ib = cx.map(ib, &ip)?;
        cx.check_known(ib, &ip, &["cidr", "except"]);
        let Some(node) = field(ib, "cidr") else {
            cx.error(ib.line, &format!("{ip}.cidr"), "ipBlock needs a cidr");
            return None;
        };
        // A cidr that does not parse is reported by `cidr` itself.
        let net = cidr(cx, node, &format!("{ip}.cidr"))?;
        let except = field(ib, "except")
            .map(|n| excepts(cx, n, &format!("{ip}.except"), &net))
            .unwrap_or_default();
        return Some(KnpPeer::IpBlock { cidr: net, except });
    }
    if pods.is_none() && namespaces.is_none() {
        cx.error(
            node.line,
            path,
            "a peer needs podSelector, namespaceSelector or ipBlock",
        );
        return None;
    }
    Some(KnpPeer::Pods { pods, namespaces })
}

fn knp_port(cx: &mut Cx, node: &Node, path: &str) -> Option<PortProtocol> {
    let node = cx.map(node, path)?;
    cx.check_known(node, path, &["port", "endPort", "protocol"]);
    // K7: protocol defaults to TCP; a missing port means all ports of that protocol.
    let protocol = match field(node, "protocol") {
        Some(p) => protocol(cx, p, &format!("{path}.protocol"), K8S_PROTOCOLS)?,
        None => Protocol::Tcp,
    };
    let port = match field(node, "port") {
        Some(p) => port_spec(cx, p, &format!("{path}.port"))?,
        None => PortSpec::All,
    };
    let end_port = match field(node, "endPort") {
        Some(e) => {
            let e = end_port(cx, e, &format!("{path}.endPort"))?;
            if !matches!(port, PortSpec::Number(_)) {
                cx.error(
                    node.line,
                    &format!("{path}.endPort"),
                    "endPort needs a numeric port",
                );
                return None;
            }
            Some(e)
        }
        None => None,
    };
    let pp = PortProtocol {
        port,
        end_port,
        protocol,
    };
    check_range(cx, &pp, node.line, path).then_some(pp)
}
