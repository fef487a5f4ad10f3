//! Failures of live operations. Each variant says what went wrong in terms an operator can check.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error("invalid endpoint URL '{url}': {reason}")]
    BadEndpoint { url: String, reason: String },

    #[error("cannot read {what} file {path}: {source}")]
    UnreadableFile {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{what} file {path} is not usable: {reason}")]
    BadPemFile {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },

    #[error("{0}")]
    Config(String),

    #[error("could not read the discovery source {path}: {reason}")]
    Discovery { path: PathBuf, reason: String },

    #[error("{endpoint}: {message}")]
    Endpoint { endpoint: String, message: String },

    #[error("{endpoint}: no answer within {timeout_ms} ms")]
    Timeout { endpoint: String, timeout_ms: u128 },

    #[error("local cluster: {0}")]
    Local(String),

    /// A file on this machine could not be read, written, moved or synced (data dirs, backups,
    /// env files, manifests, journals). The OS error says why (permission, space, missing).
    #[error("{path}: {source} (check that path: permissions, free space, that it exists)")]
    LocalIo {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
