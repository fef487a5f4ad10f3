//! How members are stopped, started and cleared during a recovery. The local executor drives
//! etcd processes on this machine (drills and tests); systemd and static-pod executors will
//! implement the same trait for real nodes.

use std::path::PathBuf;

use crate::OpsError;
use crate::files::move_aside;
use crate::local::{LocalCluster, MemberState};
use crate::settings::ConnectionSettings;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartMode {
    /// `--force-new-cluster`: rewrite the membership to this member alone.
    ForceNewCluster,
    /// As configured, on the existing data dir.
    Normal,
    /// Join a running cluster on an empty data dir.
    Join { initial_cluster: String },
}

pub trait Executor {
    fn members(&self) -> Vec<String>;
    fn data_dir(&self, member: &str) -> Option<PathBuf>;
    fn is_running(&self, member: &str) -> bool;
    fn stop(&mut self, member: &str) -> Result<(), OpsError>;
    fn start(&mut self, member: &str, mode: StartMode) -> Result<(), OpsError>;
    /// Copies the data dir to `DIR.lifeboat-<UTC time>`; `None` when there is none.
    fn backup(&mut self, member: &str) -> Result<Option<PathBuf>, OpsError>;
    /// Moves the data dir aside so the member starts empty; `None` when there is none.
    fn clear_data(&mut self, member: &str) -> Result<Option<PathBuf>, OpsError>;
    /// Every member's data dir restored from the seed's db as one new cluster (IDs from
    /// `token`); old dirs moved aside once the new ones are complete. Members must be stopped.
    fn restore_all(&mut self, seed: &str, token: &str) -> Result<(), OpsError>;
    /// Settings that reach exactly this member.
    fn settings_for(&self, member: &str) -> ConnectionSettings;
    /// Settings that reach every member.
    fn settings_all(&self) -> ConnectionSettings;
    fn peer_urls(&self, member: &str) -> Vec<String>;
}

pub struct LocalExecutor<'a> {
    pub cluster: &'a mut LocalCluster,
}

impl LocalExecutor<'_> {
    fn index(&self, member: &str) -> Result<usize, OpsError> {
        self.cluster
            .members()
            .iter()
            .position(|m| m.name == member)
            .ok_or_else(|| OpsError::Local(format!("no local member named {member}")))
    }
}

impl Executor for LocalExecutor<'_> {
    fn members(&self) -> Vec<String> {
        self.cluster
            .members()
            .iter()
            .map(|m| m.name.clone())
            .collect()
    }

    fn data_dir(&self, member: &str) -> Option<PathBuf> {
        let i = self.index(member).ok()?;
        let d = self.cluster.members()[i].data_dir.clone();
        d.join("member").is_dir().then_some(d)
    }

    fn is_running(&self, member: &str) -> bool {
        self.index(member)
            .map(|i| self.cluster.members()[i].state == MemberState::Running)
            .unwrap_or(false)
    }

    fn stop(&mut self, member: &str) -> Result<(), OpsError> {
        let i = self.index(member)?;
        self.cluster.stop(i);
        Ok(())
    }

    fn start(&mut self, member: &str, mode: StartMode) -> Result<(), OpsError> {
        let i = self.index(member)?;
        match mode {
            StartMode::ForceNewCluster => self
                .cluster
                .start_with(i, &["--force-new-cluster".to_string()]),
            StartMode::Normal => self.cluster.start_with(i, &[]),
            StartMode::Join { initial_cluster } => self.cluster.start_joining(i, &initial_cluster),
        }
    }

    fn backup(&mut self, member: &str) -> Result<Option<PathBuf>, OpsError> {
        let Some(dir) = self.data_dir(member) else {
            return Ok(None);
        };
        crate::files::copy_aside(&dir).map(Some)
    }

    fn clear_data(&mut self, member: &str) -> Result<Option<PathBuf>, OpsError> {
        let i = self.index(member)?;
        let dir = self.cluster.members()[i].data_dir.clone();
        if dir.exists() {
            move_aside(&dir).map(Some)
        } else {
            Ok(None)
        }
    }

    fn restore_all(&mut self, seed: &str, token: &str) -> Result<(), OpsError> {
        use store::restore::{Bump, Request, Target, parse, restore};
        let seed_dir = self.cluster.members()[self.index(seed)?].data_dir.clone();
        // The seed's dir is first renamed to a name fixed by the plan (its token), and restored
        // from there: a rerun after a crash anywhere in this step finds the original by that
        // name, whatever state the dir under the member's own name was left in.
        let kept = crate::files::with_suffix(&seed_dir, &format!(".lifeboat-seed-{token}"));
        if !kept.exists() {
            if !seed_dir.join("member").join("snap").join("db").is_file() {
                return Err(OpsError::Local(format!(
                    "{} holds no member/snap/db: nothing to rebuild from",
                    seed_dir.display()
                )));
            }
            std::fs::rename(&seed_dir, &kept).map_err(|source| OpsError::LocalIo {
                path: seed_dir.clone(),
                source,
            })?;
            crate::files::sync_parent(&kept)?;
        }
        let db = kept.join("member").join("snap").join("db");
        let n = self.cluster.members().len();
        let initial: Vec<String> = (0..n)
            .map(|i| {
                format!(
                    "{}={}",
                    self.cluster.members()[i].name,
                    self.cluster.peer_url(i)
                )
            })
            .collect();
        let new_cluster = parse(&initial.join(","), token)
            .map_err(|e| OpsError::Local(format!("the rebuilt membership: {e}")))?;
        let targets: Vec<Target> = self
            .cluster
            .members()
            .iter()
            .map(|m| Target {
                name: m.name.clone(),
                data_dir: m.data_dir.clone(),
            })
            .collect();
        let aside = |p: &std::path::Path| move_aside(p).map_err(|e| e.to_string());
        let req = Request {
            snapshot: &db,
            cluster: &new_cluster,
            targets: &targets,
            // A live data dir's db has no snapshot trailer; it was checked by evidence instead.
            skip_hash_check: true,
            // The seed's data is the newest there is: no revision jump is needed.
            bump: Bump::Off,
            move_aside: Some(&aside),
            identities: None,
            // The etcd that will run the seeded member (LIFEBOAT_ETCD_BIN or PATH) decides.
            etcd_version: None,
        };
        restore(&req)
            .map(|_| ())
            .map_err(|e| OpsError::Local(format!("restoring from {}: {e}", db.display())))
    }

    fn settings_for(&self, member: &str) -> ConnectionSettings {
        let i = self.index(member).unwrap_or(0);
        self.cluster.settings_for(&[i])
    }

    fn settings_all(&self) -> ConnectionSettings {
        let all: Vec<usize> = (0..self.cluster.members().len()).collect();
        self.cluster.settings_for(&all)
    }

    fn peer_urls(&self, member: &str) -> Vec<String> {
        self.index(member)
            .map(|i| vec![self.cluster.peer_url(i)])
            .unwrap_or_default()
    }
}
