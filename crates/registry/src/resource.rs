//! Resource types as a user names them (`po`, `netpol`, `ccnp`, `ciliumnetworkpolicies.cilium.io`)
//! and where their objects live in etcd (`/registry/<prefix>/[<namespace>/]<name>`).

use crate::error::ResourceError;
use crate::schema::RESOURCES;

pub use store::k8s::REGISTRY;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ResourceType {
    /// `""` for the core group.
    pub group: String,
    pub plural: String,
    pub kind: String,
    /// `None` when unknown (a custom resource lifeboat has no table entry for).
    pub namespaced: Option<bool>,
    /// The key segment(s) after `/registry/`: `pods`, `minions`, `cilium.io/ciliumnetworkpolicies`.
    pub prefix: String,
}

/// kubectl's short names for built-in resources.
const SHORT_NAMES: &[(&str, &str)] = &[
    ("po", "pods"),
    ("svc", "services"),
    ("ep", "endpoints"),
    ("no", "nodes"),
    ("ns", "namespaces"),
    ("cm", "configmaps"),
    ("sa", "serviceaccounts"),
    ("pv", "persistentvolumes"),
    ("pvc", "persistentvolumeclaims"),
    ("ev", "events"),
    ("limits", "limitranges"),
    ("quota", "resourcequotas"),
    ("rc", "replicationcontrollers"),
    ("deploy", "deployments"),
    ("rs", "replicasets"),
    ("sts", "statefulsets"),
    ("ds", "daemonsets"),
    ("cj", "cronjobs"),
    ("netpol", "networkpolicies"),
    ("ing", "ingresses"),
    ("pdb", "poddisruptionbudgets"),
    ("pc", "priorityclasses"),
    ("sc", "storageclasses"),
    ("crd", "customresourcedefinitions"),
    ("crds", "customresourcedefinitions"),
    ("csr", "certificatesigningrequests"),
    ("hpa", "horizontalpodautoscalers"),
];

/// Cilium's custom resources (group `cilium.io`): plural, kind, namespaced, short names.
const CILIUM: &[(&str, &str, bool, &[&str])] = &[
    (
        "ciliumnetworkpolicies",
        "CiliumNetworkPolicy",
        true,
        &["cnp", "ciliumnp"],
    ),
    (
        "ciliumclusterwidenetworkpolicies",
        "CiliumClusterwideNetworkPolicy",
        false,
        &["ccnp"],
    ),
    (
        "ciliumendpoints",
        "CiliumEndpoint",
        true,
        &["cep", "ciliumep"],
    ),
    ("ciliumnodes", "CiliumNode", false, &["cn", "ciliumn"]),
    ("ciliumidentities", "CiliumIdentity", false, &["ciliumid"]),
    (
        "ciliumendpointslices",
        "CiliumEndpointSlice",
        false,
        &["ces"],
    ),
    (
        "ciliumexternalworkloads",
        "CiliumExternalWorkload",
        false,
        &["cew"],
    ),
    (
        "ciliumlocalredirectpolicies",
        "CiliumLocalRedirectPolicy",
        true,
        &["clrp"],
    ),
    (
        "ciliumegressgatewaypolicies",
        "CiliumEgressGatewayPolicy",
        false,
        &["cegp"],
    ),
    (
        "ciliumloadbalancerippools",
        "CiliumLoadBalancerIPPool",
        false,
        &["ippools", "ippool", "lbippool", "lbippools"],
    ),
    (
        "ciliumbgppeeringpolicies",
        "CiliumBGPPeeringPolicy",
        false,
        &["bgpp"],
    ),
    ("ciliumcidrgroups", "CiliumCIDRGroup", false, &["ccg"]),
    ("ciliumenvoyconfigs", "CiliumEnvoyConfig", true, &["cec"]),
    (
        "ciliumclusterwideenvoyconfigs",
        "CiliumClusterwideEnvoyConfig",
        false,
        &["ccec"],
    ),
    (
        "ciliuml2announcementpolicies",
        "CiliumL2AnnouncementPolicy",
        false,
        &["l2announcement"],
    ),
    ("ciliumpodippools", "CiliumPodIPPool", false, &["cpip"]),
    ("ciliumnodeconfigs", "CiliumNodeConfig", true, &[]),
];

/// `SpecialDefaultResourcePrefixes` of kube-apiserver, and the group-qualified built-ins.
fn builtin_prefix(group: &str, plural: &str) -> String {
    match (group, plural) {
        ("", "replicationcontrollers") => "controllers".into(),
        ("", "endpoints") => "services/endpoints".into(),
        ("", "nodes") => "minions".into(),
        ("", "services") => "services/specs".into(),
        (_, "ingresses") => "ingress".into(),
        ("apiextensions.k8s.io", p) | ("apiregistration.k8s.io", p) => format!("{group}/{p}"),
        (_, p) => p.into(),
    }
}

fn builtin(plural: &str) -> Option<ResourceType> {
    RESOURCES
        .iter()
        .filter(|r| !r.subresource && r.plural == plural)
        // Several versions of one resource share one prefix; any will do for the key,
        // the GA one reads best.
        .min_by_key(|r| !matches!(r.version, "v1" | "v2"))
        .map(|r| ResourceType {
            group: r.group.into(),
            plural: r.plural.into(),
            kind: r.kind.into(),
            namespaced: Some(r.namespaced),
            prefix: builtin_prefix(r.group, r.plural),
        })
}

fn cilium(name: &str) -> Option<ResourceType> {
    CILIUM
        .iter()
        .find(|(plural, kind, _, short)| {
            *plural == name || kind.eq_ignore_ascii_case(name) || short.contains(&name)
        })
        .map(|(plural, kind, namespaced, _)| ResourceType {
            group: "cilium.io".into(),
            plural: (*plural).into(),
            kind: (*kind).into(),
            namespaced: Some(*namespaced),
            prefix: format!("cilium.io/{plural}"),
        })
}

/// Resolves what a user typed: plural, singular, kind, short name, `plural.group` or
/// `group/plural` (any custom resource).
pub fn resolve(name: &str) -> Result<ResourceType, ResourceError> {
    let lower = name.to_ascii_lowercase();
    let plural = SHORT_NAMES
        .iter()
        .find(|(s, _)| *s == lower)
        .map(|(_, p)| (*p).to_owned())
        .or_else(|| {
            RESOURCES
                .iter()
                .find(|r| r.plural == lower || r.kind.eq_ignore_ascii_case(&lower))
                .map(|r| r.plural.to_owned())
        });
    if let Some(r) = plural.as_deref().and_then(builtin) {
        return Ok(r);
    }
    if let Some(r) = cilium(&lower) {
        return Ok(r);
    }
    // `ciliumnetworkpolicies.cilium.io` (kubectl) or `cilium.io/ciliumnetworkpolicies` (etcd).
    let split = lower
        .split_once('/')
        .filter(|(g, p)| g.contains('.') && !p.is_empty() && !p.contains('/'))
        .map(|(g, p)| (g.to_owned(), p.to_owned()))
        .or_else(|| {
            lower
                .split_once('.')
                .map(|(p, g)| (g.to_owned(), p.to_owned()))
        });
    if let Some((group, plural)) = split.filter(|(g, p)| g.contains('.') && !p.is_empty()) {
        if let Some(r) = (group == "cilium.io").then(|| cilium(&plural)).flatten() {
            return Ok(r);
        }
        return Ok(ResourceType {
            prefix: format!("{group}/{plural}"),
            kind: String::new(),
            namespaced: None,
            group,
            plural,
        });
    }
    Err(ResourceError::Unknown(name.to_owned()))
}

/// The resource type a key prefix (as [`store::k8s::parse_key`] splits it) stands for.
/// The built-in resources by etcd prefix, computed once: a listing or diff asks per key.
fn builtin_by_prefix() -> &'static std::collections::HashMap<String, &'static str> {
    static MAP: std::sync::OnceLock<std::collections::HashMap<String, &'static str>> =
        std::sync::OnceLock::new();
    MAP.get_or_init(|| {
        let mut m = std::collections::HashMap::new();
        for r in RESOURCES.iter().filter(|r| !r.subresource) {
            // The first resource with a prefix wins, as the linear search did.
            m.entry(builtin_prefix(r.group, r.plural))
                .or_insert(r.plural);
        }
        m
    })
}

pub fn for_prefix(prefix: &str) -> ResourceType {
    let builtin_match = builtin_by_prefix()
        .get(prefix)
        .and_then(|plural| builtin(plural));
    if let Some(r) = builtin_match {
        return r;
    }
    if let Some(r) = prefix.strip_prefix("cilium.io/").and_then(cilium) {
        return r;
    }
    let (group, plural) = prefix.split_once('/').unwrap_or(("", prefix));
    ResourceType {
        group: group.into(),
        plural: plural.into(),
        kind: String::new(),
        namespaced: None,
        prefix: prefix.into(),
    }
}

impl ResourceType {
    /// The etcd key of one object. A namespace is required for namespaced types and refused
    /// for cluster-scoped ones, so a typo cannot address a different key.
    pub fn key(&self, namespace: Option<&str>, name: &str) -> Result<String, String> {
        if name.is_empty() || name.contains('/') {
            return Err(format!("invalid object name {name:?}"));
        }
        match (self.namespaced, namespace) {
            (Some(true), None) => Err(format!("{} are namespaced: give -n NAMESPACE", self.plural)),
            (Some(false), Some(ns)) => {
                Err(format!("{} are cluster-scoped: drop -n {ns}", self.plural))
            }
            (_, Some(ns)) if ns.is_empty() || ns.contains('/') => {
                Err(format!("invalid namespace {ns:?}"))
            }
            (_, ns) => Ok(store::k8s::object_key(&self.prefix, ns, name)),
        }
    }

    /// The prefix every object of this type (in `namespace`, when given) shares.
    pub fn list_prefix(&self, namespace: Option<&str>) -> String {
        store::k8s::list_prefix(&self.prefix, namespace)
    }

    pub fn api_group_label(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_to_etcd_prefixes() {
        for (typed, prefix, namespaced) in [
            ("po", "pods", Some(true)),
            ("Pod", "pods", Some(true)),
            ("no", "minions", Some(false)),
            ("svc", "services/specs", Some(true)),
            ("ep", "services/endpoints", Some(true)),
            ("netpol", "networkpolicies", Some(true)),
            ("ing", "ingress", Some(true)),
            ("rc", "controllers", Some(true)),
            ("cm", "configmaps", Some(true)),
            ("ns", "namespaces", Some(false)),
            (
                "crd",
                "apiextensions.k8s.io/customresourcedefinitions",
                Some(false),
            ),
            (
                "ccnp",
                "cilium.io/ciliumclusterwidenetworkpolicies",
                Some(false),
            ),
            ("cnp", "cilium.io/ciliumnetworkpolicies", Some(true)),
            (
                "ciliumnetworkpolicies.cilium.io",
                "cilium.io/ciliumnetworkpolicies",
                Some(true),
            ),
            ("widgets.example.com", "example.com/widgets", None),
            ("example.com/widgets", "example.com/widgets", None),
        ] {
            let r = resolve(typed).unwrap_or_else(|e| panic!("{typed}: {e}"));
            assert_eq!(
                (r.prefix.as_str(), r.namespaced),
                (prefix, namespaced),
                "{typed}"
            );
        }
        assert!(resolve("nosuchthing").is_err());
    }

    #[test]
    fn keys_need_the_right_scope() {
        let cnp = resolve("cnp").expect("cnp");
        assert_eq!(
            cnp.key(Some("demo"), "x").as_deref(),
            Ok("/registry/cilium.io/ciliumnetworkpolicies/demo/x")
        );
        assert!(cnp.key(None, "x").is_err());
        let ccnp = resolve("ccnp").expect("ccnp");
        assert!(ccnp.key(Some("demo"), "x").is_err());
        assert!(ccnp.key(None, "a/b").is_err());
        assert_eq!(for_prefix("minions").plural, "nodes");
        assert_eq!(
            for_prefix("cilium.io/ciliumclusterwidenetworkpolicies").kind,
            "CiliumClusterwideNetworkPolicy"
        );
    }
}
