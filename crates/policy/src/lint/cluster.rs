//! Lints on policies meeting the agent configuration and the nodes.

use crate::findings::{Finding, Severity};
use crate::inventory::{Encryption, EnforcementMode, Inventory};
use crate::model::{PolicySet, Subject};

fn kernel(v: &str) -> Option<(u32, u32, u32)> {
    let mut it = v
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty());
    Some((
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
        it.next().and_then(|s| s.parse().ok()).unwrap_or(0),
    ))
}

pub(super) fn lint_cluster(set: &PolicySet, inv: &Inventory, out: &mut Vec<Finding>) {
    let cfg = &inv.cilium;
    let host_policies: Vec<String> = set
        .cilium
        .iter()
        .filter(|p| {
            p.rules
                .iter()
                .any(|r| matches!(r.subject, Subject::Nodes(_)))
        })
        .map(|p| p.display_name())
        .collect();
    // d.5 / C13.1.
    if !cfg.host_firewall && !host_policies.is_empty() {
        out.push(
            Finding::new(
                Severity::Warning,
                "host-policy-inert",
                format!(
                    "host firewall is off (enable-host-firewall=false): {} has no effect",
                    host_policies.join(", ")
                ),
            )
            .rules(&["C13.1", "d.5"]),
        );
    }
    // d.6 / C3.
    if cfg.enforcement == EnforcementMode::Always && cfg.host_firewall {
        out.push(Finding::new(Severity::Critical, "always-with-host-firewall", "policy enforcement mode `always` with the host firewall on makes every host default-deny with no policy at all; allow health, remote-node and the control-plane ports first").rules(&["C3", "C13.4", "d.6"]));
    }
    // Field report 003 #1: kube-proxy beside kube-proxy replacement.
    if cfg.kube_proxy_replacement {
        let kp = inv.pods.iter().any(|p| {
            p.namespace == "kube-system"
                && (p.name.starts_with("kube-proxy")
                    || p.owner.as_ref().is_some_and(|o| o.name == "kube-proxy"))
        });
        if kp {
            out.push(Finding::new(Severity::Warning, "kube-proxy-with-replacement", "kube-proxy runs although kube-proxy replacement is on: both program services and fight over NAT; delete the kube-proxy DaemonSet").rules(&["field-report-003"]));
        }
    }
    // Field report 003 #4: kernels too old for enabled features.
    for n in &inv.nodes {
        let Some(k) = n.kernel.as_deref().and_then(kernel) else {
            continue;
        };
        let mut needs: Vec<(&str, (u32, u32, u32))> = Vec::new();
        if cfg.kube_proxy_replacement {
            needs.push(("kube-proxy replacement", (4, 19, 57)));
        }
        if cfg.encryption == Encryption::Wireguard {
            needs.push(("WireGuard", (5, 6, 0)));
        }
        if cfg.host_firewall {
            needs.push(("host firewall", (5, 10, 0)));
        }
        for (feature, min) in needs {
            if k < min {
                out.push(
                    Finding::new(
                        Severity::Warning,
                        "kernel-too-old",
                        format!(
                            "node {} runs kernel {}.{}.{}; {feature} needs {}.{}.{} or newer",
                            n.name, k.0, k.1, k.2, min.0, min.1, min.2
                        ),
                    )
                    .at(format!("node/{}", n.name))
                    .rules(&["field-report-003"]),
                );
            }
        }
    }
    // Field report 003 #6: enforcing without Hubble means drops cannot be observed.
    if !set.is_empty() && !cfg.hubble && cfg.enforcement != EnforcementMode::Never {
        out.push(Finding::new(Severity::Warning, "hubble-off", "policies are enforced while Hubble is off: dropped flows cannot be observed (`hubble observe --verdict DROPPED`)").rules(&["field-report-003"]));
    }
    if cfg.encryption == Encryption::Ipsec && cfg.host_firewall {
        out.push(
            Finding::new(
                Severity::Warning,
                "host-firewall-ipsec",
                "the host firewall is not supported together with IPsec encryption",
            )
            .rules(&["C13.8", "d.11"]),
        );
    }
    // C3: the verdicts depend on agent settings; say when they are defaults, not facts.
    if !inv.assumed && !cfg.from_config_map {
        out.push(Finding::new(Severity::Info, "cilium-config-assumed", "no cilium-config ConfigMap in --cluster and no --cilium-config: Cilium defaults assumed (host firewall off, enforcement `default`, VXLAN, non-default-deny policies allowed)").rules(&["C3"]));
    }
    // C11: L7 rules need the L7 proxy.
    let l7 = set.cilium.iter().flat_map(|p| &p.rules).any(|r| {
        r.ingress
            .iter()
            .chain(&r.egress)
            .any(|it| it.ports.iter().flatten().any(|pr| pr.l7.is_some()))
    });
    if l7 && !cfg.l7_proxy {
        out.push(
            Finding::new(
                Severity::Warning,
                "l7-without-proxy",
                "policies carry L7 rules but enable-l7-proxy is off: Cilium rejects them",
            )
            .rules(&["C11"]),
        );
    }
    if inv.assumed {
        out.push(
            Finding::new(
                Severity::Info,
                "assumed-inventory",
                "no inventory given: linted against the built-in reference cluster",
            )
            .rules(&[]),
        );
    }
}
