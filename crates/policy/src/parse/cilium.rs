//! CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy (cilium.io/v2) → model, with the
//! validation Cilium's `Sanitize()` performs (C1, C5.6, C10, C11).

use super::common::{check_range, cidr, end_port, excepts, port_spec, protocol, selector};
use super::meta::Meta;
use super::reader::{Cx, field};
use super::valid;
use super::versions::{self, Place};
use crate::model::{
    CidrRule, CiliumPolicy, CiliumRule, DefaultDeny, Entity, FqdnSelector, IcmpField, L7Kind,
    LabelSelector, Peer, PortProtocol, PortRule, Protocol, RuleItem, Subject,
};
use crate::yaml::{Node, Value};

const CILIUM_PROTOCOLS: &[Protocol] =
    &[Protocol::Tcp, Protocol::Udp, Protocol::Sctp, Protocol::Any];
/// C10: at most 40 ports per PortRule.
const MAX_PORTS: usize = 40;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    Ingress,
    IngressDeny,
    Egress,
    EgressDeny,
}

impl Section {
    fn key(self) -> &'static str {
        match self {
            Section::Ingress => "ingress",
            Section::IngressDeny => "ingressDeny",
            Section::Egress => "egress",
            Section::EgressDeny => "egressDeny",
        }
    }
    fn is_ingress(self) -> bool {
        matches!(self, Section::Ingress | Section::IngressDeny)
    }
    fn is_deny(self) -> bool {
        matches!(self, Section::IngressDeny | Section::EgressDeny)
    }
    fn known(self) -> &'static [&'static str] {
        match self {
            Section::Ingress => &[
                "fromEndpoints",
                "fromRequires",
                "fromCIDR",
                "fromCIDRSet",
                "fromEntities",
                "fromGroups",
                "fromNodes",
                "toPorts",
                "icmps",
                "authentication",
            ],
            Section::IngressDeny => &[
                "fromEndpoints",
                "fromRequires",
                "fromCIDR",
                "fromCIDRSet",
                "fromEntities",
                "fromGroups",
                "fromNodes",
                "toPorts",
                "icmps",
            ],
            Section::Egress => &[
                "toEndpoints",
                "toRequires",
                "toCIDR",
                "toCIDRSet",
                "toEntities",
                "toServices",
                "toFQDNs",
                "toGroups",
                "toNodes",
                "toPorts",
                "icmps",
                "authentication",
            ],
            Section::EgressDeny => &[
                "toEndpoints",
                "toRequires",
                "toCIDR",
                "toCIDRSet",
                "toEntities",
                "toServices",
                "toGroups",
                "toNodes",
                "toPorts",
                "icmps",
            ],
        }
    }
}

pub(crate) fn cilium_policy(
    cx: &mut Cx,
    doc: &Node,
    meta: Meta,
    clusterwide: bool,
) -> Option<CiliumPolicy> {
    cx.check_known(
        doc,
        "",
        &["apiVersion", "kind", "metadata", "spec", "specs", "status"],
    );
    let kind = if clusterwide {
        "CiliumClusterwideNetworkPolicy"
    } else {
        "CiliumNetworkPolicy"
    };
    let mut rules = Vec::new();
    if let Some(spec) = field(doc, "spec")
        && let Some(r) = rule(cx, spec, "spec".to_owned(), clusterwide)
    {
        rules.push(r);
    }
    if let Some(specs) = field(doc, "specs") {
        for (i, spec) in cx
            .list(specs, "specs")
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            if let Some(r) = rule(cx, spec, format!("specs[{i}]"), clusterwide) {
                rules.push(r);
            }
        }
    }
    if field(doc, "spec").is_none() && field(doc, "specs").is_none() {
        cx.error(doc.line, "spec", format!("{kind} needs spec or specs (C1)"));
        return None;
    }
    if rules.is_empty() && cx.errors.is_empty() {
        // `specs: []` alone: Cilium refuses it ("empty policy"), it enforces nothing.
        cx.error(
            doc.line,
            "specs",
            format!("{kind} has no rule: specs is empty (C1)"),
        );
        return None;
    }
    let namespace = if clusterwide {
        if meta.namespace.is_some() {
            cx.warn(
                "namespace-ignored",
                doc.line,
                &["C7.5"],
                format!(
                    "{kind} {} is cluster-scoped; metadata.namespace is ignored",
                    meta.name
                ),
            );
        }
        None
    } else {
        Some(super::meta::namespace_or_default(cx, doc, &meta, kind))
    };
    Some(CiliumPolicy {
        name: meta.name,
        namespace,
        origin: cx.origin.clone(),
        rules,
        versioned: std::mem::take(&mut cx.versioned),
    })
}

fn rule(cx: &mut Cx, node: &Node, path: String, clusterwide: bool) -> Option<CiliumRule> {
    let node = cx.map(node, &path)?;
    cx.check_known(
        node,
        &path,
        &[
            "endpointSelector",
            "nodeSelector",
            "ingress",
            "ingressDeny",
            "egress",
            "egressDeny",
            "labels",
            "description",
            "enableDefaultDeny",
            "log",
        ],
    );
    versions::note(&mut cx.versioned, node, &path, Place::Rule);
    // C1: exactly one of endpointSelector / nodeSelector; nodeSelector only in a CCNP.
    let es = field(node, "endpointSelector");
    let ns = field(node, "nodeSelector");
    let subject = match (es, ns) {
        (Some(_), Some(_)) => {
            cx.error(
                node.line,
                &path,
                "rule has both endpointSelector and nodeSelector (C1)",
            );
            return None;
        }
        (None, None) => {
            cx.error(
                node.line,
                &path,
                "rule needs endpointSelector or nodeSelector (C1)",
            );
            return None;
        }
        (Some(s), None) => {
            Subject::Endpoints(selector(cx, s, &format!("{path}.endpointSelector"))?)
        }
        (None, Some(s)) => {
            if !clusterwide {
                cx.error(
                    s.line,
                    &format!("{path}.nodeSelector"),
                    "Invalid CiliumNetworkPolicy spec: rule cannot have NodeSelector (C1)",
                );
                return None;
            }
            Subject::Nodes(selector(cx, s, &format!("{path}.nodeSelector"))?)
        }
    };
    let host = matches!(subject, Subject::Nodes(_));
    let mut sections: [Vec<RuleItem>; 4] = Default::default();
    let mut any = false;
    for (slot, section) in [
        Section::Ingress,
        Section::IngressDeny,
        Section::Egress,
        Section::EgressDeny,
    ]
    .into_iter()
    .enumerate()
    {
        if let Some(list) = field(node, section.key()) {
            let sp = format!("{path}.{}", section.key());
            for (i, item) in cx.list(list, &sp).unwrap_or_default().iter().enumerate() {
                if let Some(it) = rule_item(cx, item, format!("{sp}[{i}]"), section, host) {
                    sections[slot].push(it);
                }
            }
            any |= !sections[slot].is_empty();
        }
    }
    if !any {
        // C1: Sanitize() rejects a rule with no non-empty direction list.
        cx.error(
            node.line,
            &path,
            "rule must have at least one of Ingress, IngressDeny, Egress, EgressDeny (C1)",
        );
        return None;
    }
    let mut edd = DefaultDeny::default();
    if let Some(d) = field(node, "enableDefaultDeny") {
        let dp = format!("{path}.enableDefaultDeny");
        if let Some(d) = cx.map(d, &dp) {
            cx.check_known(d, &dp, &["ingress", "egress"]);
            edd.ingress = field(d, "ingress").and_then(|n| cx.bool(n, &format!("{dp}.ingress")));
            edd.egress = field(d, "egress").and_then(|n| cx.bool(n, &format!("{dp}.egress")));
        }
    }
    let description =
        field(node, "description").and_then(|n| cx.string(n, &format!("{path}.description")));
    let [ingress, ingress_deny, egress, egress_deny] = sections;
    Some(CiliumRule {
        path,
        line: node.line,
        subject,
        ingress,
        ingress_deny,
        egress,
        egress_deny,
        enable_default_deny: edd,
        description,
    })
}

fn rule_item(
    cx: &mut Cx,
    node: &Node,
    path: String,
    section: Section,
    host: bool,
) -> Option<RuleItem> {
    let node = cx.map(node, &path)?;
    cx.check_known(node, &path, section.known());
    let place = if section.is_ingress() {
        Place::Ingress
    } else {
        Place::Egress
    };
    versions::note(&mut cx.versioned, node, &path, place);
    if section == Section::EgressDeny && field(node, "toFQDNs").is_some() {
        cx.error(
            node.line,
            &format!("{path}.toFQDNs"),
            "deny rules cannot use toFQDNs (C11)",
        );
    }
    let mut r = ItemReader::new(node, path, section);
    r.selector_peers(cx, "Endpoints", Peer::Endpoints);
    r.requires(cx);
    r.entities(cx);
    r.cidrs(cx);
    r.cidr_sets(cx);
    r.selector_peers(cx, "Nodes", Peer::Nodes);
    r.groups(cx);
    if !section.is_ingress() {
        r.fqdns(cx);
        r.services(cx);
    }
    r.check_combinations(cx);
    r.l4(cx, section, host);
    Some(r.item)
}

/// One rule item being read: the item, and which peer lists it holds (C5.1, C5.4, C5.6).
struct ItemReader<'n> {
    node: &'n Node,
    /// `from` or `to`.
    pre: &'static str,
    item: RuleItem,
    /// Every peer list present, even empty.
    present: Vec<String>,
    /// Peer lists with entries: Cilium refuses two kinds in one item (C5.1).
    written: Vec<String>,
}

impl<'n> ItemReader<'n> {
    fn new(node: &'n Node, path: String, section: Section) -> ItemReader<'n> {
        ItemReader {
            node,
            pre: if section.is_ingress() { "from" } else { "to" },
            item: RuleItem {
                line: node.line,
                path,
                ..RuleItem::default()
            },
            present: Vec::new(),
            written: Vec::new(),
        }
    }

    /// `fromX`/`toX` for `X`.
    fn key(&self, kind: &str) -> String {
        format!("{}{kind}", self.pre)
    }

    /// The peer list `name` with its path, noted as present (C5.4: an explicitly empty list
    /// selects nothing but still isolates).
    fn list(&mut self, cx: &mut Cx, name: &str) -> Option<(&'n [Node], String)> {
        let list = field(self.node, name)?;
        let p = format!("{}.{name}", self.item.path);
        let items = cx.list(list, &p).unwrap_or_default();
        self.item.l3_present = true;
        self.present.push(name.to_owned());
        if items.is_empty() {
            self.item.empty_lists.push(name.to_owned());
        } else {
            self.written.push(name.to_owned());
        }
        Some((items, p))
    }

    /// `fromEndpoints`/`toEndpoints` and `fromNodes`/`toNodes`: lists of label selectors,
    /// each a peer of the kind `peer` makes.
    fn selector_peers(&mut self, cx: &mut Cx, field: &str, peer: fn(LabelSelector) -> Peer) {
        let Some((items, p)) = self.list(cx, &self.key(field)) else {
            return;
        };
        for (i, s) in items.iter().enumerate() {
            if let Some(sel) = selector(cx, s, &format!("{p}[{i}]")) {
                self.item.peers.push(peer(sel));
            }
        }
    }

    fn requires(&mut self, cx: &mut Cx) {
        let Some(list) = field(self.node, &self.key("Requires")) else {
            return;
        };
        let p = format!("{}.{}", self.item.path, self.key("Requires"));
        if !cx.list(list, &p).unwrap_or_default().is_empty() {
            self.item.requires = true;
            cx.warn(
                "deprecated-requires",
                list.line,
                &["C1"],
                format!("{p}: fromRequires/toRequires is deprecated (MaxItems=0 in Cilium 1.20, which refuses it); not evaluated, so verdicts it could narrow are marked not certain"),
            );
        }
    }

    fn entities(&mut self, cx: &mut Cx) {
        let Some((items, p)) = self.list(cx, &self.key("Entities")) else {
            return;
        };
        for (i, n) in items.iter().enumerate() {
            let ip = format!("{p}[{i}]");
            let Some(name) = cx.string(n, &ip) else {
                continue;
            };
            match Entity::parse(&name) {
                Some(e) => self.item.peers.push(Peer::Entity(e)),
                None => cx.error(n.line, &ip, format!("unknown entity {name:?} (C8)")),
            }
        }
    }

    /// C9: fromCIDR X ≡ fromCIDRSet {cidr: X}.
    fn cidrs(&mut self, cx: &mut Cx) {
        let Some((items, p)) = self.list(cx, &self.key("CIDR")) else {
            return;
        };
        for (i, c) in items.iter().enumerate() {
            if let Some(net) = cidr(cx, c, &format!("{p}[{i}]")) {
                self.item.peers.push(Peer::Cidr(CidrRule {
                    cidr: net,
                    except: vec![],
                }));
            }
        }
    }

    fn cidr_sets(&mut self, cx: &mut Cx) {
        let Some((items, p)) = self.list(cx, &self.key("CIDRSet")) else {
            return;
        };
        for (i, c) in items.iter().enumerate() {
            if let Some(peer) = self.cidr_set_entry(cx, c, &format!("{p}[{i}]")) {
                self.item.peers.push(peer);
            }
        }
    }

    fn cidr_set_entry(&self, cx: &mut Cx, c: &Node, cp: &str) -> Option<Peer> {
        let c = cx.map(c, cp)?;
        cx.check_known(
            c,
            cp,
            &["cidr", "except", "cidrGroupRef", "cidrGroupSelector"],
        );
        let place = if self.pre == "from" {
            Place::IngressCidrSet
        } else {
            Place::EgressCidrSet
        };
        versions::note(&mut cx.versioned, c, cp, place);
        if let Some(n) = field(c, "cidr") {
            let net = cidr(cx, n, &format!("{cp}.cidr"))?;
            let except = field(c, "except")
                .map(|e| excepts(cx, e, &format!("{cp}.except"), &net))
                .unwrap_or_default();
            return Some(Peer::Cidr(CidrRule { cidr: net, except }));
        }
        if field(c, "cidrGroupRef").is_none() && field(c, "cidrGroupSelector").is_none() {
            cx.error(c.line, cp, "CIDR set entry needs cidr (C9)");
            return None;
        }
        cx.warn(
            "cidr-group",
            c.line,
            &["C9"],
            format!("{cp}: CiliumCIDRGroup references are not resolved offline: lifeboat cannot tell which addresses they hold, and verdicts that depend on them say so"),
        );
        let what = field(c, "cidrGroupRef")
            .and_then(|n| n.scalar_text())
            .map_or_else(
                || "a cidrGroupSelector".to_owned(),
                |n| format!("CiliumCIDRGroup {n}"),
            );
        Some(Peer::Unresolved { what })
    }

    fn groups(&mut self, cx: &mut Cx) {
        let key = self.key("Groups");
        let Some((items, p)) = self.list(cx, &key) else {
            return;
        };
        if items.is_empty() {
            return;
        }
        let line = items.first().map_or(self.item.line, |n| n.line);
        cx.warn(
            "groups-unresolved",
            line,
            &["C9"],
            format!("{p}: cloud provider groups are resolved by the Cilium operator at runtime, not offline: lifeboat cannot tell which addresses they hold, and verdicts that depend on them say so"),
        );
        self.item.peers.push(Peer::Unresolved {
            what: format!("{key} (cloud provider groups)"),
        });
    }

    fn fqdns(&mut self, cx: &mut Cx) {
        let Some((items, p)) = self.list(cx, "toFQDNs") else {
            return;
        };
        for (i, f) in items.iter().enumerate() {
            if let Some(sel) = fqdn_entry(cx, f, &format!("{p}[{i}]")) {
                self.item.peers.push(Peer::Fqdn(sel));
            }
        }
    }

    fn services(&mut self, cx: &mut Cx) {
        let Some((items, p)) = self.list(cx, "toServices") else {
            return;
        };
        for (i, s) in items.iter().enumerate() {
            if let Some(peer) = service(cx, s, &format!("{p}[{i}]")) {
                self.item.peers.push(peer);
            }
        }
    }

    /// C5.1, C5.6, C12: peer lists and ports that cannot go together in one item.
    fn check_combinations(&self, cx: &mut Cx) {
        let (line, path) = (self.node.line, self.item.path.as_str());
        // Cilium's Validate() refuses two kinds of peer list in one item ("combining
        // FromEndpoints and FromEntities is not supported yet").
        if self.written.len() > 1 {
            cx.error(
                line,
                path,
                format!(
                    "{} in one rule: Cilium refuses more than one kind of peer list per rule (C5.1); split it into one rule per kind",
                    self.written.join(" and ")
                ),
            );
        }
        let has = |name: &str| self.present.iter().any(|p| p == name);
        if has("toFQDNs") && self.present.len() > 1 && self.written.len() <= 1 {
            cx.error(
                line,
                path,
                "toFQDNs cannot be combined with other L3 selectors in one rule (C5.6, C12)",
            );
        }
        let ports = field(self.node, "toPorts").is_some();
        if has("toServices") && ports {
            cx.error(
                line,
                path,
                "toServices cannot be combined with toPorts (C5.6)",
            );
        }
        if ports && field(self.node, "icmps").is_some() {
            cx.error(
                line,
                path,
                "icmps cannot be combined with toPorts in one rule (C5.6, C10)",
            );
        }
    }

    /// `icmps` and `toPorts`.
    fn l4(&mut self, cx: &mut Cx, section: Section, host: bool) {
        let path = self.item.path.clone();
        if let Some(icmps) = field(self.node, "icmps") {
            self.item.icmps = Some(icmp_fields(cx, icmps, &format!("{path}.icmps")));
        }
        if let Some(list) = field(self.node, "toPorts") {
            let p = format!("{path}.toPorts");
            let items = cx.list(list, &p).unwrap_or_default();
            let rules = items
                .iter()
                .enumerate()
                .filter_map(|(i, pr)| port_rule(cx, pr, &format!("{p}[{i}]"), section, host))
                .collect();
            self.item.ports = Some(rules);
        }
    }
}

/// One `toFQDNs` entry (C12), its name or pattern as the CRD allows them.
fn fqdn_entry(cx: &mut Cx, f: &Node, fp: &str) -> Option<FqdnSelector> {
    let f = cx.map(f, fp)?;
    cx.check_known(f, fp, &["matchName", "matchPattern"]);
    for (key, pattern) in [("matchName", false), ("matchPattern", true)] {
        if let Some(v) = field(f, key).and_then(|n| n.scalar_text())
            && let Err(e) = valid::fqdn(&v, pattern)
        {
            cx.error(f.line, &format!("{fp}.{key}"), e);
        }
    }
    if let Some(n) = field(f, "matchName").and_then(|n| cx.string(n, &format!("{fp}.matchName"))) {
        return Some(FqdnSelector::Name(n.to_ascii_lowercase()));
    }
    if let Some(n) =
        field(f, "matchPattern").and_then(|n| cx.string(n, &format!("{fp}.matchPattern")))
    {
        return Some(FqdnSelector::Pattern(n.to_ascii_lowercase()));
    }
    cx.error(
        f.line,
        fp,
        "toFQDNs entry needs matchName or matchPattern (C12)",
    );
    None
}

fn service(cx: &mut Cx, node: &Node, path: &str) -> Option<Peer> {
    let node = cx.map(node, path)?;
    cx.check_known(node, path, &["k8sService", "k8sServiceSelector"]);
    if let Some(s) = field(node, "k8sService") {
        let sp = format!("{path}.k8sService");
        let s = cx.map(s, &sp)?;
        cx.check_known(s, &sp, &["serviceName", "namespace"]);
        return Some(Peer::Service {
            name: field(s, "serviceName").and_then(|n| cx.string(n, &format!("{sp}.serviceName"))),
            namespace: field(s, "namespace").and_then(|n| cx.string(n, &format!("{sp}.namespace"))),
            selector: None,
        });
    }
    if let Some(s) = field(node, "k8sServiceSelector") {
        let sp = format!("{path}.k8sServiceSelector");
        let s = cx.map(s, &sp)?;
        cx.check_known(s, &sp, &["selector", "namespace"]);
        let sel = field(s, "selector").and_then(|n| selector(cx, n, &format!("{sp}.selector")));
        return Some(Peer::Service {
            name: None,
            namespace: field(s, "namespace").and_then(|n| cx.string(n, &format!("{sp}.namespace"))),
            selector: Some(sel.unwrap_or_default()),
        });
    }
    cx.error(
        node.line,
        path,
        "toServices entry needs k8sService or k8sServiceSelector",
    );
    None
}

fn icmp_fields(cx: &mut Cx, node: &Node, path: &str) -> Vec<IcmpField> {
    let mut out = Vec::new();
    for (i, rule) in cx.list(node, path).unwrap_or_default().iter().enumerate() {
        let rp = format!("{path}[{i}]");
        let Some(rule) = cx.map(rule, &rp) else {
            continue;
        };
        cx.check_known(rule, &rp, &["fields"]);
        let Some(fields) = field(rule, "fields") else {
            continue;
        };
        for (j, f) in cx
            .list(fields, &format!("{rp}.fields"))
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let fp = format!("{rp}.fields[{j}]");
            let Some(f) = cx.map(f, &fp) else { continue };
            cx.check_known(f, &fp, &["type", "family"]);
            let family = field(f, "family")
                .and_then(|n| cx.string(n, &format!("{fp}.family")))
                .unwrap_or_else(|| "IPv4".to_owned());
            if family != "IPv4" && family != "IPv6" {
                cx.error(
                    f.line,
                    &format!("{fp}.family"),
                    format!("ICMP family {family:?} is not IPv4 or IPv6"),
                );
                continue;
            }
            match field(f, "type").and_then(|n| cx.string(n, &format!("{fp}.type"))) {
                Some(t) => match valid::icmp_type(&t) {
                    Ok(()) => out.push(IcmpField {
                        family,
                        icmp_type: t,
                    }),
                    Err(e) => cx.error(f.line, &format!("{fp}.type"), e),
                },
                None => cx.error(f.line, &fp, "ICMP field needs type"),
            }
        }
    }
    out
}

fn port_rule(
    cx: &mut Cx,
    node: &Node,
    path: &str,
    section: Section,
    host: bool,
) -> Option<PortRule> {
    let node = cx.map(node, path)?;
    cx.check_known(
        node,
        path,
        &[
            "ports",
            "rules",
            "terminatingTLS",
            "originatingTLS",
            "serverNames",
            "listener",
        ],
    );
    let mut ports = Vec::new();
    if let Some(list) = field(node, "ports") {
        let pp = format!("{path}.ports");
        let items = cx.list(list, &pp).unwrap_or_default();
        if items.len() > MAX_PORTS {
            cx.error(
                list.line,
                &pp,
                format!(
                    "{} ports in one PortRule; Cilium allows at most {MAX_PORTS} (C10)",
                    items.len()
                ),
            );
        }
        for (i, p) in items.iter().enumerate() {
            let ip = format!("{pp}[{i}]");
            let Some(p) = cx.map(p, &ip) else { continue };
            cx.check_known(p, &ip, &["port", "endPort", "protocol"]);
            versions::note(&mut cx.versioned, p, &ip, Place::Port);
            let protocol = match field(p, "protocol") {
                Some(n) => {
                    let text = n.scalar_text().unwrap_or_default();
                    if matches!(
                        text.as_str(),
                        "VRRP" | "IGMP" | "GRE" | "IPIP" | "IPV6" | "ESP" | "AH"
                    ) {
                        cx.warn(
                            "extended-protocol",
                            n.line,
                            &["C10"],
                            format!("{ip}.protocol: {text} needs --enable-extended-ip-protocols; not modelled"),
                        );
                        continue;
                    }
                    match protocol(cx, n, &format!("{ip}.protocol"), CILIUM_PROTOCOLS) {
                        Some(pr) => pr,
                        None => continue,
                    }
                }
                None => Protocol::Any,
            };
            let Some(port_node) = field(p, "port") else {
                cx.error(
                    p.line,
                    &format!("{ip}.port"),
                    "port must be specified (\"0\" means every port) (C10)",
                );
                continue;
            };
            let Some(port) = port_spec(cx, port_node, &format!("{ip}.port")) else {
                continue;
            };
            let end = match field(p, "endPort") {
                Some(e) => match end_port(cx, e, &format!("{ip}.endPort")) {
                    Some(v) => Some(v),
                    None => continue,
                },
                None => None,
            };
            let pp = PortProtocol {
                port,
                end_port: end,
                protocol,
            };
            if check_range(cx, &pp, p.line, &ip) {
                ports.push(pp);
            }
        }
    } else {
        ports.push(PortProtocol {
            port: crate::model::PortSpec::All,
            end_port: None,
            protocol: Protocol::Any,
        });
    }
    let mut l7 = None;
    let mut dns_patterns = Vec::new();
    if let Some(rules) = field(node, "rules") {
        let rp = format!("{path}.rules");
        if let Some(rules) = cx.map(rules, &rp) {
            cx.check_known(rules, &rp, &["http", "kafka", "dns", "l7proto", "l7"]);
            let mut kinds = Vec::new();
            if let Value::Map(entries) = &rules.value {
                for (k, v) in entries {
                    if v.is_null() {
                        continue;
                    }
                    let kind = match k.as_str() {
                        "http" => L7Kind::Http,
                        "kafka" => L7Kind::Kafka,
                        "dns" => L7Kind::Dns,
                        "l7proto" | "l7" => L7Kind::Generic,
                        _ => continue,
                    };
                    if !kinds.contains(&kind) {
                        kinds.push(kind);
                    }
                    if kind == L7Kind::Dns {
                        for (i, d) in cx
                            .list(v, &format!("{rp}.dns"))
                            .unwrap_or_default()
                            .iter()
                            .enumerate()
                        {
                            let dp = format!("{rp}.dns[{i}]");
                            let Some(d) = cx.map(d, &dp) else { continue };
                            cx.check_known(d, &dp, &["matchName", "matchPattern"]);
                            for key in ["matchName", "matchPattern"] {
                                if let Some(s) =
                                    field(d, key).and_then(|n| cx.string(n, &format!("{dp}.{key}")))
                                {
                                    dns_patterns.push(s);
                                }
                            }
                        }
                    }
                }
            }
            // C11: one L7 type per port.
            if kinds.len() > 1 {
                cx.error(
                    rules.line,
                    &rp,
                    "only one L7 rule type is allowed per port rule (C11)",
                );
            }
            l7 = kinds.first().copied();
        }
    }
    if let Some(kind) = l7 {
        validate_l7(cx, node.line, path, kind, &ports, section, host);
    }
    Some(PortRule {
        line: node.line,
        ports,
        l7,
        dns_patterns,
    })
}

/// C11: L7 restrictions enforced by Sanitize().
fn validate_l7(
    cx: &mut Cx,
    line: u32,
    path: &str,
    kind: L7Kind,
    ports: &[PortProtocol],
    section: Section,
    host: bool,
) {
    let rp = format!("{path}.rules");
    if section.is_deny() {
        cx.error(line, &rp, "deny rules cannot carry L7 rules (C11)");
        return;
    }
    if host && section.is_ingress() {
        cx.error(
            line,
            &rp,
            "L7 policy is not supported on host ingress (C11)",
        );
        return;
    }
    if host && kind != L7Kind::Dns {
        cx.error(line, &rp, "host policies support only DNS L7 rules (C11)");
        return;
    }
    if kind == L7Kind::Dns && section.is_ingress() {
        cx.error(line, &rp, "L7 DNS rules are not supported on ingress (C11)");
        return;
    }
    for p in ports {
        if p.end_port
            .is_some_and(|e| matches!(p.port, crate::model::PortSpec::Number(s) if e > s))
        {
            cx.error(line, &rp, "L7 rules do not support port ranges (C11)");
            return;
        }
        if p.port == crate::model::PortSpec::All {
            cx.error(
                line,
                &rp,
                "L7 rules can not be used when a port is 0 (C11); name the port",
            );
            return;
        }
        // Cilium's Validate() compares with TCP exactly: ANY is refused too.
        if kind != L7Kind::Dns && p.protocol != Protocol::Tcp {
            cx.error(
                line,
                &rp,
                "L7 rules other than DNS need protocol: TCP (C10, C11)",
            );
            return;
        }
    }
}
