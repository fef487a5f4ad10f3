//! Lints on single policies.

use crate::engine::labels::{CSelector, kept_by_filter};
use crate::findings::{Finding, Severity};
use crate::inventory::Inventory;
use crate::model::{
    CiliumPolicy, CiliumRule, Direction, Entity, KnpPeer, L7Kind, NetworkPolicy, Peer, PolicySet,
    PortSpec, RuleItem, Subject,
};

fn sel_text(s: &Subject) -> String {
    match s {
        Subject::Nodes(sel) | Subject::Endpoints(sel) => sel.describe(),
    }
}

fn warn(code: &'static str, loc: String, rules: &[&'static str], msg: String) -> Finding {
    Finding::new(Severity::Warning, code, msg)
        .at(loc)
        .rules(rules)
}

pub(super) fn lint_policies(set: &PolicySet, inv: &Inventory, out: &mut Vec<Finding>) {
    // Node addresses sorted once: 10^4 ipBlocks meet 10^3 nodes in large inventories.
    let mut node_ips: Vec<(std::net::IpAddr, &str)> = inv
        .nodes
        .iter()
        .flat_map(|n| n.addresses.iter().map(move |a| (*a, n.name.as_str())))
        .collect();
    node_ips.sort_unstable();
    for p in &set.network_policies {
        knp(p, inv, &node_ips, out);
    }
    for p in &set.cilium {
        refused(p, inv, out);
        for r in &p.rules {
            cilium_rule(p, r, inv, out);
        }
    }
}

/// C7.7: fromNodes/toNodes without node-selector labels: the agent refuses the policy.
fn refused(p: &CiliumPolicy, inv: &Inventory, out: &mut Vec<Finding>) {
    let Some(why) = crate::engine::compile::refused_by_agent(p, &inv.cilium) else {
        return;
    };
    let source = if inv.cilium.from_config_map {
        "as the given cilium-config says"
    } else {
        "Cilium's default, assumed: no cilium-config given"
    };
    out.push(Finding::new(Severity::Warning, "refused-by-agent", format!(
        "{}: {why} ({source}); it enforces nothing, and verdicts on the endpoints it would select say so. Set enable-node-selector-labels=true, or use fromEntities/toEntities: [remote-node]",
        p.display_name()
    )).at(format!("{}:{}", p.origin.file, p.origin.line)).rules(&["C7.7"]));
}

/// Names of the nodes with an address in `cidr` (sorted `node_ips`), at most `limit`, and
/// whether there are any.
fn nodes_in<'a>(node_ips: &[(std::net::IpAddr, &'a str)], cidr: &ipnet::IpNet) -> Vec<&'a str> {
    let (lo, hi) = (cidr.network(), cidr.broadcast());
    let start = node_ips.partition_point(|(a, _)| *a < lo);
    let end = node_ips.partition_point(|(a, _)| *a <= hi);
    let mut names: Vec<&str> = Vec::new();
    for (_, n) in node_ips.get(start..end).unwrap_or_default() {
        if !names.contains(n) {
            names.push(n);
        }
        if names.len() == 3 {
            break;
        }
    }
    names
}

fn knp(
    p: &NetworkPolicy,
    inv: &Inventory,
    node_ips: &[(std::net::IpAddr, &str)],
    out: &mut Vec<Finding>,
) {
    let loc = format!("{}:{}", p.origin.file, p.origin.line);
    let name = format!("NetworkPolicy {}/{}", p.namespace, p.name);
    // d.17 / K2: egress rules without policyTypes also isolate ingress.
    if !p.policy_types_explicit && !p.egress.is_empty() && p.ingress.is_empty() {
        out.push(warn("knp-egress-only-isolates-ingress", loc.clone(), &["K2", "d.17"], format!(
            "{name} has egress rules and no policyTypes: Ingress is implied too, so the selected pods accept no ingress at all. Add `policyTypes: [Egress]` if only egress was meant."
        )));
    }
    for (i, r) in p.ingress.iter().chain(p.egress.iter()).enumerate() {
        for peer in &r.peers {
            match peer {
                // d.19: namespaceSelector {} opens every namespace.
                KnpPeer::Pods { namespaces: Some(ns), pods: None } if ns.is_empty() => out.push(
                    Finding::new(Severity::Info, "knp-all-namespaces", format!("{name} rule {i}: `namespaceSelector: {{}}` admits every pod of every namespace")).at(format!("{}:{}", p.origin.file, r.line)).rules(&["K6", "d.19"]),
                ),
                // d.16 / C9: ipBlock does not match node IPs under Cilium by default.
                // `0.0.0.0/0` means the world, not the nodes: no finding for it.
                KnpPeer::IpBlock { cidr, .. } if !inv.cilium.cidr_match_nodes && cidr.prefix_len() > 0 => {
                    let nodes = nodes_in(node_ips, cidr);
                    if !nodes.is_empty() {
                        out.push(warn("ipblock-node-ips", format!("{}:{}", p.origin.file, r.line), &["C9", "K9", "d.16"], format!(
                            "{name}: ipBlock {cidr} covers node IPs ({}), but Cilium does not match nodes (or the API server on them) by CIDR unless `policy-cidr-match-mode: nodes`; use `toEntities: [kube-apiserver]` in a CNP",
                            nodes.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
                        )));
                    }
                }
                _ => {}
            }
        }
    }
    if p.affects(Direction::Egress) && !allows_dns_knp(p) {
        out.push(warn("egress-without-dns", loc, &["d.15"], format!(
            "{name} isolates egress but no rule allows port 53 (UDP and TCP): name resolution breaks for the selected pods"
        )));
    }
}

fn allows_dns_knp(p: &NetworkPolicy) -> bool {
    p.egress.iter().any(|r| {
        r.ports.is_empty()
            || r.ports.iter().any(|pp| match &pp.port {
                PortSpec::All => true,
                PortSpec::Number(n) => *n <= 53 && 53 <= pp.end_port.unwrap_or(*n).max(*n),
                PortSpec::Named(n) => n.contains("dns"),
            })
    })
}

fn items_allow_dns(items: &[RuleItem]) -> bool {
    items.iter().any(|it| match &it.ports {
        None => it.l3_present && it.icmps.is_none(),
        Some(rules) => rules.iter().any(|r| {
            r.ports.iter().any(|pp| match &pp.port {
                PortSpec::All => true,
                PortSpec::Number(n) => *n <= 53 && 53 <= pp.end_port.unwrap_or(*n).max(*n),
                PortSpec::Named(n) => n.contains("dns"),
            })
        }),
    })
}

/// What every lint of one Cilium rule needs.
struct RuleCx<'a> {
    p: &'a CiliumPolicy,
    r: &'a CiliumRule,
    inv: &'a Inventory,
    /// `file:line` of the rule.
    loc: String,
    /// `CiliumNetworkPolicy ns/name spec`.
    name: String,
    /// A host policy (nodeSelector).
    host: bool,
}

fn cilium_rule(p: &CiliumPolicy, r: &CiliumRule, inv: &Inventory, out: &mut Vec<Finding>) {
    let c = RuleCx {
        p,
        r,
        inv,
        loc: format!("{}:{}", p.origin.file, r.line),
        name: format!("{} {}", p.display_name(), r.path),
        host: matches!(r.subject, Subject::Nodes(_)),
    };
    for lint in [
        deny_only,
        host_lockout,
        items,
        subject,
        fqdn_and_dns,
        clusterwide_dns,
        l7_flag,
        edd_version,
    ] {
        lint(&c, out);
    }
}

/// d.14 / C2.6: deny-only rules switch on default deny.
fn deny_only(c: &RuleCx, out: &mut Vec<Finding>) {
    let r = c.r;
    let loc = &c.loc;
    let name = &c.name;
    let host = c.host;
    // d.14 / C2.6: deny-only switches on default deny.
    for (d, allows, denies, flag) in [
        (
            "ingress",
            &r.ingress,
            &r.ingress_deny,
            r.enable_default_deny.ingress,
        ),
        (
            "egress",
            &r.egress,
            &r.egress_deny,
            r.enable_default_deny.egress,
        ),
    ] {
        if allows.is_empty() && !denies.is_empty() && flag != Some(false) {
            out.push(Finding::new(Severity::Critical, "deny-only-default-deny", format!(
                "{name} has only {d}Deny rules: it still puts the selected {} into {d} default-deny, so everything not allowed elsewhere is dropped, not just what is denied. Add `{d}: [{{{}Entities: [all]}}]` or `enableDefaultDeny: {{{d}: false}}`",
                if host { "nodes" } else { "endpoints" },
                if d == "ingress" { "from" } else { "to" }
            )).at(loc.clone()).rules(&["C2.6", "d.14"]));
        }
    }
}

/// d.1 / C2.4, C13.4: a host policy isolating nodes without admitting the cluster.
fn host_lockout(c: &RuleCx, out: &mut Vec<Finding>) {
    let r = c.r;
    let loc = &c.loc;
    let name = &c.name;
    let host = c.host;
    // d.1 / C2.4, C13.4: a host policy that isolates nodes without admitting the cluster on
    // every port is how the field-report lockout happened.
    if host && !r.ingress.is_empty() && r.enable_default_deny.ingress != Some(false) {
        let open_to_cluster = r.ingress.iter().any(|it| {
            it.ports.is_none()
                && it.peers.iter().any(|x| {
                    matches!(
                        x,
                        Peer::Entity(Entity::Cluster | Entity::All | Entity::RemoteNode)
                    )
                })
        });
        if !open_to_cluster {
            out.push(warn("host-policy-lockout-risk", loc.clone(), &["C2.4", "C13.4", "d.1"], format!(
                "{name}: puts the host endpoint of every selected node ({}) into ingress default-deny and does not admit `remote-node`/`cluster` on all ports; etcd 2379/2380, the API server 6443, kubelet 10250, health 4240 and the tunnel depend on other rules. Run `lifeboat policy check` before applying",
                sel_text(&r.subject)
            )));
        }
    }
}

/// Per item: empty peer lists (d.23), endpoints in host policies (d.8), filtered peer labels (C6.4).
fn items(c: &RuleCx, out: &mut Vec<Finding>) {
    let p = c.p;
    let r = c.r;
    let host = c.host;
    for it in r
        .ingress
        .iter()
        .chain(&r.ingress_deny)
        .chain(&r.egress)
        .chain(&r.egress_deny)
    {
        // d.23 / C5.4: explicitly empty peer lists.
        if !it.empty_lists.is_empty() && it.peers.is_empty() {
            out.push(warn("empty-peer-list", format!("{}:{}", p.origin.file, it.line), &["C5.4", "d.23"], format!(
                "{} {}: `{}: []` selects no peer, yet the item still isolates the subject (write nothing, or `null`, to mean absent)",
                p.display_name(), it.path, it.empty_lists.join("`, `")
            )));
        }
        // d.8 / C7.3: fromEndpoints in a host policy covers pods only.
        if host && it.peers.iter().any(
            |x| matches!(x, Peer::Endpoints(s) if !CSelector::from_k8s(s).has_source("reserved")),
        ) {
            out.push(warn("host-policy-endpoints-pods-only", format!("{}:{}", p.origin.file, it.line), &["C7.3", "d.8"], format!(
                "{} {}: fromEndpoints/toEndpoints in a host policy match pods only, never other nodes, health or the API server; use `fromEntities: [cluster]` or `remote-node`/`kube-apiserver`/`health`",
                p.display_name(), it.path
            )));
        }
        for x in &it.peers {
            if let Peer::Endpoints(s) = x {
                let keys = CSelector::from_k8s(s).filtered_keys();
                if !keys.is_empty() {
                    out.push(warn("peer-selects-filtered-label", format!("{}:{}", p.origin.file, it.line), &["C6.4"], format!(
                        "{} {}: peer selector uses {} which the identity label filter drops: it never matches (fail-closed)",
                        p.display_name(), it.path, keys.join(", ")
                    )));
                }
            }
        }
    }
}

/// d.4 / C6.4, C13.2: subject selectors that select nothing.
fn subject(c: &RuleCx, out: &mut Vec<Finding>) {
    let r = c.r;
    let inv = c.inv;
    let loc = &c.loc;
    let name = &c.name;
    let host = c.host;
    // Subject selectors on filtered labels (d.4, C6.4, C13.2): inert, fail-open.
    let (sel, what) = match &r.subject {
        Subject::Nodes(s) => (s, "nodeSelector"),
        Subject::Endpoints(s) => (s, "endpointSelector"),
    };
    let keys = CSelector::from_k8s(sel).filtered_keys();
    if !keys.is_empty() {
        out.push(Finding::new(Severity::Critical, "subject-selects-filtered-label", format!(
            "{name}: {what} uses {} which the identity label filter drops: the policy selects nothing and enforces nothing (fail-open)",
            keys.join(", ")
        )).at(loc.clone()).rules(&["C6.4", "C13.2", "d.4"]));
    } else if host
        && !inv.assumed
        && !inv.nodes.iter().any(|n| {
            let labels: std::collections::BTreeMap<String, String> = n
                .labels
                .iter()
                .filter(|(k, _)| kept_by_filter(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            CSelector::from_k8s(sel).matches(&crate::engine::labels::filtered_k8s(&labels))
        })
    {
        out.push(warn("host-policy-selects-no-node", loc.clone(), &["C13.2", "d.4"], format!(
            "{name}: nodeSelector {} matches no node of the inventory (check label values, e.g. `\"\"` vs `\"true\"`)",
            sel.describe()
        )));
    }
}

/// d.20, d.7 / C11, C12: toFQDNs without DNS rules or proxy; DNS L7 in host policies.
fn fqdn_and_dns(c: &RuleCx, out: &mut Vec<Finding>) {
    let r = c.r;
    let inv = c.inv;
    let loc = &c.loc;
    let name = &c.name;
    let host = c.host;
    // d.20 / C12: toFQDNs needs a DNS L7 rule on the way to the resolver.
    let has_fqdn = r
        .egress
        .iter()
        .any(|it| it.peers.iter().any(|x| matches!(x, Peer::Fqdn(_))));
    let has_dns_l7 = r.egress.iter().any(|it| {
        it.ports
            .iter()
            .flatten()
            .any(|pr| pr.l7 == Some(L7Kind::Dns))
    });
    if has_fqdn && !has_dns_l7 {
        out.push(warn("fqdn-without-dns-rule", loc.clone(), &["C12", "d.20"], format!(
            "{name}: toFQDNs without an egress DNS L7 rule (`toPorts: [{{ports: [{{port: \"53\", protocol: ANY}}], rules: {{dns: [{{matchPattern: \"*\"}}]}}}}]`) in the same rule: no IPs are learned and the destinations stay blocked"
        )));
    }
    if has_fqdn && !inv.cilium.l7_proxy {
        out.push(warn(
            "fqdn-without-l7-proxy",
            loc.clone(),
            &["C12"],
            format!("{name}: toFQDNs needs enable-l7-proxy, which is off"),
        ));
    }
    // d.7 / C11, C12: DNS L7 in a host policy routes kubelet's lookups through the agent.
    if host && has_dns_l7 {
        out.push(warn("host-policy-l7-dns", loc.clone(), &["C11", "C12", "d.7"], format!(
            "{name}: an L7 DNS rule in a host policy sends all host DNS (kubelet's API server lookups included) through the agent's proxy; an agent restart then takes the node down"
        )));
    }
}

/// d.13, d.15: cluster-wide egress default deny without DNS.
fn clusterwide_dns(c: &RuleCx, out: &mut Vec<Finding>) {
    let p = c.p;
    let r = c.r;
    let loc = &c.loc;
    let name = &c.name;
    let sel = match &r.subject {
        Subject::Nodes(s) | Subject::Endpoints(s) => s,
    };
    // d.13, d.15: cluster-wide default deny without a DNS allowance.
    let clusterwide_subject = p.namespace.is_none()
        && matches!(&r.subject, Subject::Endpoints(s) if !s.requirements().any(|q| q.key.contains("io.kubernetes.pod.namespace")));
    let egress_default_deny = !r.egress.is_empty() && r.enable_default_deny.egress != Some(false);
    if clusterwide_subject && egress_default_deny && !items_allow_dns(&r.egress) {
        out.push(Finding::new(Severity::Critical, "clusterwide-default-deny-without-dns", format!(
            "{name}: cluster-wide egress default deny ({}) with no port-53 allowance: every selected pod (CoreDNS, operators and health endpoints included) loses DNS",
            sel.describe()
        )).at(loc.clone()).rules(&["C7.5", "d.13", "d.15"]));
    }
}

/// d.21 / C2.8: L7 with enableDefaultDeny false on older Cilium.
fn l7_flag(c: &RuleCx, out: &mut Vec<Finding>) {
    let r = c.r;
    let inv = c.inv;
    let loc = &c.loc;
    let name = &c.name;
    // d.21 / C2.8: L7 with enableDefaultDeny false on older Cilium.
    let l7 = r
        .ingress
        .iter()
        .chain(&r.egress)
        .any(|it| it.ports.iter().flatten().any(|pr| pr.l7.is_some()));
    let flag_false =
        r.enable_default_deny.ingress == Some(false) || r.enable_default_deny.egress == Some(false);
    if l7 && flag_false && inv.cilium.at_least(1, 18) != Some(true) {
        out.push(warn("l7-with-non-default-deny", loc.clone(), &["C2.8", "d.21"], format!(
            "{name}: L7 rules with enableDefaultDeny false may still refuse other L7 requests on that port before Cilium 1.18"
        )));
    }
}

/// C2.7: enableDefaultDeny needs Cilium 1.16.
fn edd_version(c: &RuleCx, out: &mut Vec<Finding>) {
    let r = c.r;
    let inv = c.inv;
    let loc = &c.loc;
    let name = &c.name;
    // C2.7: enableDefaultDeny needs Cilium 1.16.
    let has_flag =
        r.enable_default_deny.ingress.is_some() || r.enable_default_deny.egress.is_some();
    if has_flag {
        match inv.cilium.at_least(1, 16) {
            // Known and older: reported from the version table (parse::versions).
            Some(false) => {}
            None => out.push(Finding::new(Severity::Info, "enable-default-deny-version", format!(
                "{name}: enableDefaultDeny needs Cilium 1.16+ (pass --cilium-version to check)"
            )).at(loc.clone()).rules(&["C2.7"])),
            Some(true) => {}
        }
    }
}
