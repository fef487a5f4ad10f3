//! Value checks the API server (Kubernetes validation, Cilium's CRD schema) or the Cilium agent
//! (`Validate()`) performs: a value they refuse is an error here too, never a policy that seems
//! to check clean. Each returns why the value is refused.
//!
//! Sources: k8s.io/apimachinery `validation.IsQualifiedName`, `IsValidLabelValue`,
//! `IsDNS1123Subdomain`, `IsDNS1123Label`, `IsValidPortName`; Cilium `pkg/iana.IsSvcName`,
//! the CRD patterns of `toFQDNs` and `icmps`.

/// `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`, at most 63 characters: a label name or value.
fn label_word(s: &str) -> bool {
    let b = s.as_bytes();
    let alnum = |c: &u8| c.is_ascii_alphanumeric();
    !b.is_empty()
        && b.len() <= 63
        && b.first().is_some_and(alnum)
        && b.last().is_some_and(alnum)
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// A label value: empty, or a label word.
pub(crate) fn label_value(v: &str) -> Result<(), String> {
    if v.is_empty() || label_word(v) {
        return Ok(());
    }
    Err(format!(
        "label value {v:?} is invalid: at most 63 characters, letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
    ))
}

/// A Kubernetes label key: `[prefix/]name`, the prefix a DNS subdomain.
pub(crate) fn label_key(k: &str) -> Result<(), String> {
    let (prefix, name) = match k.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, k),
    };
    let prefix_ok = prefix.is_none_or(|p| dns_subdomain(p).is_ok());
    if prefix_ok && label_word(name) {
        return Ok(());
    }
    Err(format!(
        "label key {k:?} is invalid: a name of at most 63 letters, digits, '-', '_' or '.' (starting and ending with a letter or digit), optionally prefixed by a DNS subdomain and '/'"
    ))
}

/// `metadata.name` of most objects: lower-case letters, digits, '-' and '.', at most 253.
pub(crate) fn dns_subdomain(s: &str) -> Result<(), String> {
    let ok = !s.is_empty() && s.len() <= 253 && s.split('.').all(|part| dns_label(part).is_ok());
    if ok {
        return Ok(());
    }
    Err(format!(
        "{s:?} is not a valid name: lower-case letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters"
    ))
}

/// `metadata.namespace`: lower-case letters, digits and '-', at most 63.
pub(crate) fn dns_label(s: &str) -> Result<(), String> {
    let b = s.as_bytes();
    let lower = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let ok = !b.is_empty()
        && b.len() <= 63
        && b.first().is_some_and(lower)
        && b.last().is_some_and(lower)
        && b.iter().all(|c| lower(c) || *c == b'-');
    if ok {
        return Ok(());
    }
    Err(format!(
        "{s:?} is not a valid namespace: lower-case letters, digits and '-', starting and ending with a letter or digit, at most 63 characters"
    ))
}

/// An IANA service name as a port name: at most 15 characters, letters (lower-case only for
/// Kubernetes), digits and '-', at least one letter, no '-' at either end or twice in a row.
pub(crate) fn port_name(s: &str, lower_only: bool) -> Result<(), String> {
    let b = s.as_bytes();
    let letter = |c: &u8| {
        if lower_only {
            c.is_ascii_lowercase()
        } else {
            c.is_ascii_alphabetic()
        }
    };
    let ok = !b.is_empty()
        && b.len() <= 15
        && b.iter().any(letter)
        && b.iter()
            .all(|c| letter(c) || c.is_ascii_digit() || *c == b'-')
        && b.first() != Some(&b'-')
        && b.last() != Some(&b'-')
        && !s.contains("--");
    if ok {
        return Ok(());
    }
    let case = if lower_only { "lower-case " } else { "" };
    Err(format!(
        "{s:?} is neither a port number nor a port name (at most 15 {case}letters, digits and '-', with at least one letter, no '-' at either end or twice in a row)"
    ))
}

/// `toFQDNs` `matchName` (`^([-a-zA-Z0-9_]+[.]?)+$`) and `matchPattern` (the same with `*`),
/// at most 255 characters.
pub(crate) fn fqdn(s: &str, pattern: bool) -> Result<(), String> {
    let allowed =
        |c: u8| c.is_ascii_alphanumeric() || c == b'-' || c == b'_' || (pattern && c == b'*');
    let ok = !s.is_empty()
        && s.len() <= 255
        && !s.starts_with('.')
        && !s.contains("..")
        && s.bytes().all(|c| c == b'.' || allowed(c));
    if ok {
        return Ok(());
    }
    Err(format!(
        "{s:?} is not a DNS name{}: letters, digits, '-', '_'{} and single dots, at most 255 characters",
        if pattern { " pattern" } else { "" },
        if pattern { ", '*'" } else { "" }
    ))
}

/// ICMP type names the CRD accepts besides 0-255.
const ICMP_TYPES: &[&str] = &[
    "EchoReply",
    "DestinationUnreachable",
    "Redirect",
    "Echo",
    "EchoRequest",
    "RouterAdvertisement",
    "RouterSelection",
    "TimeExceeded",
    "ParameterProblem",
    "Timestamp",
    "TimestampReply",
    "Photuris",
    "ExtendedEchoRequest",
    "ExtendedEchoReply",
    "PacketTooBig",
    "MulticastListenerQuery",
    "MulticastListenerReport",
    "MulticastListenerDone",
    "RouterSolicitation",
    "NeighborSolicitation",
    "NeighborAdvertisement",
    "RedirectMessage",
    "RouterRenumbering",
    "ICMPNodeInformationQuery",
    "ICMPNodeInformationResponse",
    "InverseNeighborDiscoverySolicitation",
    "InverseNeighborDiscoveryAdvertisement",
    "HomeAgentAddressDiscoveryRequest",
    "HomeAgentAddressDiscoveryReply",
    "MobilePrefixSolicitation",
    "MobilePrefixAdvertisement",
    "DuplicateAddressRequestCodeSuffix",
    "DuplicateAddressConfirmationCodeSuffix",
];

/// An ICMP type: 0-255 or one of the CRD's names.
pub(crate) fn icmp_type(t: &str) -> Result<(), String> {
    let number = t.parse::<u16>().is_ok_and(|n| n <= 255) && !t.starts_with('+');
    if number || ICMP_TYPES.contains(&t) {
        return Ok(());
    }
    Err(format!(
        "ICMP type {t:?} is neither 0-255 nor a type name such as EchoRequest"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubernetes_names_and_labels() {
        for (key, ok) in [
            ("app", true),
            ("app.kubernetes.io/name", true),
            ("node-role.kubernetes.io/control-plane", true),
            ("-app", false),
            ("a b", false),
            ("Example.com/x", false),
            ("", false),
        ] {
            assert_eq!(label_key(key).is_ok(), ok, "{key}");
        }
        for (v, ok) in [
            ("", true),
            ("web-1", true),
            ("a_b.c", true),
            ("-x", false),
            ("x y", false),
        ] {
            assert_eq!(label_value(v).is_ok(), ok, "{v}");
        }
        assert!(dns_subdomain("restrict-node.9100").is_ok());
        assert!(dns_subdomain("Upper").is_err());
        assert!(dns_label("kube-system").is_ok());
        assert!(dns_label("a.b").is_err());
    }

    #[test]
    fn port_names_fqdns_and_icmp_types() {
        assert!(port_name("http", true).is_ok());
        assert!(port_name("HTTP", true).is_err());
        assert!(port_name("HTTP", false).is_ok());
        assert!(port_name("80", false).is_err());
        assert!(port_name("a--b", false).is_err());
        assert!(port_name("sixteen-chars-xx", false).is_err());
        assert!(fqdn("api.example.com.", false).is_ok());
        assert!(fqdn("*.example.com", false).is_err());
        assert!(fqdn("*.example.com", true).is_ok());
        assert!(fqdn("a..b", true).is_err());
        assert!(icmp_type("8").is_ok());
        assert!(icmp_type("EchoRequest").is_ok());
        assert!(icmp_type("256").is_err());
        assert!(icmp_type("Ping").is_err());
    }
}
