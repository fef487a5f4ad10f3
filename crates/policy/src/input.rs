//! What the CLI hands over: policy paths, an optional inventory, Cilium settings. Loads and
//! validates everything once, so each command is a thin call.

use std::path::{Path, PathBuf};

use crate::error::LoadError;
use crate::findings::Finding;
use crate::inventory::{CiliumConfig, Inventory, read, reference};
use crate::model::PolicySet;
use crate::parse;
use crate::source;
use crate::yaml::Value;

#[derive(Debug, Clone, Default)]
pub struct InputSpec {
    pub policies: Vec<PathBuf>,
    pub cluster: Option<PathBuf>,
    pub cilium_config: Option<PathBuf>,
    pub cilium_version: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Loaded {
    pub policies: PolicySet,
    pub inventory: Inventory,
    pub findings: Vec<Finding>,
}

/// Read policies from paths; invalid policies (C1) fail the whole load.
pub fn load_policies(paths: &[PathBuf]) -> Result<(PolicySet, Vec<Finding>), LoadError> {
    let mut set = PolicySet::default();
    let mut findings = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        let docs = source::load_path(p)?;
        let parsed = parse::policies(&docs);
        set.extend(parsed.policies);
        findings.extend(parsed.findings);
        errors.extend(parsed.errors);
    }
    if errors.is_empty() {
        Ok((set, findings))
    } else {
        Err(LoadError::Invalid(errors))
    }
}

/// Read an inventory (or the reference cluster) and apply Cilium settings.
pub fn load_inventory(
    cluster: Option<&Path>,
    cilium_config: Option<&Path>,
    version: Option<&str>,
) -> Result<Inventory, LoadError> {
    let inv = match cluster {
        Some(path) => read::inventory_from_path(path)?,
        None => reference::reference_cluster(),
    };
    apply_cilium_overrides(inv, cilium_config, version)
}

/// A cluster whose objects were read elsewhere (from etcd, or a snapshot of it): its inventory
/// and its current policies, plus the proposed policies of `spec.policies` on top, so the check
/// answers "what would this cluster do with these applied". `spec.cluster` is ignored.
pub fn load_from_documents(
    docs: &[source::Document],
    spec: &InputSpec,
) -> Result<Loaded, LoadError> {
    let (mut policies, mut findings) = load_policies(&spec.policies)?;
    let current = parse::policies(docs);
    if !current.errors.is_empty() {
        return Err(LoadError::Invalid(current.errors));
    }
    policies.extend(current.policies);
    findings.extend(current.findings);
    let inv = read::inventory(docs).map_err(LoadError::Invalid)?;
    let inventory = apply_cilium_overrides(
        inv,
        spec.cilium_config.as_deref(),
        spec.cilium_version.as_deref(),
    )?;
    Ok(Loaded {
        policies,
        inventory,
        findings,
    })
}

fn apply_cilium_overrides(
    mut inv: Inventory,
    cilium_config: Option<&Path>,
    version: Option<&str>,
) -> Result<Inventory, LoadError> {
    if let Some(path) = cilium_config {
        let docs = source::load_path(path)?;
        for doc in &docs {
            // A ConfigMap, or a bare `key: value` mapping.
            let data = if doc.kind() == "ConfigMap" {
                doc.node.get("data")
            } else {
                Some(&doc.node)
            };
            if let Some(crate::yaml::Node {
                value: Value::Map(entries),
                ..
            }) = data
            {
                let map = entries
                    .iter()
                    .filter_map(|(k, v)| v.scalar_text().map(|t| (k.clone(), t)))
                    .collect();
                inv.cilium.apply(&map);
            }
        }
    }
    if let Some(v) = version {
        inv.cilium.version = CiliumConfig::parse_version(v);
    }
    Ok(inv)
}

pub fn load(spec: &InputSpec) -> Result<Loaded, LoadError> {
    let (policies, findings) = load_policies(&spec.policies)?;
    let inventory = load_inventory(
        spec.cluster.as_deref(),
        spec.cilium_config.as_deref(),
        spec.cilium_version.as_deref(),
    )?;
    Ok(Loaded {
        policies,
        inventory,
        findings,
    })
}
