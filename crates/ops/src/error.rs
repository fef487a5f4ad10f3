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

    #[error("local cluster I/O on {path}: {source}")]
    LocalIo {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
