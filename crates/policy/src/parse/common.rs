//! Pieces shared by NetworkPolicy and Cilium parsing: selectors, ports, CIDRs.

use ipnet::IpNet;

use super::reader::{Cx, field};
use crate::model::{LabelSelector, Op, PortProtocol, PortSpec, Protocol, Requirement};
use crate::yaml::{Node, Value};

pub(crate) fn selector(cx: &mut Cx, node: &Node, path: &str) -> Option<LabelSelector> {
    let node = cx.map(node, path)?;
    cx.check_known(node, path, &["matchLabels", "matchExpressions"]);
    let mut sel = LabelSelector::default();
    if let Some(ml) = field(node, "matchLabels") {
        let p = format!("{path}.matchLabels");
        if let Some(m) = cx.map(ml, &p)
            && let Value::Map(entries) = &m.value
        {
            for (k, v) in entries {
                // A null label value is the empty string, as Kubernetes reads `key:`.
                let value = if v.is_null() {
                    Some(String::new())
                } else {
                    cx.string(v, &format!("{p}.{k}"))
                };
                if let Some(value) = value {
                    sel.match_labels.push((k.clone(), value));
                }
            }
        }
    }
    if let Some(me) = field(node, "matchExpressions") {
        let p = format!("{path}.matchExpressions");
        for (i, item) in cx.list(me, &p).unwrap_or_default().iter().enumerate() {
            let ip = format!("{p}[{i}]");
            let Some(item) = cx.map(item, &ip) else {
                continue;
            };
            cx.check_known(item, &ip, &["key", "operator", "values"]);
            let key = field(item, "key").and_then(|n| cx.string(n, &format!("{ip}.key")));
            let op = field(item, "operator").and_then(|n| cx.string(n, &format!("{ip}.operator")));
            let values = field(item, "values")
                .and_then(|n| cx.strings(n, &format!("{ip}.values")))
                .unwrap_or_default();
            let (Some(key), Some(op)) = (key, op) else {
                cx.error(
                    item.line,
                    &ip,
                    "matchExpressions entry needs key and operator",
                );
                continue;
            };
            let op = match op.as_str() {
                "In" => Op::In,
                "NotIn" => Op::NotIn,
                "Exists" => Op::Exists,
                "DoesNotExist" => Op::DoesNotExist,
                other => {
                    cx.error(
                        item.line,
                        &format!("{ip}.operator"),
                        format!("unknown operator {other:?} (In, NotIn, Exists, DoesNotExist)"),
                    );
                    continue;
                }
            };
            let needs_values = matches!(op, Op::In | Op::NotIn);
            if needs_values && values.is_empty() {
                cx.error(item.line, &ip, "operator In/NotIn needs at least one value");
                continue;
            }
            if !needs_values && !values.is_empty() {
                cx.error(
                    item.line,
                    &ip,
                    "operator Exists/DoesNotExist takes no values",
                );
                continue;
            }
            sel.match_expressions.push(Requirement { key, op, values });
        }
    }
    Some(sel)
}

/// A port: integer or string; "0" and absent mean all (C10), non-numeric is a named port.
pub(crate) fn port_spec(cx: &mut Cx, node: &Node, path: &str) -> Option<PortSpec> {
    match &node.value {
        Value::Int(i) => match u16::try_from(*i) {
            Ok(0) => Some(PortSpec::All),
            Ok(p) => Some(PortSpec::Number(p)),
            Err(_) => {
                cx.error(node.line, path, format!("port {i} is outside 0-65535"));
                None
            }
        },
        Value::Str(s) => {
            let s = s.trim();
            if s.is_empty() {
                return Some(PortSpec::All);
            }
            if s.bytes().all(|b| b.is_ascii_digit()) {
                return match s.parse::<u16>() {
                    Ok(0) => Some(PortSpec::All),
                    Ok(p) => Some(PortSpec::Number(p)),
                    Err(_) => {
                        cx.error(node.line, path, format!("port {s} is outside 0-65535"));
                        None
                    }
                };
            }
            let valid = s.len() <= 15
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && s.bytes().any(|b| b.is_ascii_alphabetic());
            if !valid {
                cx.error(
                    node.line,
                    path,
                    format!("{s:?} is neither a port number nor a port name"),
                );
                return None;
            }
            // C10: named ports are lower-cased and resolved per destination endpoint.
            Some(PortSpec::Named(s.to_ascii_lowercase()))
        }
        _ => {
            cx.error(
                node.line,
                path,
                format!("expected a port number or name, found {}", node.type_name()),
            );
            None
        }
    }
}

pub(crate) fn end_port(cx: &mut Cx, node: &Node, path: &str) -> Option<u16> {
    let n = match &node.value {
        Value::Int(i) => Some(*i),
        Value::Str(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    match n.and_then(|n| u16::try_from(n).ok()) {
        Some(p) => Some(p),
        None => {
            cx.error(node.line, path, "endPort must be a number in 0-65535");
            None
        }
    }
}

pub(crate) fn protocol(
    cx: &mut Cx,
    node: &Node,
    path: &str,
    allowed: &[Protocol],
) -> Option<Protocol> {
    let s = cx.string(node, path)?;
    match Protocol::parse(&s) {
        Some(p) if allowed.contains(&p) => Some(p),
        _ => {
            let names: Vec<&str> = allowed.iter().map(|p| p.as_str()).collect();
            cx.error(
                node.line,
                path,
                format!(
                    "unsupported protocol {s:?} (expected one of {})",
                    names.join(", ")
                ),
            );
            None
        }
    }
}

/// Validate the range: `endPort` needs a numeric port and must not be below it (K7, C10).
pub(crate) fn check_range(cx: &mut Cx, pp: &PortProtocol, line: u32, path: &str) -> bool {
    match (&pp.port, pp.end_port) {
        (PortSpec::Number(p), Some(e)) if e < *p => {
            cx.error(line, path, format!("endPort {e} is below port {p}"));
            false
        }
        (PortSpec::Named(_), Some(_)) => {
            cx.warn(
                "endport-ignored",
                line,
                &["C10", "K7"],
                format!("{path}: endPort is ignored for a named port"),
            );
            true
        }
        _ => true,
    }
}

/// A CIDR; host bits are tolerated (Kubernetes and Cilium both accept and truncate them).
pub(crate) fn cidr(cx: &mut Cx, node: &Node, path: &str) -> Option<IpNet> {
    let s = cx.string(node, path)?;
    let s = s.trim();
    let parsed = s.parse::<IpNet>().ok().or_else(|| {
        // A bare address means a host route, as Cilium accepts it.
        s.parse::<std::net::IpAddr>().ok().map(IpNet::from)
    });
    match parsed {
        Some(net) => Some(net.trunc()),
        None => {
            cx.error(node.line, path, format!("{s:?} is not a CIDR"));
            None
        }
    }
}

/// `except` entries must lie inside their `cidr` (K6, C9).
pub(crate) fn excepts(cx: &mut Cx, node: &Node, path: &str, outer: &IpNet) -> Vec<IpNet> {
    let mut out = Vec::new();
    for (i, item) in cx.list(node, path).unwrap_or_default().iter().enumerate() {
        let p = format!("{path}[{i}]");
        if let Some(net) = cidr(cx, item, &p) {
            if outer.contains(&net) {
                out.push(net);
            } else {
                cx.error(item.line, &p, format!("except {net} is not inside {outer}"));
            }
        }
    }
    out
}
