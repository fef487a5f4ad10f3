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
    /// The I/O error is part of the message (not a `source`), so it is printed once.
    #[error("{path}: {err}")]
    Io { path: PathBuf, err: std::io::Error },
    #[error("{path}: not valid UTF-8 text")]
    NotText { path: PathBuf },
    #[error("{path}:{line}: invalid YAML/JSON: {message}")]
    Syntax {
        path: PathBuf,
        line: u32,
        message: String,
    },
    #[error("{path}: no .yaml, .yml or .json files found")]
    Empty { path: PathBuf },
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
