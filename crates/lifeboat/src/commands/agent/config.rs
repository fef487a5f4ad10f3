//! `lifeboat agent --config FILE`: the agent's settings as YAML, keys named as the flags
//! (`store`, `full-every`, `work-dir`, `lease-ttl`, `metrics-listen`, `policy-watch`). A flag given on the
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
    pub encrypt_to: Option<String>,
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
