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
    let mut inv = match cluster {
        Some(path) => read::inventory_from_path(path)?,
        None => reference::reference_cluster(),
    };
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
