//! A throwaway PKI: one CA, one certificate for every member (server and peer, valid for
//! 127.0.0.1 and localhost), one client certificate. ECDSA P-256, which etcd 3.4 accepts.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

use crate::OpsError;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Pki {
    pub ca_cert: PathBuf,
    pub ca_key: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

impl Pki {
    /// Writes the PKI into `dir` (created if missing), keys with mode 0600.
    pub fn generate(dir: &Path) -> Result<Pki, OpsError> {
        Self::generate_for(dir, &[])
    }

    /// [`Pki::generate`] with the member certificate also valid for `hosts` (addresses of
    /// members placed in network namespaces).
    pub fn generate_for(dir: &Path, hosts: &[String]) -> Result<Pki, OpsError> {
        let fail = |e: rcgen::Error| OpsError::Local(format!("generating certificates: {e}"));
        std::fs::create_dir_all(dir).map_err(|source| OpsError::LocalIo {
            path: dir.to_path_buf(),
            source,
        })?;

        let ca_key = KeyPair::generate().map_err(fail)?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(fail)?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "lifeboat throwaway CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params.self_signed(&ca_key).map_err(fail)?;
        let ca_key_pem = ca_key.serialize_pem();
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate().map_err(fail)?;
        let mut names = vec!["127.0.0.1".to_string(), "localhost".to_string()];
        names.extend(hosts.iter().cloned());
        let mut server_params = CertificateParams::new(names).map_err(fail)?;
        server_params
            .distinguished_name
            .push(DnType::CommonName, "etcd member");
        let server_cert = server_params
            .signed_by(&server_key, &issuer)
            .map_err(fail)?;

        let client_key = KeyPair::generate().map_err(fail)?;
        let mut client_params = CertificateParams::new(Vec::<String>::new()).map_err(fail)?;
        client_params
            .distinguished_name
            .push(DnType::CommonName, "lifeboat");
        let client_cert = client_params
            .signed_by(&client_key, &issuer)
            .map_err(fail)?;

        let pki = Pki {
            ca_cert: dir.join("ca.crt"),
            ca_key: dir.join("ca.key"),
            server_cert: dir.join("member.crt"),
            server_key: dir.join("member.key"),
            client_cert: dir.join("client.crt"),
            client_key: dir.join("client.key"),
        };
        write(&pki.ca_cert, &ca_cert.pem(), 0o644)?;
        write(&pki.ca_key, &ca_key_pem, 0o600)?;
        write(&pki.server_cert, &server_cert.pem(), 0o644)?;
        write(&pki.server_key, &server_key.serialize_pem(), 0o600)?;
        write(&pki.client_cert, &client_cert.pem(), 0o644)?;
        write(&pki.client_key, &client_key.serialize_pem(), 0o600)?;
        Ok(pki)
    }
}

fn write(path: &Path, text: &str, mode: u32) -> Result<(), OpsError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let io = |source| OpsError::LocalIo {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .map_err(io)?;
    f.write_all(text.as_bytes()).map_err(io)
}
