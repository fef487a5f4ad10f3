//! The server certificate, from PEM files, reloaded when they change. Each handshake looks at
//! the files (at most once per [`CHECK_EVERY`]): a changed pair is read and checked (the key
//! must belong to the certificate); a bad pair keeps the one in use and is logged once. So a
//! rotated Secret (kubelet swaps the files) is served without a restart.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::WebhookError;
use crate::metrics::Metrics;

/// How often a handshake may look at the files.
pub const CHECK_EVERY: Duration = Duration::from_millis(500);

/// What identifies a version of the files without reading them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    cert: (Option<SystemTime>, u64, u64),
    key: (Option<SystemTime>, u64, u64),
}

fn stamp_of(path: &Path) -> Option<(Option<SystemTime>, u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    // Follows symlinks: a Secret volume swaps its `..data` link, which changes the inode.
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok(), m.len(), m.ino()))
}

struct Watch {
    last_check: Instant,
    /// The files' stamp when last read (successfully or not).
    seen: Option<Stamp>,
}

pub struct CertReloader {
    cert_path: PathBuf,
    key_path: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
    watch: Mutex<Watch>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for CertReloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertReloader")
            .field("cert", &self.cert_path)
            .field("key", &self.key_path)
            .finish()
    }
}

/// The pair from the files, checked: certificates, a key, and the key the certificate's.
pub fn load_pair(
    cert_path: &Path,
    key_path: &Path,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, WebhookError> {
    let cert_pem = inputs::read(cert_path, inputs::Kind::PEM)?;
    let key_pem = inputs::read(key_path, inputs::Kind::PEM)?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| WebhookError::BadPem {
            path: cert_path.to_owned(),
            what: "certificate",
            message: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(WebhookError::NoPem {
            path: cert_path.to_owned(),
            what: "certificate",
        });
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => WebhookError::NoPem {
            path: key_path.to_owned(),
            what: "private key",
        },
        e => WebhookError::BadPem {
            path: key_path.to_owned(),
            what: "private key",
            message: e.to_string(),
        },
    })?;
    CertifiedKey::from_der(certs, key, provider).map_err(|e| WebhookError::KeyMismatch {
        cert: cert_path.to_owned(),
        key: key_path.to_owned(),
        message: e.to_string(),
    })
}

impl CertReloader {
    /// Reads the pair now: a bad pair at start is an error (there is nothing to keep).
    pub fn new(
        cert_path: &Path,
        key_path: &Path,
        provider: Arc<CryptoProvider>,
        metrics: Arc<Metrics>,
    ) -> Result<CertReloader, WebhookError> {
        let seen = Self::stamp(cert_path, key_path);
        let pair = load_pair(cert_path, key_path, &provider)?;
        Ok(CertReloader {
            cert_path: cert_path.to_owned(),
            key_path: key_path.to_owned(),
            provider,
            current: RwLock::new(Arc::new(pair)),
            watch: Mutex::new(Watch {
                last_check: Instant::now(),
                seen,
            }),
            metrics,
        })
    }

    fn stamp(cert: &Path, key: &Path) -> Option<Stamp> {
        Some(Stamp {
            cert: stamp_of(cert)?,
            key: stamp_of(key)?,
        })
    }

    /// Re-reads the files if they changed since they were last read. Returns whether a new
    /// pair is in use.
    pub fn refresh(&self) -> bool {
        let Ok(mut watch) = self.watch.lock() else {
            return false;
        };
        watch.last_check = Instant::now();
        let now = Self::stamp(&self.cert_path, &self.key_path);
        if now.is_none() || now == watch.seen {
            return false;
        }
        watch.seen = now;
        match load_pair(&self.cert_path, &self.key_path, &self.provider) {
            Ok(pair) => {
                self.metrics.cert_reload(true);
                if let Ok(mut current) = self.current.write() {
                    *current = Arc::new(pair);
                }
                tracing::info!(cert = %self.cert_path.display(), "webhook: new server certificate loaded");
                true
            }
            Err(e) => {
                self.metrics.cert_reload(false);
                tracing::warn!(
                    "webhook: the changed certificate files are not used, the previous certificate stays: {e}"
                );
                false
            }
        }
    }

    fn due(&self) -> bool {
        self.watch
            .lock()
            .map(|w| w.last_check.elapsed() >= CHECK_EVERY)
            .unwrap_or(false)
    }

    /// The pair in use.
    pub fn current(&self) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|c| Arc::clone(&c))
    }
}

impl ResolvesServerCert for CertReloader {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        if self.due() {
            self.refresh();
        }
        self.current()
    }
}

/// rustls' server configuration for a reloading certificate: HTTP/1.1 only (what the API
/// server speaks to webhooks by default), ring as the provider, as the rest of lifeboat.
pub fn server_config(
    reloader: Arc<CertReloader>,
    provider: Arc<CryptoProvider>,
) -> Result<rustls::ServerConfig, WebhookError> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(reloader);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The crypto provider lifeboat uses everywhere.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}
