//! etcd run by systemd from an env file (Kubespray and most hand-made installs).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::env_file;
use super::service::{NodeService, Setting};
use crate::files::{with_suffix, write_atomic};
use crate::{OpsError, utc};

pub struct SystemdService {
    pub env_file: PathBuf,
    pub unit: String,
    /// `systemctl` (tests put a stand-in first on PATH).
    pub systemctl: PathBuf,
    saved: bool,
}

impl SystemdService {
    pub fn new(env_file: PathBuf, unit: String) -> SystemdService {
        SystemdService {
            env_file,
            unit,
            systemctl: PathBuf::from("systemctl"),
            saved: false,
        }
    }

    fn read(&self) -> Result<String, OpsError> {
        std::fs::read_to_string(&self.env_file).map_err(|source| OpsError::LocalIo {
            path: self.env_file.clone(),
            source,
        })
    }

    fn systemctl(&self, verb: &str) -> Result<(), OpsError> {
        let out = Command::new(&self.systemctl)
            .arg(verb)
            .arg(&self.unit)
            .output()
            .map_err(|e| {
                OpsError::Local(format!(
                    "cannot run {} {verb} {}: {e}",
                    self.systemctl.display(),
                    self.unit
                ))
            })?;
        if out.status.success() {
            Ok(())
        } else {
            Err(OpsError::Local(format!(
                "`systemctl {verb} {}` failed: {}; see `journalctl -u {}`",
                self.unit,
                String::from_utf8_lossy(&out.stderr).trim(),
                self.unit
            )))
        }
    }
}

impl NodeService for SystemdService {
    fn stop(&mut self) -> Result<(), OpsError> {
        self.systemctl("stop")
    }

    fn start(&mut self) -> Result<(), OpsError> {
        self.systemctl("start")
    }

    fn set(&mut self, setting: Setting, value: Option<&str>) -> Result<(), OpsError> {
        let text = self.read()?;
        if !self.saved {
            let copy = with_suffix(&self.env_file, &format!(".lifeboat-{}", utc::compact_now()));
            write_atomic(&copy, text.as_bytes(), 0o600)?;
            self.saved = true;
        }
        let new = env_file::set(&text, setting.env(), value);
        write_atomic(&self.env_file, new.as_bytes(), mode_of(&self.env_file))
    }

    fn data_dir(&self) -> Result<PathBuf, OpsError> {
        let text = self.read()?;
        env_file::get(&text, "ETCD_DATA_DIR")
            .map(PathBuf::from)
            .ok_or_else(|| {
                OpsError::Config(format!("{} sets no ETCD_DATA_DIR", self.env_file.display()))
            })
    }

    fn get(&self, setting: Setting) -> Result<Option<String>, OpsError> {
        Ok(env_file::get(&self.read()?, setting.env()))
    }

    fn get_named(&self, _flag: &str, env: &str) -> Result<Option<String>, OpsError> {
        Ok(env_file::get(&self.read()?, env))
    }

    fn describe(&self) -> String {
        format!(
            "systemd unit {} with {}",
            self.unit,
            self.env_file.display()
        )
    }
}

fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(0o644)
}
