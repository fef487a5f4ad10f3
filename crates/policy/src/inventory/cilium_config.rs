//! Cilium agent settings that change policy semantics (C3), from the `cilium-config` ConfigMap.

use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EnforcementMode {
    Default,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tunnel {
    Vxlan,
    Geneve,
    /// Native routing: no tunnel port.
    Disabled,
}

impl Tunnel {
    pub fn port(self) -> Option<u16> {
        match self {
            Tunnel::Vxlan => Some(8472),
            Tunnel::Geneve => Some(6081),
            Tunnel::Disabled => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Encryption {
    None,
    Wireguard,
    Ipsec,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct CiliumConfig {
    pub host_firewall: bool,
    pub enforcement: EnforcementMode,
    /// `enable-non-default-deny-policies` (C2.3), default true.
    pub non_default_deny_policies: bool,
    /// `policy-cidr-match-mode: nodes` lets CIDRs match node IPs (C9).
    pub cidr_match_nodes: bool,
    /// `allow-localhost: policy` removes the host→local pod exemption (C14).
    pub allow_localhost_always: bool,
    pub kube_proxy_replacement: bool,
    pub tunnel: Tunnel,
    pub encryption: Encryption,
    pub cluster_name: String,
    pub hubble: bool,
    pub l7_proxy: bool,
    pub bgp: bool,
    pub audit_mode: bool,
    pub node_selector_labels: bool,
    /// (major, minor) from `--cilium-version`, when known.
    pub version: Option<(u32, u32)>,
    /// False when no ConfigMap was given and the defaults above are assumed.
    pub from_config_map: bool,
}

impl Default for CiliumConfig {
    fn default() -> Self {
        CiliumConfig {
            host_firewall: false,
            enforcement: EnforcementMode::Default,
            non_default_deny_policies: true,
            cidr_match_nodes: false,
            allow_localhost_always: true,
            kube_proxy_replacement: false,
            tunnel: Tunnel::Vxlan,
            encryption: Encryption::None,
            cluster_name: "default".to_owned(),
            hubble: true,
            l7_proxy: true,
            bgp: false,
            audit_mode: false,
            node_selector_labels: false,
            version: None,
            from_config_map: false,
        }
    }
}

fn truthy(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "true" | "1" | "yes" | "on"
    )
}

impl CiliumConfig {
    /// Apply the keys of a `cilium-config` ConfigMap `data` section.
    pub fn apply(&mut self, data: &BTreeMap<String, String>) {
        self.from_config_map = true;
        for (k, v) in data {
            match k.as_str() {
                "enable-host-firewall" => self.host_firewall = truthy(v),
                "enable-policy" => {
                    self.enforcement = match v.trim() {
                        "always" => EnforcementMode::Always,
                        "never" => EnforcementMode::Never,
                        _ => EnforcementMode::Default,
                    }
                }
                "enable-non-default-deny-policies" => self.non_default_deny_policies = truthy(v),
                "policy-cidr-match-mode" => self.cidr_match_nodes = v.contains("nodes"),
                "allow-localhost" => self.allow_localhost_always = v.trim() != "policy",
                "kube-proxy-replacement" => {
                    self.kube_proxy_replacement = matches!(v.trim(), "true" | "strict")
                }
                "tunnel-protocol" | "tunnel" => {
                    self.tunnel = match v.trim() {
                        "geneve" => Tunnel::Geneve,
                        "disabled" => Tunnel::Disabled,
                        _ => Tunnel::Vxlan,
                    }
                }
                "routing-mode" if v.trim() == "native" => self.tunnel = Tunnel::Disabled,
                "enable-wireguard" if truthy(v) => self.encryption = Encryption::Wireguard,
                "enable-ipsec" if truthy(v) => self.encryption = Encryption::Ipsec,
                "cluster-name" => self.cluster_name = v.trim().to_owned(),
                "enable-hubble" => self.hubble = truthy(v),
                "enable-l7-proxy" => self.l7_proxy = truthy(v),
                "enable-bgp-control-plane" => self.bgp = truthy(v),
                "policy-audit-mode" => self.audit_mode = truthy(v),
                "enable-node-selector-labels" => self.node_selector_labels = truthy(v),
                _ => {}
            }
        }
    }

    /// Parse `1.16`, `v1.16.3`, `1.18.0-rc.1`.
    pub fn parse_version(s: &str) -> Option<(u32, u32)> {
        let s = s.trim().trim_start_matches('v');
        let mut it = s.split(['.', '-']);
        let major = it.next()?.parse().ok()?;
        let minor = it.next()?.parse().ok()?;
        Some((major, minor))
    }

    pub fn at_least(&self, major: u32, minor: u32) -> Option<bool> {
        self.version.map(|v| v >= (major, minor))
    }
}

/// The Cilium version from the image of a container named or imaged `cilium` (the agent) in
/// a pod or pod template: `quay.io/cilium/cilium:v1.15.4@sha256:...` → (1, 15).
pub fn image_version(pod: &crate::yaml::Node) -> Option<(u32, u32)> {
    let containers = crate::parse::reader::field(pod, "spec")
        .and_then(|s| crate::parse::reader::field(s, "containers"))?;
    let crate::yaml::Value::Seq(list) = &containers.value else {
        return None;
    };
    list.iter().find_map(|c| {
        let image = crate::parse::reader::field(c, "image")?.scalar_text()?;
        let image = image.split('@').next()?;
        let (repo, tag) = image.rsplit_once(':')?;
        if repo.rsplit('/').next()? != "cilium" {
            return None;
        }
        CiliumConfig::parse_version(tag)
    })
}
