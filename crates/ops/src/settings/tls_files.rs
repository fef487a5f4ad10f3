//! Certificate files for mutual TLS, loaded and cross-checked before any dial: a wrong path or a
//! key from another certificate must be named here, not surface later as a handshake failure.

use std::path::{Path, PathBuf};

use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::Serialize;

use crate::OpsError;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TlsFiles {
    pub cacert: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

/// PEM bytes that were read and checked; what the client hands to the TLS stack.
#[derive(Debug, Clone)]
pub struct ValidatedTls {
    pub ca_pem: Vec<u8>,
    pub identity: Option<(Vec<u8>, Vec<u8>)>,
}

impl TlsFiles {
    pub fn load(&self) -> Result<ValidatedTls, OpsError> {
        let cacert = self.cacert.as_deref().ok_or_else(|| {
            OpsError::Config(
                "https endpoints need --cacert: the CA that signed the etcd server certificate \
                 (kubeadm: /etc/kubernetes/pki/etcd/ca.crt)"
                    .into(),
            )
        })?;
        let ca_pem = read("CA certificate (--cacert)", cacert)?;
        let ca_certs = parse_certs("CA certificate (--cacert)", cacert, &ca_pem)?;
        let mut roots = rustls::RootCertStore::empty();
        for c in ca_certs {
            roots.add(c).map_err(|e| OpsError::BadPemFile {
                what: "CA certificate (--cacert)",
                path: cacert.to_path_buf(),
                reason: e.to_string(),
            })?;
        }

        let identity = match (&self.cert, &self.key) {
            (None, None) => None,
            (Some(_), None) | (None, Some(_)) => {
                return Err(OpsError::Config(
                    "--cert and --key go together: give both (the client certificate and its key) \
                     or neither"
                        .into(),
                ));
            }
            (Some(cert), Some(key)) => {
                let cert_pem = read("client certificate (--cert)", cert)?;
                let key_pem = read("client key (--key)", key)?;
                check_pair(cert, &cert_pem, key, &key_pem)?;
                Some((cert_pem, key_pem))
            }
        };
        Ok(ValidatedTls { ca_pem, identity })
    }
}

/// Bounded: a flag pointed at `/dev/zero` or a huge file by mistake is refused, not read.
fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, OpsError> {
    inputs::read(path, inputs::Kind::PEM).map_err(|e| match e.problem {
        inputs::Problem::Io(source) => OpsError::UnreadableFile {
            what,
            path: path.to_path_buf(),
            source,
        },
        problem => OpsError::BadPemFile {
            what,
            path: path.to_path_buf(),
            reason: problem.to_string(),
        },
    })
}

fn parse_certs(
    what: &'static str,
    path: &Path,
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, OpsError> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(pem).collect();
    let certs = certs.map_err(|e| OpsError::BadPemFile {
        what,
        path: path.to_path_buf(),
        reason: format!("not valid PEM: {e}"),
    })?;
    if certs.is_empty() {
        return Err(OpsError::BadPemFile {
            what,
            path: path.to_path_buf(),
            reason: "no CERTIFICATE block in it".into(),
        });
    }
    Ok(certs)
}

/// A client key that does not belong to its certificate makes every handshake fail with a vague
/// alert; catching it here names both files.
fn check_pair(cert: &Path, cert_pem: &[u8], key: &Path, key_pem: &[u8]) -> Result<(), OpsError> {
    let certs = parse_certs("client certificate (--cert)", cert, cert_pem)?;
    let key_der = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| OpsError::BadPemFile {
        what: "client key (--key)",
        path: key.to_path_buf(),
        reason: format!("no usable private key in it ({e})"),
    })?;
    let provider = rustls::crypto::ring::default_provider();
    CertifiedKey::from_der(certs, key_der, &provider).map_err(|e| {
        let reason = match e {
            rustls::Error::InconsistentKeys(_) => format!(
                "the key does not belong to the certificate {}; check that --cert and --key are a pair",
                cert.display()
            ),
            other => other.to_string(),
        };
        OpsError::BadPemFile {
            what: "client key (--key)",
            path: key.to_path_buf(),
            reason,
        }
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_or_huge_file_is_refused_not_read() {
        let dir = tempfile::tempdir().expect("tmp");
        let files = TlsFiles {
            cacert: Some(dir.path().to_path_buf()),
            cert: None,
            key: None,
        };
        let e = files.load().expect_err("a directory is no CA").to_string();
        assert!(e.contains("not a regular file"), "{e}");
        // Sparse: 4 GiB long, no space taken; without the bound it would be read whole.
        let big = dir.path().join("big.pem");
        std::fs::File::create(&big)
            .and_then(|f| f.set_len(4 << 30))
            .expect("sparse");
        let files = TlsFiles {
            cacert: Some(big),
            cert: None,
            key: None,
        };
        let e = files.load().expect_err("too large").to_string();
        assert!(e.contains("larger than"), "{e}");
    }
}
