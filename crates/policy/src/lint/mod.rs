//! `policy lint`: the footguns of policy-semantics.md (d). Each finding has a stable code and
//! cites the rules it rests on.
//!
//! - [`rules`]: findings about single policies (shape, selectors, DNS, FQDN, deny-only).
//! - [`cluster`]: findings about policies meeting the agent configuration and the nodes.

mod cluster;
mod rules;

use crate::findings::{Finding, Severity};
use crate::inventory::Inventory;
use crate::model::PolicySet;

/// Every lint finding for a policy set on an inventory, most severe first.
pub fn lint(set: &PolicySet, inv: &Inventory) -> Vec<Finding> {
    let mut out = Vec::new();
    rules::lint_policies(set, inv, &mut out);
    cluster::lint_cluster(set, inv, &mut out);
    // Fields newer than the cluster's Cilium version (C1).
    out.extend(crate::parse::versions::findings(set, inv.cilium.version));
    // How the inventory was built (e.g. a capped workload expansion).
    out.extend(inv.findings.iter().cloned());
    out.sort_by_key(|f| std::cmp::Reverse(f.severity));
    out
}

/// Critical when a finding is critical, warnings for warnings, else clean (info only).
pub fn outcome(findings: &[Finding]) -> crate::findings::Outcome {
    use crate::findings::Outcome;
    match findings.iter().map(|f| f.severity).max() {
        Some(Severity::Critical) => Outcome::Critical,
        Some(Severity::Warning) => Outcome::Warnings,
        _ => Outcome::Clean,
    }
}
