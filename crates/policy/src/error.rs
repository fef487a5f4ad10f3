//! Typed errors. Every parse error names file, document, line and field.

use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: document {doc}: {field}: {message}")]
pub struct ParseError {
    pub file: String,
    pub doc: usize,
    pub line: u32,
    /// Field path inside the object, e.g. `spec.ingress[0].toPorts[0].ports[0].port`.
    pub field: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: not valid UTF-8 text")]
    NotText { path: PathBuf },
    #[error("{path}:{line}: invalid YAML/JSON: {message}")]
    Syntax {
        path: PathBuf,
        line: u32,
        message: String,
    },
    /// A file could not be taken (type, size, encoding, a link out of its folder or a loop).
    #[error(transparent)]
    Input(#[from] inputs::InputError),
    #[error("{path}: no .yaml, .yml or .json files found; give a folder of manifests")]
    Empty { path: PathBuf },
    #[error(
        "{path}: holds no NetworkPolicy, CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy \
         (found {found}); nothing to check: give the file with the policies"
    )]
    NoPolicy { path: PathBuf, found: String },
    #[error(
        "{path}: the inventory holds no Node; add `kubectl get nodes -o yaml` to it (the \
         control-plane flows are derived from the nodes)"
    )]
    NoNodes { path: PathBuf },
    #[error(
        "the cluster read holds no Node (no key under /registry/minions/): is it the cluster's \
         etcd, or the right snapshot? The control-plane flows are derived from the nodes"
    )]
    NoNodesRead,
    #[error(
        "{path}: holds no cilium-config settings (found {found}); give the ConfigMap \
         `kubectl -n kube-system get cm cilium-config -o yaml` or a `key: value` file"
    )]
    NoCiliumConfig { path: PathBuf, found: String },
    #[error("--cilium-version {given:?} is not a version; write it as 1.16 or v1.16.3")]
    BadVersion { given: String },
    #[error("{} invalid object(s):\n{}", .0.len(), render(.0))]
    Invalid(Vec<ParseError>),
}

fn render(errors: &[ParseError]) -> String {
    errors
        .iter()
        .map(|e| format!("  {e}"))
        .collect::<Vec<_>>()
        .join("\n")
}
