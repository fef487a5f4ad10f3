//! Which keys feed the policy model.

/// The key prefixes the inventory and the policy set are built from.
pub const PREFIXES: &[&str] = &[
    "/registry/minions/",
    "/registry/namespaces/",
    "/registry/pods/",
    "/registry/services/specs/",
    "/registry/deployments/",
    "/registry/daemonsets/",
    "/registry/statefulsets/",
    "/registry/replicasets/",
    "/registry/jobs/",
    "/registry/cronjobs/",
    "/registry/validatingwebhookconfigurations/",
    "/registry/mutatingwebhookconfigurations/",
    "/registry/networkpolicies/",
    "/registry/cilium.io/ciliumnetworkpolicies/",
    "/registry/cilium.io/ciliumclusterwidenetworkpolicies/",
    CILIUM_CONFIG,
];

/// One ConfigMap, listed as a prefix: keys that merely start with it are not it.
const CILIUM_CONFIG: &str = "/registry/configmaps/kube-system/cilium-config";

/// Whether `key` is one the policy model reads.
pub fn is_wanted(key: &[u8]) -> bool {
    if key.starts_with(b"/registry/configmaps/") {
        return key == CILIUM_CONFIG.as_bytes();
    }
    PREFIXES.iter().any(|p| key.starts_with(p.as_bytes()))
}

pub use store::keys::prefix_end as range_end;

#[cfg(test)]
mod tests {
    use super::is_wanted;

    #[test]
    fn only_the_cilium_config_map() {
        assert!(is_wanted(b"/registry/configmaps/kube-system/cilium-config"));
        assert!(!is_wanted(
            b"/registry/configmaps/kube-system/cilium-config-old"
        ));
        assert!(is_wanted(b"/registry/pods/default/a"));
        assert!(!is_wanted(b"/registry/events/default/a"));
    }
}
