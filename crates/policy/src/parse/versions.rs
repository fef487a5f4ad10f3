//! CiliumNetworkPolicy fields by the Cilium version that added them. The parser's known-field
//! lists follow the newest schema (v1.20-pre); on an older cluster a newer field does not exist
//! in the CRD: the API server prunes it, or `kubectl --validate=strict` rejects the object, and
//! the policy does something else than written (C1: unknown fields are findings).
//!
//! The parser records every use of a field in [`TABLE`] ([`note`]); [`findings`] turns the
//! uses newer than the cluster's version (`--cilium-version`, or the version found in the
//! inventory) into findings that name the version that added the field.

use crate::findings::{Finding, Severity};
use crate::model::PolicySet;
use crate::yaml::{Node, Value};

/// Where a field sits in a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// `spec` / `specs[i]`.
    Rule,
    /// An element of `ingress`/`ingressDeny`.
    Ingress,
    /// An element of `egress`/`egressDeny`.
    Egress,
    /// An element of `fromCIDRSet`.
    IngressCidrSet,
    /// An element of `toCIDRSet`.
    EgressCidrSet,
    /// An element of `toPorts[].ports`.
    Port,
}

/// One row: a field, where it sits, the first Cilium (major, minor) that has it, the source
/// of that date, and what an older cluster does with a policy using it.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    pub place: Place,
    pub field: &'static str,
    pub since: (u32, u32),
    pub source: &'static str,
    pub consequence: &'static str,
    pub severity: Severity,
    pub code: &'static str,
    pub rules: &'static [&'static str],
}

const DROPPED: &str = "the field is dropped, so the rule means something else than written";
const NODES_DROPPED: &str = "the peer list is dropped: if it was the item's only peer list, the item allows every peer on its toPorts (C5.2), or nothing at all without toPorts (C2.6)";

/// Sources are PR numbers of cilium/cilium; a release is inferred from the PR's merge date
/// where the release notes were not read, and says so.
pub const TABLE: &[Row] = &[
    Row {
        place: Place::Rule,
        field: "enableDefaultDeny",
        since: (1, 16),
        source: "PR #30572 (C2.7)",
        consequence: "the field is dropped and the policy puts its subjects into default deny",
        severity: Severity::Critical,
        code: "enable-default-deny-unsupported",
        rules: &["C2.7", "C2.3"],
    },
    Row {
        place: Place::Rule,
        field: "log",
        since: (1, 18),
        source: "PR #39902, 1.18.0 release notes",
        consequence: "the field is dropped; flows carry no policy_log value",
        severity: Severity::Warning,
        code: "field-not-in-cilium-version",
        rules: &["C1"],
    },
    Row {
        place: Place::Ingress,
        field: "fromNodes",
        since: (1, 16),
        source: "PR #26924 and docs PR #31188 (2024), release inferred",
        consequence: NODES_DROPPED,
        severity: Severity::Critical,
        code: "field-not-in-cilium-version",
        rules: &["C1", "C7.7", "C5.2", "C2.6"],
    },
    Row {
        place: Place::Egress,
        field: "toNodes",
        since: (1, 16),
        source: "PR #26924 and docs PR #31188 (2024), release inferred",
        consequence: NODES_DROPPED,
        severity: Severity::Critical,
        code: "field-not-in-cilium-version",
        rules: &["C1", "C7.7", "C5.2", "C2.6"],
    },
    Row {
        place: Place::Ingress,
        field: "authentication",
        since: (1, 14),
        source: "mutual authentication (beta) in 1.14, release inferred",
        consequence: DROPPED,
        severity: Severity::Warning,
        code: "field-not-in-cilium-version",
        rules: &["C1"],
    },
    Row {
        place: Place::IngressCidrSet,
        field: "cidrGroupRef",
        since: (1, 14),
        source: "PR #24638 (2023-03), release inferred",
        consequence: DROPPED,
        severity: Severity::Warning,
        code: "field-not-in-cilium-version",
        rules: &["C1", "C9"],
    },
    Row {
        place: Place::EgressCidrSet,
        field: "cidrGroupRef",
        since: (1, 16),
        source: "PR #30624 (2024-02, egress support), release inferred",
        consequence: DROPPED,
        severity: Severity::Warning,
        code: "field-not-in-cilium-version",
        rules: &["C1", "C9"],
    },
    Row {
        place: Place::IngressCidrSet,
        field: "cidrGroupSelector",
        since: (1, 17),
        source: "PR #36087 (2024-11), release inferred",
        consequence: DROPPED,
        severity: Severity::Warning,
        code: "field-not-in-cilium-version",
        rules: &["C1", "C9"],
    },
    Row {
        place: Place::EgressCidrSet,
        field: "cidrGroupSelector",
        since: (1, 17),
        source: "PR #36087 (2024-11), release inferred",
        consequence: DROPPED,
        severity: Severity::Warning,
        code: "field-not-in-cilium-version",
        rules: &["C1", "C9"],
    },
    Row {
        place: Place::Port,
        field: "endPort",
        since: (1, 16),
        source: "PR #32389 (2024-05, port ranges), release inferred",
        consequence: "the range is dropped and only `port` itself is allowed",
        severity: Severity::Warning,
        code: "field-not-in-cilium-version",
        rules: &["C1", "C10"],
    },
];

pub use crate::model::FieldUse;

/// Record the versioned fields present in mapping `node` at `path`.
pub(crate) fn note(out: &mut Vec<FieldUse>, node: &Node, path: &str, place: Place) {
    let Value::Map(entries) = &node.value else {
        return;
    };
    for (k, v) in entries {
        if let Some(row) = TABLE.iter().position(|r| r.place == place && r.field == k) {
            out.push(FieldUse {
                row,
                path: format!("{path}.{k}"),
                line: v.line,
            });
        }
    }
}

/// Findings for fields newer than `version`; none when the version is unknown.
pub fn findings(set: &PolicySet, version: Option<(u32, u32)>) -> Vec<Finding> {
    let Some(version) = version else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for p in &set.cilium {
        for u in &p.versioned {
            let Some(row) = TABLE.get(u.row) else {
                continue;
            };
            if version >= row.since {
                continue;
            }
            out.push(
                Finding::new(
                    row.severity,
                    row.code,
                    format!(
                        "{}: {} was added in Cilium {}.{} ({}); this cluster runs {}.{}, whose CRD does not have it: {}",
                        p.display_name(),
                        u.path,
                        row.since.0,
                        row.since.1,
                        row.source,
                        version.0,
                        version.1,
                        row.consequence
                    ),
                )
                .at(format!("{}:{}", p.origin.file, u.line))
                .rules(row.rules),
            );
        }
    }
    out
}
