//! One etcd client for one endpoint.
//!
//! etcd-client balances over all endpoints it is given, which would send a per-member question
//! (status, snapshot, defrag) to whichever member answers. So lifeboat opens one client per
//! endpoint, after a plain TCP dial that turns "nothing listens there" into a clear message
//! instead of a timeout.

use std::future::Future;
use std::time::Duration;

use etcd_client::{Certificate, Client, ConnectOptions, Identity, TlsOptions};

use crate::OpsError;
use crate::settings::{ConnectionSettings, Endpoint, TlsFiles, ValidatedTls};

/// A connected client plus the limits every call on it must respect.
pub struct EndpointClient {
    pub endpoint: Endpoint,
    pub client: Client,
    command_timeout: Duration,
    tls_files: TlsFiles,
}

impl EndpointClient {
    /// Runs one request under the command timeout, translating failures into operator terms.
    pub async fn call<T, F, Fut>(&self, f: F) -> Result<T, OpsError>
    where
        F: FnOnce(Client) -> Fut,
        Fut: Future<Output = Result<T, etcd_client::Error>>,
    {
        let endpoint = self.endpoint.to_string();
        match tokio::time::timeout(self.command_timeout, f(self.client.clone())).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(OpsError::Endpoint {
                endpoint,
                message: explain(&e, &self.tls_files),
            }),
            Err(_) => Err(OpsError::Timeout {
                endpoint,
                timeout_ms: self.command_timeout.as_millis(),
            }),
        }
    }
}

/// Dials one endpoint: TCP within the dial timeout, then the gRPC channel (and TLS) within it too.
pub async fn connect(
    endpoint: &Endpoint,
    tls: Option<&ValidatedTls>,
    settings: &ConnectionSettings,
) -> Result<EndpointClient, OpsError> {
    let name = endpoint.to_string();
    let dial = settings.dial_timeout;
    match tokio::time::timeout(dial, tokio::net::TcpStream::connect(endpoint.authority())).await {
        Ok(Ok(_probe)) => {}
        Ok(Err(e)) => {
            return Err(OpsError::Endpoint {
                endpoint: name,
                message: format!("cannot connect: {e}; is etcd running and listening there?"),
            });
        }
        Err(_) => {
            return Err(OpsError::Timeout {
                endpoint: name,
                timeout_ms: dial.as_millis(),
            });
        }
    }

    // Connect eagerly: TCP, TLS and HTTP/2 must all finish within the dial timeout. A frozen
    // member (SIGSTOP, hung node) accepts TCP but never completes a handshake; a lazy channel
    // would only notice at the first request, after the command timeout.
    let mut builder = tonic::transport::Endpoint::from_shared(name.clone())
        .map_err(|e| OpsError::BadEndpoint {
            url: name.clone(),
            reason: e.to_string(),
        })?
        .connect_timeout(dial)
        .timeout(settings.command_timeout)
        .http2_keep_alive_interval(Duration::from_secs(10))
        .keep_alive_timeout(dial)
        // A snapshot is one long stream: HTTP/2's default 64 KiB window would cap it at one
        // window per round trip. Size the window from the measured bandwidth-delay product, as
        // Go's gRPC (and so etcdctl) does.
        .http2_adaptive_window(true);
    if endpoint.is_tls() {
        let tls = tls.ok_or_else(|| {
            OpsError::Config(format!("{endpoint} is https but no --cacert was given"))
        })?;
        let mut tls_options = TlsOptions::new().ca_certificate(Certificate::from_pem(&tls.ca_pem));
        if let Some((cert, key)) = &tls.identity {
            tls_options = tls_options.identity(Identity::from_pem(cert, key));
        }
        builder = builder
            .tls_config(tls_options)
            .map_err(|e| OpsError::Endpoint {
                endpoint: name.clone(),
                message: explain_chain(&e, &settings.tls),
            })?;
    }
    let channel = match tokio::time::timeout(dial, builder.connect()).await {
        Ok(Ok(ch)) => ch,
        Ok(Err(e)) => {
            return Err(OpsError::Endpoint {
                endpoint: name,
                message: explain_chain(&e, &settings.tls),
            });
        }
        Err(_) => {
            return Err(OpsError::Timeout {
                endpoint: name,
                timeout_ms: dial.as_millis(),
            });
        }
    };
    let options = ConnectOptions::new().with_timeout(settings.command_timeout);
    let client = Client::from_channel(etcd_client::Channel::Tonic(channel), Some(options))
        .await
        .map_err(|e| OpsError::Endpoint {
            endpoint: name.clone(),
            message: explain(&e, &settings.tls),
        })?;
    Ok(EndpointClient {
        endpoint: endpoint.clone(),
        client,
        command_timeout: settings.command_timeout,
        tls_files: settings.tls.clone(),
    })
}

/// etcd-client errors wrap tonic errors wrap rustls errors; the useful words are at the bottom of
/// the chain. Collect the chain and add the check an operator should make, naming the files.
pub fn explain(err: &etcd_client::Error, tls: &TlsFiles) -> String {
    explain_chain(err, tls)
}

/// [`explain`] for any error with a source chain (tonic's transport errors too).
pub fn explain_chain(err: &dyn std::error::Error, tls: &TlsFiles) -> String {
    let file = |p: &Option<std::path::PathBuf>, flag: &str| match p {
        Some(p) => format!("{flag} {}", p.display()),
        None => flag.to_string(),
    };
    let cacert = file(&tls.cacert, "--cacert");
    let cert = file(&tls.cert, "--cert");
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    let chain = parts.join(": ");
    let hint: Option<String> = if chain.contains("UnknownIssuer")
        || chain.contains("unknown issuer")
        || chain.contains("BadSignature")
    {
        Some(format!(
            "the server certificate is not signed by the CA in {cacert}; check that it is etcd's \
             CA (kubeadm: /etc/kubernetes/pki/etcd/ca.crt)"
        ))
    } else if chain.contains("NotValidForName") || chain.contains("not valid for name") {
        Some(
            "the server certificate does not list this host or IP; use the address etcd advertises"
                .into(),
        )
    } else if chain.contains("certificate required") || chain.contains("CertificateRequired") {
        Some("etcd requires a client certificate: pass --cert and --key".into())
    } else if chain.contains("bad certificate")
        || chain.contains("BadCertificate")
        || chain.contains("UnknownCA")
    {
        Some(format!(
            "etcd rejected the client certificate {cert}: check that it is signed by etcd's CA"
        ))
    } else if chain.contains("InvalidContentType")
        || chain.contains("CorruptMessage")
        || chain.contains("http2 error")
        || chain.contains("frame with invalid size")
    {
        Some(
            "the port answered but does not speak etcd's gRPC (wrong port, or http vs https)"
                .into(),
        )
    } else {
        None
    };
    match hint {
        Some(h) => format!("{chain} ({h})"),
        None => chain,
    }
}
