//! What the CLI hands over: policy paths, an optional inventory, Cilium settings. Loads and
//! validates everything once, so each command is a thin call.
//!
//! Every file goes through the `inputs` crate (bounded reads, folders walked without leaving
//! them). An input that yields nothing is an error, never an empty set that checks clean.

use std::path::{Path, PathBuf};

mod conversions;
mod keyed;

pub use conversions::Conversions;
pub use keyed::Converted;

use crate::error::LoadError;
use crate::findings::{Finding, Severity};
use crate::inventory::{CiliumConfig, Inventory, read, reference};
use crate::model::{PolicySet, Replaced};
use crate::parse;
use crate::source::{self, Document};
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
    /// Shared: a watch update that changes no policy shares them with the input before it.
    pub policies: std::sync::Arc<PolicySet>,
    pub inventory: Inventory,
    pub findings: Vec<Finding>,
}

/// Read policies from paths; invalid policies (C1) fail the whole load, and so does a path
/// that holds no policy at all. Of two objects with one kind, namespace and name the later
/// counts (as successive `kubectl apply`s leave it), with a finding.
pub fn load_policies(paths: &[PathBuf]) -> Result<(PolicySet, Vec<Finding>), LoadError> {
    let mut set = PolicySet::default();
    let mut findings = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        let docs = source::load_path(p, inputs::Kind::POLICY)?;
        let mut parsed = parse::policies(&docs);
        if parsed.policies.is_empty() && parsed.errors.is_empty() {
            return Err(LoadError::NoPolicy {
                path: p.clone(),
                found: found_instead(&docs),
            });
        }
        findings.extend(not_policies(p, &docs));
        set.extend(std::mem::take(&mut parsed.policies));
        findings.append(&mut parsed.findings);
        errors.append(&mut parsed.errors);
    }
    if !errors.is_empty() {
        return Err(LoadError::Invalid(errors));
    }
    findings.extend(set.keep_last_of_each().iter().map(duplicate_finding));
    Ok((set, findings))
}

/// What a path held instead of policies, for the error.
fn found_instead(docs: &[Document]) -> String {
    if docs.is_empty() {
        return "nothing: it is empty".to_owned();
    }
    let mut kinds: Vec<String> = docs.iter().take(4).map(parse::describe_other).collect();
    if docs.len() > kinds.len() {
        kinds.push(format!("{} more", docs.len() - kinds.len()));
    }
    kinds.join(", ")
}

/// Objects among the policies that are not policies: ignored, and said. A kind that looks
/// like a mistyped policy kind is a warning (the API server would refuse it).
fn not_policies(path: &Path, docs: &[Document]) -> Vec<Finding> {
    let (suspect, other): (Vec<&Document>, Vec<&Document>) = docs
        .iter()
        .filter(|d| !parse::is_policy_kind(d.kind()))
        .partition(|d| parse::looks_like_policy_kind(d.kind()));
    let mut out: Vec<Finding> = suspect
        .iter()
        .map(|d| {
            Finding::new(
                Severity::Warning,
                "unknown-policy-kind",
                format!(
                    "{} is not a kind the API server knows (NetworkPolicy, CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy); it is not checked and would be refused. Fix the kind",
                    parse::describe_other(d)
                ),
            )
            .at(format!("{}:{}", d.origin.file, d.origin.line))
            .rules(&["C1"])
        })
        .collect();
    if !other.is_empty() {
        let names: Vec<String> = other
            .iter()
            .take(5)
            .map(|d| parse::describe_other(d))
            .collect();
        let more = other.len().saturating_sub(names.len());
        out.push(
            Finding::new(
                Severity::Info,
                "not-a-policy",
                format!(
                    "{} object(s) among the policies are not policies and are ignored: {}{}",
                    other.len(),
                    names.join(", "),
                    if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    }
                ),
            )
            .at(path.display().to_string()),
        );
    }
    out
}

fn duplicate_finding(d: &Replaced) -> Finding {
    Finding::new(
        Severity::Warning,
        "duplicate-policy",
        format!(
            "{} is given twice: {} counts, as the later `kubectl apply` would leave it; the one at {} is ignored. Remove one",
            d.key, d.by, d.replaced
        ),
    )
    .at(d.replaced.to_string())
}

fn replaced_finding(r: &Replaced) -> Finding {
    Finding::new(
        Severity::Info,
        "replaces-policy-in-force",
        format!(
            "{} from {} replaces the one in force ({}), as `kubectl apply` would; the check is of the new version",
            r.key, r.by, r.replaced
        ),
    )
    .at(r.by.to_string())
}

/// Read an inventory (or the reference cluster) and apply Cilium settings.
pub fn load_inventory(
    cluster: Option<&Path>,
    cilium_config: Option<&Path>,
    version: Option<&str>,
) -> Result<Inventory, LoadError> {
    let inv = match cluster {
        Some(path) => {
            let inv = read::inventory_from_path(path)?;
            if inv.nodes.is_empty() {
                return Err(LoadError::NoNodes {
                    path: path.to_owned(),
                });
            }
            inv
        }
        None => reference::reference_cluster(),
    };
    apply_cilium_overrides(inv, cilium_config, version)
}

/// A cluster whose objects were read elsewhere (from etcd, or a snapshot of it): its inventory
/// and its current policies, with the proposed policies of `spec.policies` applied on top, so
/// the check answers "what would this cluster do with these applied". A proposed object
/// replaces the one in force with the same kind, namespace and name, as `kubectl apply` does.
/// `spec.cluster` is ignored.
pub fn load_from_documents(docs: &[Document], spec: &InputSpec) -> Result<Loaded, LoadError> {
    let converted = Converted::of(docs);
    load_from_converted(std::iter::once(&converted), spec)
}

/// [`load_from_documents`] of the documents `converted` came from, in that order, without
/// reading them again: each [`Converted`] is one object (one etcd key) converted when it
/// arrived, so a cluster followed by a watch converts only what changed.
pub fn load_from_converted<'a>(
    converted: impl IntoIterator<Item = &'a Converted> + Clone,
    spec: &InputSpec,
) -> Result<Loaded, LoadError> {
    let (policies, findings) = policies_from_converted(converted.clone(), spec)?;
    let inventory = inventory_from_converted(converted, spec)?;
    Ok(Loaded {
        policies,
        inventory,
        findings,
    })
}

/// The policy half of [`load_from_converted`]: the policies in force with `spec`'s on top,
/// and their findings. A caller that knows no policy changed may keep it for the next input.
pub fn policies_from_converted<'a>(
    converted: impl IntoIterator<Item = &'a Converted>,
    spec: &InputSpec,
) -> Result<(std::sync::Arc<PolicySet>, Vec<Finding>), LoadError> {
    let (mut policies, mut findings) = load_policies(&spec.policies)?;
    let mut current = keyed::policies_of(converted);
    if !current.errors.is_empty() {
        return Err(LoadError::Invalid(current.errors));
    }
    let replaced = current.policies.remove_replaced_by(&policies);
    findings.extend(replaced.iter().map(replaced_finding));
    policies.extend(current.policies);
    findings.append(&mut current.findings);
    Ok((policies.into(), findings))
}

/// The inventory half of [`load_from_converted`] (its errors come after the policies' ones).
pub fn inventory_from_converted<'a>(
    converted: impl IntoIterator<Item = &'a Converted>,
    spec: &InputSpec,
) -> Result<Inventory, LoadError> {
    let inv = read::assemble(keyed::objects_of(converted)).map_err(LoadError::Invalid)?;
    finish_inventory(inv, spec)
}

/// An inventory assembled from conversions, checked and with `spec`'s Cilium settings on top.
fn finish_inventory(inv: Inventory, spec: &InputSpec) -> Result<Inventory, LoadError> {
    if inv.nodes.is_empty() {
        return Err(LoadError::NoNodesRead);
    }
    apply_cilium_overrides(
        inv,
        spec.cilium_config.as_deref(),
        spec.cilium_version.as_deref(),
    )
}

fn apply_cilium_overrides(
    mut inv: Inventory,
    cilium_config: Option<&Path>,
    version: Option<&str>,
) -> Result<Inventory, LoadError> {
    if let Some(path) = cilium_config {
        let docs = source::load_path(path, inputs::Kind::CONFIG)?;
        let mut applied = false;
        for data in docs.iter().filter_map(cilium_config_data) {
            let unknown = inv.cilium.apply(&data);
            let place = path.display().to_string();
            let found = crate::inventory::cilium_config::unknown_values(&unknown, &place);
            inv.findings.extend(found);
            applied = true;
        }
        if !applied {
            return Err(LoadError::NoCiliumConfig {
                path: path.to_owned(),
                found: found_instead(&docs),
            });
        }
    }
    if let Some(v) = version {
        let Some(parsed) = CiliumConfig::parse_version(v) else {
            return Err(LoadError::BadVersion {
                given: v.to_owned(),
            });
        };
        inv.cilium.version = Some(parsed);
    }
    Ok(inv)
}

/// The settings of one document: the `data` of the ConfigMap `cilium-config`, or a bare
/// `key: value` mapping. Other ConfigMaps (a whole `kubectl get cm -o yaml`) are not Cilium's.
fn cilium_config_data(doc: &Document) -> Option<std::collections::BTreeMap<String, String>> {
    let data = match doc.kind() {
        "ConfigMap" => {
            let name = crate::parse::reader::field(&doc.node, "metadata")
                .and_then(|m| crate::parse::reader::field(m, "name"))
                .and_then(|n| n.scalar_text());
            if name.as_deref() != Some("cilium-config") {
                return None;
            }
            doc.node.get("data")?
        }
        "" => &doc.node,
        _ => return None,
    };
    let Value::Map(entries) = &data.value else {
        return None;
    };
    let map: std::collections::BTreeMap<String, String> = entries
        .iter()
        .filter_map(|(k, v)| v.scalar_text().map(|t| (k.clone(), t)))
        .collect();
    (!map.is_empty()).then_some(map)
}

/// A folder (or file) holding policies and the workloads they meet, as np-guard reads it:
/// the policies (duplicates resolved as in [`load_policies`]) and the inventory built from the
/// same objects. A folder with neither policies nor pods is an error.
pub fn load_folder(path: &Path) -> Result<Loaded, LoadError> {
    let docs = source::load_path(path, inputs::Kind::INVENTORY)?;
    let mut parsed = parse::policies_with(&docs, parse::Names::Lenient);
    if !parsed.errors.is_empty() {
        return Err(LoadError::Invalid(parsed.errors));
    }
    let inventory = read::inventory(&docs).map_err(LoadError::Invalid)?;
    if parsed.policies.is_empty() && inventory.pods.is_empty() {
        return Err(LoadError::NoPolicy {
            path: path.to_owned(),
            found: found_instead(&docs),
        });
    }
    let mut findings = std::mem::take(&mut parsed.findings);
    findings.extend(
        parsed
            .policies
            .keep_last_of_each()
            .iter()
            .map(duplicate_finding),
    );
    Ok(Loaded {
        policies: parsed.policies.into(),
        inventory,
        findings,
    })
}

/// Policies from `spec.policies` on the inventory of `spec.cluster` (or the reference
/// cluster). Policies the `--cluster` files hold are the ones in force: the proposed ones
/// replace those with their key (A1), the others stay, as with `--from-etcd`.
pub fn load(spec: &InputSpec) -> Result<Loaded, LoadError> {
    let proposed = load_policies(&spec.policies)?;
    on_cluster(
        proposed,
        spec.cluster.as_deref(),
        spec.cilium_config.as_deref(),
        spec.cilium_version.as_deref(),
    )
}

/// `proposed` applied to the cluster of `cluster` (its policies in force, replaced by the
/// proposed ones with their key), or to the reference cluster.
pub fn on_cluster(
    proposed: (PolicySet, Vec<Finding>),
    cluster: Option<&Path>,
    cilium_config: Option<&Path>,
    version: Option<&str>,
) -> Result<Loaded, LoadError> {
    let (mut policies, mut findings) = proposed;
    let Some(cluster) = cluster else {
        let inventory = load_inventory(None, cilium_config, version)?;
        return Ok(Loaded {
            policies: policies.into(),
            inventory,
            findings,
        });
    };
    let (inv, in_force) = read::inventory_and_policies_from_path(cluster)?;
    if inv.nodes.is_empty() {
        return Err(LoadError::NoNodes {
            path: cluster.to_owned(),
        });
    }
    let mut current = parse::policies(&in_force);
    if !current.errors.is_empty() {
        return Err(LoadError::Invalid(current.errors));
    }
    if !current.policies.is_empty() {
        let n = current.policies.network_policies.len() + current.policies.cilium.len();
        findings.push(
            Finding::new(
                Severity::Info,
                "policies-in-force-from-cluster",
                format!("{n} policies in --cluster are taken as in force; the -f policies are checked on top of them"),
            )
            .at(cluster.display().to_string()),
        );
    }
    let replaced = current.policies.remove_replaced_by(&policies);
    // The same file given as --cluster and -f replaces itself: nothing to say.
    let moved = replaced.iter().filter(|r| r.replaced.file != r.by.file);
    findings.extend(moved.map(replaced_finding));
    policies.extend(current.policies);
    findings.append(&mut current.findings);
    let inventory = apply_cilium_overrides(inv, cilium_config, version)?;
    Ok(Loaded {
        policies: policies.into(),
        inventory,
        findings,
    })
}
