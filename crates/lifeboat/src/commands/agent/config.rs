//! `lifeboat agent --config FILE`: the agent's settings as YAML, keys named as the flags
//! (`store`, `full-every`, `work-dir`, `lease-ttl`, `metrics-listen`, `policy-watch`,
//! `restore-test-every`, and a `retention:` section: `keep-last`, `hourly`, `daily`, `weekly`). A flag given on the
//! command line wins over the file; the file wins over the defaults. An unknown key or a
//! value of the wrong type is refused with its line and column.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// A duration as the flags take it (`90s`, `1h`).
#[derive(Debug, Clone, Copy)]
pub struct HumanDuration(pub Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<HumanDuration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text)
            .map(HumanDuration)
            .map_err(|e| {
                serde::de::Error::custom(format!(
                    "{text:?} is not a duration ({e}); write e.g. 90s or 1h"
                ))
            })
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AgentConfig {
    pub store: Option<String>,
    pub full_every: Option<HumanDuration>,
    pub work_dir: Option<PathBuf>,
    pub lease_ttl: Option<HumanDuration>,
    pub metrics_listen: Option<SocketAddr>,
    #[serde(alias = "policy_watch")]
    pub policy_watch: Option<bool>,
    // Delta log, spool, retention and restore tests (issue 15 part 1).
    pub flush_every: Option<HumanDuration>,
    pub spool_limit: Option<u64>,
    pub retention: Option<RetentionConfig>,
    #[serde(alias = "restore_test_every")]
    pub restore_test_every: Option<HumanDuration>,
    pub encrypt_to: Option<String>,
}

/// `retention:`, keys named as the flags (`keep-last`, `hourly`, `daily`, `weekly`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RetentionConfig {
    #[serde(alias = "keep_last")]
    pub keep_last: Option<usize>,
    pub hourly: Option<usize>,
    pub daily: Option<usize>,
    pub weekly: Option<usize>,
}

impl RetentionConfig {
    /// The policy in force: each flag given wins over the file's value.
    pub fn policy_under(&self, flags: &crate::flags::RetentionArgs) -> ::backup::retention::Policy {
        ::backup::retention::Policy {
            keep_last: flags.keep_last.or(self.keep_last).unwrap_or(0),
            hourly: flags.hourly.or(self.hourly).unwrap_or(0),
            daily: flags.daily.or(self.daily).unwrap_or(0),
            weekly: flags.weekly.or(self.weekly).unwrap_or(0),
        }
    }
}

pub fn load(path: &Path) -> anyhow::Result<AgentConfig> {
    let text = inputs::read_to_string(path, inputs::Kind::CONFIG)?;
    serde_saphyr::from_str(&text).map_err(|e| {
        // Only the first line: the rest quotes the file, which is not ours to echo.
        let full = e.to_string();
        let first = full.lines().next().unwrap_or("invalid YAML");
        let first = first.strip_prefix("error: ").unwrap_or(first);
        anyhow::anyhow!(
            "{}: {first}; fix the file (its keys are the agent's flags without --)",
            path.display()
        )
    })
}
