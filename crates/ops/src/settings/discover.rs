//! Zero-configuration on a control-plane node: read the endpoints and certificates that the node's
//! own etcd was started with. kubeadm first (static pod manifest), then a Kubespray/systemd env
//! file, then loopback.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{Endpoint, SettingsSource, TlsFiles};
use crate::OpsError;

const KUBEADM_MANIFEST: &str = "etc/kubernetes/manifests/etcd.yaml";
const KUBEADM_CLIENT_PAIRS: [(&str, &str); 2] = [
    (
        "etc/kubernetes/pki/etcd/healthcheck-client.crt",
        "etc/kubernetes/pki/etcd/healthcheck-client.key",
    ),
    (
        "etc/kubernetes/pki/apiserver-etcd-client.crt",
        "etc/kubernetes/pki/apiserver-etcd-client.key",
    ),
];
const ENV_FILE: &str = "etc/etcd.env";
const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:2379";

/// The directory that stands for `/` (tests point it at a temp dir).
#[derive(Debug, Clone)]
pub struct DiscoveryRoot(pub PathBuf);

impl DiscoveryRoot {
    /// Maps an absolute path from a manifest or env file under this root.
    fn map(&self, absolute: &str) -> PathBuf {
        self.0.join(absolute.trim_start_matches('/'))
    }
}

#[derive(Debug, Clone)]
pub struct Discovered {
    pub endpoints: Vec<Endpoint>,
    pub tls: TlsFiles,
    pub source: SettingsSource,
}

pub fn discover(root: &DiscoveryRoot) -> Result<Discovered, OpsError> {
    let manifest = root.map(KUBEADM_MANIFEST);
    if manifest.is_file() {
        return from_kubeadm(root, &manifest);
    }
    let env_file = root.map(ENV_FILE);
    if env_file.is_file() {
        return from_env_file(root, &env_file);
    }
    Ok(Discovered {
        endpoints: vec![Endpoint::parse(DEFAULT_ENDPOINT)?],
        tls: TlsFiles::default(),
        source: SettingsSource::Default,
    })
}

#[derive(Deserialize)]
struct Pod {
    spec: PodSpec,
}
#[derive(Deserialize)]
struct PodSpec {
    #[serde(default)]
    containers: Vec<Container>,
}
#[derive(Deserialize)]
struct Container {
    #[serde(default)]
    command: Vec<String>,
    #[serde(default)]
    args: Vec<String>,
}

/// Endpoints and certificates from a kubeadm etcd manifest at any path (it may be parked
/// outside the manifests dir during a recovery).
pub fn from_kubeadm(root: &DiscoveryRoot, manifest: &Path) -> Result<Discovered, OpsError> {
    let fail = |reason: String| OpsError::Discovery {
        path: manifest.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(manifest).map_err(|e| fail(e.to_string()))?;
    let pod: Pod = serde_saphyr::from_str(&text).map_err(|e| fail(e.to_string()))?;
    let argv: Vec<String> = pod
        .spec
        .containers
        .into_iter()
        .flat_map(|c| c.command.into_iter().chain(c.args))
        .collect();
    let flags = parse_flags(&argv);
    let urls = flags
        .get("listen-client-urls")
        .or_else(|| flags.get("advertise-client-urls"))
        .ok_or_else(|| fail("the etcd command has no --listen-client-urls".into()))?;
    let endpoints = endpoints_from(urls).map_err(|e| fail(e.to_string()))?;
    let cacert = flags.get("trusted-ca-file").map(|p| root.map(p));
    let (cert, key) = KUBEADM_CLIENT_PAIRS
        .iter()
        .map(|(c, k)| (root.0.join(c), root.0.join(k)))
        .find(|(c, k)| c.is_file() && k.is_file())
        .map(|(c, k)| (Some(c), Some(k)))
        .unwrap_or((None, None));
    Ok(Discovered {
        endpoints,
        tls: TlsFiles { cacert, cert, key },
        source: SettingsSource::KubeadmManifest {
            path: manifest.to_path_buf(),
        },
    })
}

/// Endpoints and certificates from an etcd env file at any path.
pub fn from_env_file(root: &DiscoveryRoot, path: &Path) -> Result<Discovered, OpsError> {
    let fail = |reason: String| OpsError::Discovery {
        path: path.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    let vars = parse_env_file(&text);
    let urls = vars
        .get("ETCD_LISTEN_CLIENT_URLS")
        .or_else(|| vars.get("ETCD_ADVERTISE_CLIENT_URLS"))
        .ok_or_else(|| fail("no ETCD_LISTEN_CLIENT_URLS in it".into()))?;
    let endpoints = endpoints_from(urls).map_err(|e| fail(e.to_string()))?;
    let file = |name: &str| {
        vars.get(name)
            .filter(|v| !v.is_empty())
            .map(|v| root.map(v))
    };
    Ok(Discovered {
        endpoints,
        tls: TlsFiles {
            cacert: file("ETCD_TRUSTED_CA_FILE"),
            cert: file("ETCD_CERT_FILE"),
            key: file("ETCD_KEY_FILE"),
        },
        source: SettingsSource::EnvFile {
            path: path.to_path_buf(),
        },
    })
}

/// `--flag=value` and `--flag value` as etcd's own flag parser accepts them.
fn parse_flags(argv: &[String]) -> BTreeMap<String, String> {
    let mut flags = BTreeMap::new();
    let mut i = 0;
    while i < argv.len() {
        if let Some(flag) = argv[i]
            .strip_prefix("--")
            .or_else(|| argv[i].strip_prefix('-'))
        {
            if let Some((name, value)) = flag.split_once('=') {
                flags.insert(name.to_string(), value.to_string());
            } else if let Some(next) = argv.get(i + 1).filter(|n| !n.starts_with('-')) {
                flags.insert(flag.to_string(), next.clone());
                i += 1;
            }
        }
        i += 1;
    }
    flags
}

/// `KEY=value` lines, optionally `export`ed and quoted; comments and junk lines are skipped.
fn parse_env_file(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let l = l.strip_prefix("export ").unwrap_or(l);
            let (k, v) = l.split_once('=')?;
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            Some((k.trim().to_string(), v.to_string()))
        })
        .collect()
}

/// Listen URLs may name the wildcard address; a client dials it on loopback instead.
fn endpoints_from(urls: &str) -> Result<Vec<Endpoint>, OpsError> {
    let mut out: Vec<Endpoint> = Vec::new();
    for raw in urls.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let dialable = raw
            .replace("://0.0.0.0:", "://127.0.0.1:")
            .replace("://[::]:", "://[::1]:");
        let ep = Endpoint::parse(&dialable)?;
        if !out.contains(&ep) {
            out.push(ep);
        }
    }
    // The local member first: it answers even when the network to the others is cut.
    out.sort_by_key(|e| !e.is_loopback());
    if out.is_empty() {
        return Err(OpsError::Config("no client URL listed".into()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_in_both_forms() {
        let argv: Vec<String> = ["etcd", "--name=a", "--data-dir", "/var/lib/etcd", "--x"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let f = parse_flags(&argv);
        assert_eq!(f.get("name").map(String::as_str), Some("a"));
        assert_eq!(f.get("data-dir").map(String::as_str), Some("/var/lib/etcd"));
        assert!(!f.contains_key("x"));
    }

    #[test]
    fn env_file_quotes_exports_and_comments() {
        let v = parse_env_file("# c\nexport A=\"1\"\nB='2'\nC=3\njunk\n");
        assert_eq!(v.get("A").map(String::as_str), Some("1"));
        assert_eq!(v.get("B").map(String::as_str), Some("2"));
        assert_eq!(v.get("C").map(String::as_str), Some("3"));
        assert_eq!(v.len(), 3);
    }

    #[test]
    fn wildcard_listen_urls_become_loopback_first() {
        let eps = endpoints_from("https://10.0.0.1:2379,https://0.0.0.0:2379").unwrap();
        assert_eq!(eps[0].to_string(), "https://127.0.0.1:2379");
        assert_eq!(eps.len(), 2);
    }
}
