//! Pieces shared by NetworkPolicy and Cilium parsing: selectors, ports, CIDRs.

use ipnet::IpNet;

use super::reader::{Api, Cx, field};
use super::valid;
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
                    cx.strict_string(v, &format!("{p}.{k}"))
                };
                if let Some(value) = value {
                    let checked = label_key(cx, k).and_then(|()| valid::label_value(&value));
                    if let Err(e) = checked {
                        cx.error(v.line, &format!("{p}.{k}"), e);
                        continue;
                    }
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
            let values: Vec<String> = field(item, "values")
                .and_then(|n| {
                    let vp = format!("{ip}.values");
                    let items = cx.list(n, &vp)?;
                    Some(
                        items
                            .iter()
                            .enumerate()
                            .filter_map(|(j, v)| cx.strict_string(v, &format!("{vp}[{j}]")))
                            .collect(),
                    )
                })
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
            let values_ok = cx.api == Api::Cilium
                || values
                    .iter()
                    .try_for_each(|v| valid::label_value(v))
                    .is_ok();
            if let Err(e) = label_key(cx, &key).and_then(|()| {
                values_ok
                    .then_some(())
                    .ok_or_else(|| format!("values {values:?} hold an invalid label value"))
            }) {
                cx.error(item.line, &ip, e);
                continue;
            }
            sel.match_expressions.push(Requirement { key, op, values });
        }
    }
    Some(sel)
}

/// A label key as the API takes it: Kubernetes checks qualified names; Cilium's keys carry a
/// source (`k8s:`, `reserved:`) and are not checked by its CRD, so only emptiness is refused.
fn label_key(cx: &Cx, key: &str) -> Result<(), String> {
    match cx.api {
        Api::Kubernetes => valid::label_key(key),
        Api::Cilium if key.is_empty() => Err("a label key may not be empty".to_owned()),
        Api::Cilium => Ok(()),
    }
}

/// A port. Kubernetes (K7): a number 1-65535 or a lower-case port name; a quoted number is a
/// name there and refused. Cilium (C10): a string, `"0"` meaning all ports, or a port name.
pub(crate) fn port_spec(cx: &mut Cx, node: &Node, path: &str) -> Option<PortSpec> {
    let refuse = |cx: &mut Cx, msg: String| {
        cx.error(node.line, path, msg);
        None
    };
    match (&node.value, cx.api) {
        (Value::Int(i), Api::Kubernetes) => match u16::try_from(*i) {
            Ok(0) | Err(_) => refuse(
                cx,
                format!("port {i} is outside 1-65535 (leave `port` out to mean every port)"),
            ),
            Ok(p) => Some(PortSpec::Number(p)),
        },
        (Value::Int(i), Api::Cilium) => refuse(
            cx,
            format!("Cilium takes a port as a string: write port: \"{i}\""),
        ),
        (Value::Str(s), api) => {
            let s = s.as_str();
            if s.bytes().all(|b| b.is_ascii_digit()) && !s.is_empty() {
                if api == Api::Kubernetes {
                    return refuse(
                        cx,
                        format!(
                            "a quoted number is a port name to Kubernetes, and names need a letter: write port: {s} without quotes"
                        ),
                    );
                }
                return match s.parse::<u16>() {
                    Ok(0) => Some(PortSpec::All),
                    Ok(p) => Some(PortSpec::Number(p)),
                    Err(_) => refuse(cx, format!("port {s} is outside 0-65535")),
                };
            }
            if s.is_empty() && api == Api::Cilium {
                return refuse(
                    cx,
                    "port must be specified (\"0\" means every port)".to_owned(),
                );
            }
            if let Err(e) = valid::port_name(s, api == Api::Kubernetes) {
                return refuse(cx, e);
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

/// `endPort`: an integer (both schemas say int32; a quoted number is refused), 1-65535 for
/// Kubernetes, 0-65535 for Cilium.
pub(crate) fn end_port(cx: &mut Cx, node: &Node, path: &str) -> Option<u16> {
    let low = if cx.api == Api::Kubernetes { 1 } else { 0 };
    match &node.value {
        Value::Int(i) if (low..=65535).contains(i) => u16::try_from(*i).ok(),
        _ => {
            cx.error(
                node.line,
                path,
                format!("endPort must be a number in {low}-65535, without quotes"),
            );
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
    // Both schemas list the names in capitals and compare exactly (`tcp` is refused).
    match Protocol::parse(&s) {
        Some(p) if allowed.contains(&p) && s == p.as_str() => Some(p),
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

/// A CIDR with its prefix length; host bits are tolerated (Kubernetes and Cilium both accept
/// and truncate them). A bare address is refused: Cilium's CRD pattern and Kubernetes'
/// validation both want `/len` (C9, K6).
pub(crate) fn cidr(cx: &mut Cx, node: &Node, path: &str) -> Option<IpNet> {
    let s = cx.string(node, path)?;
    if let Ok(net) = s.parse::<IpNet>() {
        return Some(net.trunc());
    }
    let msg = match s.parse::<std::net::IpAddr>() {
        Ok(ip) => format!(
            "{s:?} has no prefix length; write {s}/{} for this one address",
            if ip.is_ipv4() { 32 } else { 128 }
        ),
        Err(_) => format!("{s:?} is not a CIDR (address/prefix length)"),
    };
    cx.error(node.line, path, msg);
    None
}

/// `except` entries must lie inside their `cidr` (C9); Kubernetes wants them strictly
/// smaller (K6: "must be a strict subset of `cidr`").
pub(crate) fn excepts(cx: &mut Cx, node: &Node, path: &str, outer: &IpNet) -> Vec<IpNet> {
    let mut out = Vec::new();
    for (i, item) in cx.list(node, path).unwrap_or_default().iter().enumerate() {
        let p = format!("{path}[{i}]");
        if let Some(net) = cidr(cx, item, &p) {
            let strict = cx.api == Api::Kubernetes;
            let inside =
                outer.contains(&net) && !(strict && net.prefix_len() == outer.prefix_len());
            if inside {
                out.push(net);
            } else {
                let how = if strict { "strictly inside" } else { "inside" };
                cx.error(item.line, &p, format!("except {net} is not {how} {outer}"));
            }
        }
    }
    out
}
