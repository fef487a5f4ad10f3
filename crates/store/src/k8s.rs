//! Kubernetes view of etcd keys and values: which resource a key belongs to, and how its
//! value is encoded (protobuf envelope, JSON, encrypted at rest).

/// The parts of a `/registry/...` key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyParts<'a> {
    /// `pods`, `services/specs`, `cilium.io/ciliumnetworkpolicies`, ...
    pub resource: &'a str,
    pub namespace: Option<&'a str>,
    pub name: &'a str,
}

/// Where the API server keeps every object: the one place this prefix is spelled.
pub const REGISTRY: &str = "/registry/";

/// `/registry/<resource>/[<namespace>/]<name>`: the inverse of [`parse_key`]. Callers check
/// the segments (see `registry::ResourceType::key`); this only lays them out.
pub fn object_key(resource: &str, namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) => format!("{REGISTRY}{resource}/{ns}/{name}"),
        None => format!("{REGISTRY}{resource}/{name}"),
    }
}

/// The prefix every object of `resource` (in `namespace`, when given) shares.
pub fn list_prefix(resource: &str, namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) => format!("{REGISTRY}{resource}/{ns}/"),
        None => format!("{REGISTRY}{resource}/"),
    }
}

/// Split a key into resource, namespace and name. Custom resources and a few built-ins
/// use two path segments for the resource: a group containing a dot (`cilium.io/...`),
/// and `services/specs` / `services/endpoints`.
pub fn parse_key(key: &[u8]) -> Option<KeyParts<'_>> {
    let s = std::str::from_utf8(key).ok()?;
    let rest = s.strip_prefix(REGISTRY)?;
    let first = rest.find('/')?;
    let res_len = if rest[..first].contains('.') || &rest[..first] == "services" {
        let second = rest[first + 1..].find('/')?;
        first + 1 + second
    } else {
        first
    };
    let resource = &rest[..res_len];
    let tail = &rest[res_len + 1..];
    if tail.is_empty() {
        return None;
    }
    match tail.split_once('/') {
        Some((ns, name)) if !ns.is_empty() && !name.is_empty() => Some(KeyParts {
            resource,
            namespace: Some(ns),
            name,
        }),
        Some(_) => None,
        None => Some(KeyParts {
            resource,
            namespace: None,
            name: tail,
        }),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    Protobuf,
    Json,
    Encrypted,
    Cbor,
    Other,
}

impl Encoding {
    pub const ALL: [Encoding; 5] = [
        Encoding::Protobuf,
        Encoding::Json,
        Encoding::Encrypted,
        Encoding::Cbor,
        Encoding::Other,
    ];

    pub fn of(value: &[u8]) -> Encoding {
        if value.starts_with(b"k8s:enc:") {
            Encoding::Encrypted
        } else if value.starts_with(b"k8s\0") {
            Encoding::Protobuf
        } else if value.first() == Some(&b'{') {
            Encoding::Json
        } else if value.starts_with(&[0xd9, 0xd9, 0xf7]) {
            Encoding::Cbor
        } else {
            Encoding::Other
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Protobuf => "protobuf",
            Encoding::Json => "json",
            Encoding::Encrypted => "encrypted",
            Encoding::Cbor => "cbor",
            Encoding::Other => "other",
        }
    }
}

/// `aescbc:v1:key1` from `k8s:enc:aescbc:v1:key1:<payload>`: provider, version and key
/// name, which together say how the value was encrypted (never the key itself).
pub fn encryption_provider(value: &[u8]) -> Option<String> {
    let rest = value.strip_prefix(b"k8s:enc:")?;
    let mut end = 0;
    for _ in 0..3 {
        let colon = rest[end..].iter().position(|&b| b == b':')?;
        end += colon + 1;
    }
    let p = &rest[..end - 1];
    if p.len() > 256 {
        return None;
    }
    Some(String::from_utf8_lossy(p).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_split_into_resource_namespace_name() {
        let p = parse_key(b"/registry/pods/kube-system/etcd-0").expect("pod");
        assert_eq!(
            object_key(p.resource, p.namespace, p.name),
            "/registry/pods/kube-system/etcd-0"
        );
        assert_eq!(
            (p.resource, p.namespace, p.name),
            ("pods", Some("kube-system"), "etcd-0")
        );
        let p = parse_key(b"/registry/namespaces/demo").expect("ns");
        assert_eq!(
            (p.resource, p.namespace, p.name),
            ("namespaces", None, "demo")
        );
        let p =
            parse_key(b"/registry/cilium.io/ciliumnetworkpolicies/demo/allow-dns").expect("cnp");
        assert_eq!(
            (p.resource, p.namespace),
            ("cilium.io/ciliumnetworkpolicies", Some("demo"))
        );
        let p = parse_key(b"/registry/services/specs/default/kubernetes").expect("svc");
        assert_eq!(
            (p.resource, p.namespace, p.name),
            ("services/specs", Some("default"), "kubernetes")
        );
        assert_eq!(parse_key(b"compact_rev_key"), None);
        assert_eq!(parse_key(b"/registry/pods"), None);
    }

    #[test]
    fn encodings_and_providers() {
        assert_eq!(Encoding::of(b"k8s\0\x0a"), Encoding::Protobuf);
        assert_eq!(Encoding::of(b"{\"a\":1}\n"), Encoding::Json);
        let enc = b"k8s:enc:aescbc:v1:key1:\x00\x01";
        assert_eq!(Encoding::of(enc), Encoding::Encrypted);
        assert_eq!(encryption_provider(enc).as_deref(), Some("aescbc:v1:key1"));
        assert_eq!(encryption_provider(b"k8s:enc:broken"), None);
    }
}
