//! A local cluster seen from another process: written down by the one that made it, opened
//! again from its root dir by `lifeboat recover run --local-root DIR`.

use std::path::Path;

use super::cluster::{LocalCluster, LocalClusterSpec, LocalMember, MemberState};
use super::description::{ClusterDescription, MemberDescription};
use super::pidfile;
use crate::OpsError;

impl LocalCluster {
    /// Opens the cluster described in `root/lifeboat-cluster.json`. Members whose pid file names
    /// a live etcd on their data dir are adopted as running. The opened cluster is detached:
    /// members it starts outlive this process, and dropping it stops nothing and removes nothing.
    pub fn open(root: &Path) -> Result<LocalCluster, OpsError> {
        let d = ClusterDescription::read(root)?;
        let spec = LocalClusterSpec {
            members: d.members.len(),
            tls: d.pki.is_some(),
            token: d.token.clone(),
            quota_bytes: d.quota_bytes,
            extra_args: d.extra_args.clone(),
            etcd_bin: d.etcd_bin.clone(),
            keep_dir: true,
            detached: true,
            placements: Vec::new(),
        };
        let members = d
            .members
            .iter()
            .map(|m| {
                let adopted = pidfile::live(root, &m.name, &m.data_dir);
                let state = match (adopted, m.never_started) {
                    (Some(_), _) => MemberState::Running,
                    (None, true) => MemberState::NeverStarted,
                    (None, false) => MemberState::Stopped,
                };
                LocalMember {
                    name: m.name.clone(),
                    host: m.host.clone(),
                    netns: m.netns.clone(),
                    client_port: m.client_port,
                    peer_port: m.peer_port,
                    data_dir: m.data_dir.clone(),
                    log: m.log.clone(),
                    state,
                    initial_cluster: m.initial_cluster.clone(),
                    initial_state: if m.initial_state == "existing" {
                        "existing"
                    } else {
                        "new"
                    },
                    etcd_bin: m.etcd_bin.clone(),
                    child: None,
                    adopted,
                }
            })
            .collect();
        Ok(LocalCluster {
            dir: None,
            path: root.to_path_buf(),
            spec,
            pki: d.pki,
            members,
        })
    }

    /// Rewrites the description after the membership or a member's start flags changed.
    pub(super) fn persist(&self) -> Result<(), OpsError> {
        ClusterDescription {
            version: ClusterDescription::new_version(),
            etcd_bin: self.spec.etcd_bin.clone(),
            token: self.spec.token.clone(),
            quota_bytes: self.spec.quota_bytes,
            extra_args: self.spec.extra_args.clone(),
            pki: self.pki.clone(),
            members: self
                .members
                .iter()
                .map(|m| MemberDescription {
                    name: m.name.clone(),
                    client_port: m.client_port,
                    peer_port: m.peer_port,
                    data_dir: m.data_dir.clone(),
                    log: m.log.clone(),
                    initial_cluster: m.initial_cluster.clone(),
                    initial_state: m.initial_state.to_string(),
                    never_started: m.state == MemberState::NeverStarted,
                    host: m.host.clone(),
                    netns: m.netns.clone(),
                    etcd_bin: m.etcd_bin.clone(),
                })
                .collect(),
        }
        .write(&self.path)
    }
}
