//! etcd run by the kubelet from a static pod manifest (kubeadm).
//!
//! Stopping means moving the manifest out of the manifests dir (the kubelet then removes the
//! pod); starting means moving it back. Settings are edited as lines of the `command:` list, so
//! the rest of the manifest stays exactly as kubeadm wrote it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::service::{NodeService, Setting};
use crate::files::{with_suffix, write_atomic};
use crate::{OpsError, utc};

pub struct StaticPodService {
    /// Where the kubelet looks: `/etc/kubernetes/manifests/etcd.yaml`.
    pub manifest: PathBuf,
    /// Where the manifest waits while etcd is stopped (outside the manifests dir).
    pub parked: PathBuf,
    /// How long to wait for the kubelet to stop the pod.
    pub stop_timeout: Duration,
    saved: bool,
}

impl StaticPodService {
    pub fn new(manifest: PathBuf) -> StaticPodService {
        let parked = manifest
            .parent()
            .and_then(Path::parent)
            .map(|p| p.join("etcd.yaml.lifeboat-parked"))
            .unwrap_or_else(|| with_suffix(&manifest, ".lifeboat-parked"));
        StaticPodService {
            manifest,
            parked,
            stop_timeout: Duration::from_secs(90),
            saved: false,
        }
    }

    /// The manifest wherever it is now.
    fn current(&self) -> Result<PathBuf, OpsError> {
        if self.manifest.is_file() {
            Ok(self.manifest.clone())
        } else if self.parked.is_file() {
            Ok(self.parked.clone())
        } else {
            Err(OpsError::Config(format!(
                "no etcd manifest at {} (nor parked at {})",
                self.manifest.display(),
                self.parked.display()
            )))
        }
    }

    fn read(&self) -> Result<(PathBuf, String), OpsError> {
        let p = self.current()?;
        let text = std::fs::read_to_string(&p).map_err(|source| OpsError::LocalIo {
            path: p.clone(),
            source,
        })?;
        Ok((p, text))
    }

    fn client_port(&self) -> Option<(String, u16)> {
        let (_, text) = self.read().ok()?;
        let urls = flag_value(&text, "listen-client-urls")?;
        let first = urls.split(',').next()?;
        let ep = crate::settings::Endpoint::parse(&first.replace("://0.0.0.0:", "://127.0.0.1:"))
            .ok()?;
        Some((ep.host().trim_matches(['[', ']']).to_string(), ep.port()))
    }
}

impl NodeService for StaticPodService {
    fn stop(&mut self) -> Result<(), OpsError> {
        if self.manifest.is_file() {
            std::fs::rename(&self.manifest, &self.parked).map_err(|source| OpsError::LocalIo {
                path: self.manifest.clone(),
                source,
            })?;
        }
        // The kubelet notices within seconds; wait until the client port refuses.
        if let Some((host, port)) = self.client_port() {
            let deadline = std::time::Instant::now() + self.stop_timeout;
            while std::net::TcpStream::connect((host.as_str(), port)).is_ok() {
                if std::time::Instant::now() > deadline {
                    return Err(OpsError::Local(format!(
                        "etcd still answers on {host}:{port} {:?} after its manifest was moved to {}; \
                         is the kubelet running (`systemctl status kubelet`)?",
                        self.stop_timeout,
                        self.parked.display()
                    )));
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        Ok(())
    }

    fn start(&mut self) -> Result<(), OpsError> {
        if self.parked.is_file() && !self.manifest.is_file() {
            std::fs::rename(&self.parked, &self.manifest).map_err(|source| OpsError::LocalIo {
                path: self.parked.clone(),
                source,
            })?;
        }
        Ok(())
    }

    fn set(&mut self, setting: Setting, value: Option<&str>) -> Result<(), OpsError> {
        let (path, text) = self.read()?;
        if !self.saved {
            let copy = with_suffix(&self.manifest, &format!(".lifeboat-{}", utc::compact_now()));
            // Outside the manifests dir, or the kubelet would run the copy as a second pod.
            let copy = match (self.parked.parent(), copy.file_name()) {
                (Some(dir), Some(name)) => dir.join(name),
                _ => copy,
            };
            write_atomic(&copy, text.as_bytes(), 0o600)?;
            self.saved = true;
        }
        let new = set_flag(
            &text,
            setting.flag(),
            value,
            setting == Setting::ForceNewCluster,
        )?;
        write_atomic(&path, new.as_bytes(), 0o600)
    }

    fn data_dir(&self) -> Result<PathBuf, OpsError> {
        let (p, text) = self.read()?;
        flag_value(&text, "data-dir")
            .map(PathBuf::from)
            .ok_or_else(|| OpsError::Config(format!("{} has no --data-dir", p.display())))
    }

    fn get(&self, setting: Setting) -> Result<Option<String>, OpsError> {
        let (_, text) = self.read()?;
        Ok(flag_value(&text, setting.flag()))
    }

    fn get_named(&self, flag: &str, _env: &str) -> Result<Option<String>, OpsError> {
        let (_, text) = self.read()?;
        Ok(flag_value(&text, flag))
    }

    fn describe(&self) -> String {
        format!("static pod {}", self.manifest.display())
    }
}

/// `--flag=value` (or a bare `--flag`, as "true") from the command list.
pub(crate) fn flag_value(text: &str, flag: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let item = line.trim().strip_prefix("- ")?.trim().trim_matches('"');
        let rest = item.strip_prefix("--")?.strip_prefix(flag)?;
        if rest.is_empty() {
            Some("true".into())
        } else {
            rest.strip_prefix('=').map(String::from)
        }
    })
}

fn is_flag_line(line: &str, flag: &str) -> bool {
    let Some(item) = line.trim().strip_prefix("- ") else {
        return false;
    };
    let item = item.trim().trim_matches('"');
    item.strip_prefix("--")
        .and_then(|r| r.strip_prefix(flag))
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('='))
}

/// Sets or removes `--flag` in the etcd command list, keeping every other line.
pub(crate) fn set_flag(
    text: &str,
    flag: &str,
    value: Option<&str>,
    bare: bool,
) -> Result<String, OpsError> {
    let wanted = |indent: &str, v: &str| {
        if bare {
            format!("{indent}- --{flag}")
        } else {
            format!("{indent}- --{flag}={v}")
        }
    };
    let mut out: Vec<String> = Vec::new();
    let mut placed = false;
    for line in text.lines() {
        if is_flag_line(line, flag) {
            if let (Some(v), false) = (value, placed) {
                let indent: String = line.chars().take_while(|c| c.is_whitespace()).collect();
                out.push(wanted(&indent, v));
                placed = true;
            }
            continue;
        }
        out.push(line.to_string());
    }
    if let (Some(v), false) = (value, placed) {
        // After the `- etcd` line that starts the command, with its indentation.
        let pos = out
            .iter()
            .position(|l| matches!(l.trim(), "- etcd" | "- \"etcd\"" | "- /usr/local/bin/etcd"))
            .ok_or_else(|| {
                OpsError::Config(
                    "the manifest has no `- etcd` command line to add a flag after".into(),
                )
            })?;
        let indent: String = out[pos].chars().take_while(|c| c.is_whitespace()).collect();
        out.insert(pos + 1, wanted(&indent, v));
    }
    let mut s = out.join("\n");
    s.push('\n');
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KUBEADM: &str = "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - command:\n    - etcd\n    - --advertise-client-urls=https://10.0.0.1:2379\n    - --data-dir=/var/lib/etcd\n    - --initial-cluster=cp1=https://10.0.0.1:2380\n    - --listen-client-urls=https://127.0.0.1:2379,https://10.0.0.1:2379\n    image: registry.k8s.io/etcd:3.4.23-0\n";

    #[test]
    fn flags_are_added_replaced_and_removed_in_place() {
        let t = set_flag(KUBEADM, "force-new-cluster", Some("true"), true).unwrap();
        assert!(t.contains("    - etcd\n    - --force-new-cluster\n"));
        assert_eq!(flag_value(&t, "force-new-cluster").as_deref(), Some("true"));
        let t = set_flag(&t, "force-new-cluster", None, true).unwrap();
        assert_eq!(t, KUBEADM);
        let t = set_flag(
            KUBEADM,
            "initial-cluster",
            Some("cp1=https://10.0.0.1:2380,cp2=https://10.0.0.2:2380"),
            false,
        )
        .unwrap();
        assert_eq!(
            flag_value(&t, "initial-cluster").as_deref(),
            Some("cp1=https://10.0.0.1:2380,cp2=https://10.0.0.2:2380")
        );
        assert_eq!(t.lines().count(), KUBEADM.lines().count());
        assert_eq!(
            flag_value(KUBEADM, "data-dir").as_deref(),
            Some("/var/lib/etcd")
        );
        // A prefix of another flag is not that flag.
        assert_eq!(flag_value(KUBEADM, "initial-cluster-state"), None);
    }
}
