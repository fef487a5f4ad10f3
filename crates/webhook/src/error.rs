//! Typed errors of the webhook library.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error(transparent)]
    Input(#[from] inputs::InputError),
    #[error(
        "{path}: no PEM {what} in it. Give the file the API server's certificate (--tls-cert) or its private key (--tls-key) as PEM"
    )]
    NoPem { path: PathBuf, what: &'static str },
    #[error("{path}: not valid PEM: {message}. Check the file is the PEM {what}")]
    BadPem {
        path: PathBuf,
        what: &'static str,
        message: String,
    },
    #[error(
        "the certificate {cert} and the key {key} do not belong together ({message}). Give the key of that certificate"
    )]
    KeyMismatch {
        cert: PathBuf,
        key: PathBuf,
        message: String,
    },
    #[error("TLS setup failed: {0}")]
    Tls(#[from] rustls::Error),
    #[error("cannot listen on {addr}: {source}. Check the address is free and local")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error("the first baseline could not be computed: {0}. Report it with the webhook's log")]
    Baseline(String),
    #[error(transparent)]
    Load(#[from] policy::error::LoadError),
}
