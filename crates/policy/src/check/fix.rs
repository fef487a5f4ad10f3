//! Suggested fixes for a denied flow, as YAML patches against the policy that isolates the
//! subject (or the deny rule that matched).

use crate::engine::{DirVerdict, Endpoint, Engine, EpKind};
use crate::model::{Direction, Protocol};

/// A fix for the first denying side of a flow, or `None` when it is allowed.
pub fn suggest(
    engine: &Engine,
    src: &Endpoint,
    dst: &Endpoint,
    protocol: Protocol,
    port: u16,
    ingress: &DirVerdict,
    egress: &DirVerdict,
) -> Option<String> {
    let (side, subject, peer) = if !ingress.allowed {
        (ingress, dst, src)
    } else if !egress.allowed {
        (egress, src, dst)
    } else {
        return None;
    };
    let d = side.direction;
    if let Some(i) = side.entry {
        // A deny rule matched (C4.2): adding allows cannot help.
        let e = &engine.entries[i];
        return Some(format!(
            "# {} denies this flow at {} ({}); deny wins over every allow (C4.2).\n# Remove that rule or narrow it so it no longer matches {} {}/{}.",
            e.policy,
            e.path,
            e.location,
            peer.name,
            protocol.as_str(),
            port
        ));
    }
    // Default deny: patch the first policy that isolates the subject in this direction.
    let entries = engine.entries_for(subject, d);
    let Some(&i) = entries.iter().find(|&&i| engine.entries[i].default_deny) else {
        return Some(format!(
            "# {} is default-deny without a selecting policy (enforcement mode `always`, C3).\n# Add a policy selecting it that allows {} {}/{}.",
            subject.name,
            peer.name,
            protocol.as_str(),
            port
        ));
    };
    let e = &engine.entries[i];
    let key = d.as_str();
    let rule = if e.kind == "NetworkPolicy" {
        knp_rule(peer, subject, d, protocol, port)
    } else {
        cilium_rule(peer, subject, d, protocol, port)
    };
    let rule_path = if e.path.starts_with("specs[") {
        format!("specs[{}].{key}", e.rule)
    } else {
        format!("spec.{key}")
    };
    let mut s = format!(
        "# Add to {rule_path} of {} ({}):\n{rule}",
        e.policy, e.location
    );
    if e.kind != "NetworkPolicy" {
        let version = match engine.inv.cilium.at_least(1, 16) {
            Some(false) => " (needs Cilium 1.16+, this cluster runs an older version)",
            _ => " (Cilium 1.16+)",
        };
        let parent = rule_path.trim_end_matches(&format!(".{key}"));
        s.push_str(&format!(
            "# Or stop this policy from isolating the {} in {key}{version} (C2.7); in {parent}:\nenableDefaultDeny:\n  {key}: false\n",
            if subject.kind == EpKind::Host { "host" } else { "endpoint" }
        ));
    }
    Some(s)
}

fn ports_yaml(protocol: Protocol, port: u16, indent: &str) -> String {
    if matches!(protocol, Protocol::Icmp | Protocol::IcmpV6) {
        let family = if protocol == Protocol::Icmp {
            "IPv4"
        } else {
            "IPv6"
        };
        return format!(
            "{indent}icmps:\n{indent}- fields:\n{indent}  - type: {port}\n{indent}    family: {family}\n"
        );
    }
    format!(
        "{indent}toPorts:\n{indent}- ports:\n{indent}  - port: \"{port}\"\n{indent}    protocol: {}\n",
        protocol.as_str()
    )
}

fn cilium_rule(
    peer: &Endpoint,
    subject: &Endpoint,
    d: Direction,
    protocol: Protocol,
    port: u16,
) -> String {
    let pre = if d == Direction::Ingress {
        "from"
    } else {
        "to"
    };
    let l3 = match peer.kind {
        EpKind::Host if peer.is_local_host_of(subject.node.as_deref()) => {
            format!("- {pre}Entities: [host]\n")
        }
        EpKind::Host if peer.apiserver && d == Direction::Egress => {
            format!("- {pre}Entities: [kube-apiserver, remote-node]\n")
        }
        EpKind::Host => format!("- {pre}Entities: [remote-node]\n"),
        EpKind::Health => format!("- {pre}Entities: [health]\n"),
        EpKind::World => match peer.ip {
            Some(ip) if ip.is_ipv4() => format!("- {pre}CIDR: [{ip}/32]\n"),
            Some(ip) => format!("- {pre}CIDR: [{ip}/128]\n"),
            None => format!("- {pre}Entities: [world]\n"),
        },
        // Host policies: pods are best admitted as the `cluster` entity (C8); a pod selector
        // would need the namespace injection rules (C7.3) to line up.
        EpKind::Pod if subject.kind == EpKind::Host => format!("- {pre}Entities: [cluster]\n"),
        EpKind::Pod => {
            let ns = peer.namespace.clone().unwrap_or_default();
            let app: Vec<String> = peer
                .labels
                .iter()
                .filter(|l| {
                    l.source == "k8s"
                        && !l.key.starts_with("io.cilium.k8s")
                        && !l.key.starts_with("io.kubernetes")
                })
                .map(|l| format!("        {}: {:?}\n", l.key, l.value))
                .collect();
            format!(
                "- {pre}Endpoints:\n  - matchLabels:\n        k8s:io.kubernetes.pod.namespace: {ns}\n{}",
                app.join("")
            )
        }
    };
    format!("{l3}{}", ports_yaml(protocol, port, "  "))
}

/// The peer pod's own labels (not the synthesized namespace/cluster/service-account ones).
fn own_labels(peer: &Endpoint, indent: &str) -> String {
    peer.labels
        .iter()
        .filter(|l| {
            l.source == "k8s"
                && !l.key.starts_with("io.cilium.k8s")
                && !l.key.starts_with("io.kubernetes")
        })
        .map(|l| format!("{indent}{}: {:?}\n", l.key, l.value))
        .collect()
}

fn knp_rule(
    peer: &Endpoint,
    subject: &Endpoint,
    d: Direction,
    protocol: Protocol,
    port: u16,
) -> String {
    let key = if d == Direction::Ingress {
        "from"
    } else {
        "to"
    };
    let l3 = match peer.kind {
        // K6: the pod by its labels; in another namespace, namespace AND pod in one element.
        EpKind::Pod => {
            let labels = own_labels(peer, "        ");
            let pods = if labels.is_empty() {
                "    podSelector: {}\n".to_owned()
            } else {
                format!("    podSelector:\n      matchLabels:\n{labels}")
            };
            if peer.namespace == subject.namespace {
                format!("- {key}:\n  -{}", &pods[3..])
            } else {
                format!(
                    "- {key}:\n  - namespaceSelector:\n      matchLabels:\n        kubernetes.io/metadata.name: {}\n{pods}",
                    peer.namespace.clone().unwrap_or_default()
                )
            }
        }
        _ => match peer.ip {
            Some(ip) => format!(
                "- {key}:\n  - ipBlock:\n      cidr: {ip}/{}\n",
                if ip.is_ipv4() { 32 } else { 128 }
            ),
            None => "- {}\n".to_owned(),
        },
    };
    format!(
        "{l3}  ports:\n  - port: {port}\n    protocol: {}\n",
        protocol.as_str()
    )
}
