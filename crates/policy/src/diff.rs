//! `policy diff`: flows whose verdict changes between two policy sets and/or two inventories
//! (a relabelled workload falling out of a policy shows up here). Critical changes first.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::check::catalogue::{self, Flow};
use crate::check::{CheckOptions, fix};
use crate::connectivity::display_name;
use crate::engine::Engine;
use crate::findings::{Finding, Severity};
use crate::inventory::Inventory;
use crate::model::{PolicySet, Protocol};

/// Workload pairs beyond this many representatives are not enumerated (reported as a finding).
const MAX_WORKLOADS: usize = 300;

#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub name: String,
    pub src: String,
    pub dst: String,
    pub protocol: String,
    pub port: u16,
    pub critical: bool,
    pub before: &'static str,
    pub after: &'static str,
    pub explanation_before: String,
    pub explanation_after: String,
    pub fix: Option<String>,
    /// A side's verdict depends on peers known only at runtime (C9); the explanations say
    /// which rule.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unresolved: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct DiffReport {
    pub assumed_inventory: bool,
    pub flows_compared: usize,
    pub changes: Vec<Change>,
    pub findings: Vec<Finding>,
}

impl DiffReport {
    /// Critical when a critical flow becomes denied, warnings when any flow does, else clean.
    pub fn outcome(&self) -> crate::findings::Outcome {
        use crate::findings::Outcome;
        self.changes
            .iter()
            .filter(|c| c.after == "deny")
            .map(|c| {
                if c.critical {
                    Outcome::Critical
                } else {
                    Outcome::Warnings
                }
            })
            .max()
            .unwrap_or(Outcome::Clean)
    }
}

/// One flow per (workload, workload, declared container port).
fn workload_flows(inv: &Inventory, findings: &mut Vec<Finding>) -> Vec<Flow> {
    let mut reps: BTreeMap<String, usize> = BTreeMap::new();
    for (i, p) in inv.pods.iter().enumerate() {
        if !p.host_network && p.name != catalogue::PROBE_NAME {
            reps.entry(display_name(p)).or_insert(i);
        }
    }
    if reps.len() > MAX_WORKLOADS {
        findings.push(Finding::new(
            Severity::Info,
            "diff-workloads-truncated",
            format!(
                "{} workloads; pod-to-pod flows compared for the first {MAX_WORKLOADS} only",
                reps.len()
            ),
        ));
    }
    let reps: Vec<usize> = reps.into_values().take(MAX_WORKLOADS).collect();
    let mut out = Vec::new();
    for &s in &reps {
        for &d in &reps {
            if s == d {
                continue;
            }
            let (sp, dp) = (&inv.pods[s], &inv.pods[d]);
            for cp in &dp.ports {
                if !matches!(cp.protocol, Protocol::Tcp | Protocol::Udp | Protocol::Sctp) {
                    continue;
                }
                out.push(Flow {
                    name: "workload".into(),
                    src: format!("{}/{}", sp.namespace, sp.name),
                    dst: format!("{}/{}", dp.namespace, dp.name),
                    protocol: cp.protocol,
                    port: cp.port,
                    critical: false,
                    purpose: "pod to a declared container port",
                    fqdn: None,
                });
            }
        }
    }
    out
}

pub fn diff(
    before: (&Inventory, &PolicySet),
    after: (&Inventory, &PolicySet),
    opts: &CheckOptions,
) -> DiffReport {
    let (inv_b, inv_a) = (before.0, after.0);
    let mut findings = catalogue::gaps(inv_a);
    let eng_b = Engine::new(inv_b, before.1).with_synthetic_pod(catalogue::probe_pod(inv_b));
    let eng_a = Engine::new(inv_a, after.1).with_synthetic_pod(catalogue::probe_pod(inv_a));
    let copts = catalogue::CatalogueOptions {
        admin_cidrs: opts.admin_cidrs.clone(),
    };
    let mut flows = catalogue::catalogue(inv_b, &copts, before.1);
    flows.extend(catalogue::catalogue(inv_a, &copts, after.1));
    flows.extend(opts.user_flows.iter().cloned());
    flows.extend(workload_flows(inv_b, &mut findings));
    flows.extend(workload_flows(inv_a, &mut findings));
    let mut seen = std::collections::HashSet::new();
    flows.retain(|f| seen.insert((f.src.clone(), f.dst.clone(), f.protocol, f.port)));
    let mut changes = Vec::new();
    for f in &flows {
        let (Some(sb), Some(db), Some(sa), Some(da)) = (
            eng_b.resolve(&f.src),
            eng_b.resolve(&f.dst),
            eng_a.resolve(&f.src),
            eng_a.resolve(&f.dst),
        ) else {
            continue; // present on one side only
        };
        let vb = eng_b.flow(&sb, &db, f.protocol, f.port);
        let va = eng_a.flow(&sa, &da, f.protocol, f.port);
        if vb.allowed == va.allowed {
            continue;
        }
        let unresolved = [&vb, &va]
            .iter()
            .any(|v| v.egress.unresolved || v.ingress.unresolved);
        changes.push(Change {
            unresolved,
            name: f.name.clone(),
            src: f.src.clone(),
            dst: f.dst.clone(),
            protocol: f.protocol.as_str().to_owned(),
            port: f.port,
            critical: f.critical,
            before: if vb.allowed { "allow" } else { "deny" },
            after: if va.allowed { "allow" } else { "deny" },
            explanation_before: vb.explanation(),
            explanation_after: va.explanation(),
            fix: fix::suggest(
                &eng_a,
                &sa,
                &da,
                f.protocol,
                f.port,
                &va.ingress,
                &va.egress,
            ),
        });
    }
    // Critical first, then newly denied, then newly allowed.
    changes.sort_by_key(|c| (!c.critical, c.after != "deny"));
    DiffReport {
        assumed_inventory: inv_b.assumed || inv_a.assumed,
        flows_compared: flows.len(),
        changes,
        findings,
    }
}
