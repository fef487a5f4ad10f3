//! `policy check`: evaluate the control-plane flow catalogue (plus user flows) against a
//! policy set and an inventory; report verdicts, explanations, fixes and findings.

pub mod catalogue;
pub mod fix;
pub mod flows_file;

use ipnet::IpNet;
use serde::Serialize;

pub use catalogue::{CatalogueOptions, Flow};

use crate::engine::Engine;
use crate::findings::{Finding, Severity};
use crate::inventory::Inventory;
use crate::model::PolicySet;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlowResult {
    pub name: String,
    pub src: String,
    pub dst: String,
    pub protocol: String,
    pub port: u16,
    /// `allow` or `deny`.
    pub verdict: &'static str,
    pub critical: bool,
    pub explanation: String,
    pub fix: Option<String>,
    pub purpose: String,
    /// Rule numbers of policy-semantics.md behind the verdict.
    pub rules: Vec<&'static str>,
    /// Allowed at L4 by rules that carry L7 rules: requests they do not allow are refused by
    /// the proxy (C11).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub l7_filtered: bool,
    /// Denied, but a toFQDNs rule may allow the address at runtime; the flow names no DNS
    /// name (`fqdn:`) to judge it by (C12).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub depends_on_dns: bool,
    /// The verdict depends on peers known only at runtime (cloud provider groups, CIDR
    /// groups); the explanation says which rule and what would change it (C9).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unresolved: bool,
}

impl FlowResult {
    pub fn allowed(&self) -> bool {
        self.verdict == "allow"
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub assumed_inventory: bool,
    pub flows: Vec<FlowResult>,
    pub findings: Vec<Finding>,
}

impl CheckReport {
    /// Critical when a critical flow is denied, warnings for lesser cuts, warnings only (or a
    /// verdict lifeboat could not settle), else clean.
    pub fn outcome(&self) -> crate::findings::Outcome {
        use crate::findings::Outcome;
        if self.flows.iter().any(|f| f.critical && !f.allowed()) {
            Outcome::Critical
        } else if self.flows.iter().any(|f| !f.allowed() || f.unresolved)
            || self
                .findings
                .iter()
                .any(|f| f.severity >= Severity::Warning)
        {
            Outcome::Warnings
        } else {
            Outcome::Clean
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    pub admin_cidrs: Vec<IpNet>,
    pub user_flows: Vec<Flow>,
}

/// Evaluate one flow list on an engine; unresolvable endpoints become findings.
pub fn evaluate(engine: &Engine, flows: &[Flow], findings: &mut Vec<Finding>) -> Vec<FlowResult> {
    let mut out = Vec::with_capacity(flows.len());
    for f in flows {
        let (Some(src), Some(mut dst)) = (engine.resolve(&f.src), engine.resolve(&f.dst)) else {
            findings.push(Finding::new(
                Severity::Warning,
                "flow-endpoint-unknown",
                format!(
                    "flow {}: {} or {} is not in the inventory",
                    f.name, f.src, f.dst
                ),
            ));
            continue;
        };
        dst.fqdn = f.fqdn.clone();
        let v = engine.flow(&src, &dst, f.protocol, f.port);
        let fix = fix::suggest(
            engine, &src, &dst, f.protocol, f.port, &v.ingress, &v.egress,
        );
        let mut rules: Vec<&'static str> = v
            .egress
            .cites
            .iter()
            .chain(v.ingress.cites.iter())
            .copied()
            .collect();
        rules.sort_unstable();
        rules.dedup();
        out.push(FlowResult {
            name: f.name.clone(),
            src: f.src.clone(),
            dst: f.dst.clone(),
            protocol: f.protocol.as_str().to_owned(),
            port: f.port,
            verdict: if v.allowed { "allow" } else { "deny" },
            critical: f.critical,
            explanation: v.explanation(),
            fix,
            purpose: f.purpose.to_owned(),
            rules,
            l7_filtered: v.allowed && (v.egress.l7 || v.ingress.l7),
            depends_on_dns: !v.allowed && v.egress.depends_on_dns,
            unresolved: v.egress.unresolved || v.ingress.unresolved,
        });
    }
    out
}

/// The verdicts of `flows` in the check's order: critical denials first, then other denials,
/// then allows; stable inside each group.
pub fn verdicts(engine: &Engine, flows: &[Flow], findings: &mut Vec<Finding>) -> Vec<FlowResult> {
    let mut results = evaluate(engine, flows, findings);
    sort_verdicts(&mut results);
    results
}

/// The check's order of verdicts given in catalogue order (see [`verdicts`]).
pub fn sort_verdicts(results: &mut [FlowResult]) {
    results.sort_by_key(verdict_rank);
}

/// Where a verdict goes in the check's order (a stable sort by this key).
pub fn verdict_rank(r: &FlowResult) -> (bool, bool) {
    (r.allowed(), !r.critical)
}

/// Run the check. `findings` are carried into the report (parse findings, lints).
pub fn check(
    inv: &Inventory,
    policies: &PolicySet,
    opts: &CheckOptions,
    mut findings: Vec<Finding>,
) -> CheckReport {
    let engine = Engine::new(inv, policies).with_synthetic_pod(catalogue::probe_pod(inv));
    let mut flows = catalogue::catalogue(
        inv,
        &CatalogueOptions {
            admin_cidrs: opts.admin_cidrs.clone(),
        },
        policies,
    );
    flows.extend(opts.user_flows.iter().cloned());
    findings.extend(
        crate::lint::lint(policies, inv)
            .into_iter()
            .filter(|f| f.code != "assumed-inventory"),
    );
    findings.extend(catalogue::gaps(inv));
    if inv.assumed {
        findings.push(Finding::new(Severity::Info, "assumed-inventory", "no inventory given: evaluated against the built-in reference cluster (3 control-plane nodes with etcd and the API server, 2 workers, CoreDNS, host firewall on)"));
    }
    let results = verdicts(&engine, &flows, &mut findings);
    CheckReport {
        assumed_inventory: inv.assumed,
        flows: results,
        findings,
    }
}
