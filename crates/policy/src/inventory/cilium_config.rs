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

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
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

/// Findings for settings whose value was not understood: their defaults stay, and verdicts
/// rest on them.
pub fn unknown_values(unknown: &[String], place: &str) -> Vec<crate::findings::Finding> {
    unknown
        .iter()
        .map(|u| {
            crate::findings::Finding::new(
                crate::findings::Severity::Warning,
                "cilium-config-value-unknown",
                format!("cilium-config {u}: a value the agent does not take; lifeboat keeps the setting it had (Cilium's default unless set elsewhere), and verdicts rest on it. Check the spelling"),
            )
            .at(place.to_owned())
            .rules(&["C3"])
        })
        .collect()
}

/// A boolean setting as the agent reads it; `None` for a value it would not take.
fn boolean(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" | "" => Some(false),
        _ => None,
    }
}

/// One of `choices` (as written in cilium-config), or `None`.
fn choice<T: Copy>(v: &str, choices: &[(&str, T)]) -> Option<T> {
    choices
        .iter()
        .find(|(name, _)| *name == v.trim())
        .map(|(_, t)| *t)
}

impl CiliumConfig {
    /// Apply the keys of a `cilium-config` ConfigMap `data` section. Returns the settings whose
    /// value was not understood (the default stays, and the caller says so: a misread
    /// `enable-policy` would change every verdict).
    pub fn apply(&mut self, data: &BTreeMap<String, String>) -> Vec<String> {
        self.from_config_map = true;
        let mut unknown = Vec::new();
        for (k, v) in data {
            if !self.apply_one(k, v) {
                unknown.push(format!("{k}: {v:?}"));
            }
        }
        unknown
    }

    /// One setting; false when the value is not one the agent takes.
    fn apply_one(&mut self, k: &str, v: &str) -> bool {
        use EnforcementMode as E;
        let flag = |slot: &mut bool| boolean(v).map(|b| *slot = b).is_some();
        match k {
            "enable-host-firewall" => flag(&mut self.host_firewall),
            "enable-non-default-deny-policies" => flag(&mut self.non_default_deny_policies),
            "enable-hubble" => flag(&mut self.hubble),
            "enable-l7-proxy" => flag(&mut self.l7_proxy),
            "enable-bgp-control-plane" => flag(&mut self.bgp),
            "policy-audit-mode" => flag(&mut self.audit_mode),
            "enable-node-selector-labels" => flag(&mut self.node_selector_labels),
            "enable-policy" => {
                let mode = [
                    ("default", E::Default),
                    ("always", E::Always),
                    ("never", E::Never),
                ];
                choice(v, &mode).map(|m| self.enforcement = m).is_some()
            }
            "policy-cidr-match-mode" => {
                self.cidr_match_nodes = v.contains("nodes");
                true
            }
            "allow-localhost" => {
                let modes = [("auto", true), ("always", true), ("policy", false)];
                choice(v, &modes)
                    .map(|a| self.allow_localhost_always = a)
                    .is_some()
            }
            "kube-proxy-replacement" => {
                let modes = [
                    ("true", true),
                    ("strict", true),
                    ("false", false),
                    ("partial", false),
                    ("disabled", false),
                ];
                choice(v, &modes)
                    .map(|r| self.kube_proxy_replacement = r)
                    .is_some()
            }
            "tunnel-protocol" | "tunnel" => {
                let modes = [
                    ("vxlan", Tunnel::Vxlan),
                    ("geneve", Tunnel::Geneve),
                    ("disabled", Tunnel::Disabled),
                ];
                choice(v, &modes).map(|t| self.tunnel = t).is_some()
            }
            "routing-mode" => match v.trim() {
                "native" => {
                    self.tunnel = Tunnel::Disabled;
                    true
                }
                "tunnel" => true,
                _ => false,
            },
            "enable-wireguard" | "enable-ipsec" => match boolean(v) {
                Some(true) if k == "enable-wireguard" => {
                    self.encryption = Encryption::Wireguard;
                    true
                }
                Some(true) => {
                    self.encryption = Encryption::Ipsec;
                    true
                }
                Some(false) => true,
                None => false,
            },
            "cluster-name" => {
                self.cluster_name = v.trim().to_owned();
                true
            }
            // Settings that do not change policy semantics.
            _ => true,
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
