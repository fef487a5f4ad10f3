//! `recover rejoin` on every other node: stop, move the old data aside, be added as a learner,
//! start on an empty data dir with `initial-cluster-state=existing`, catch up, be promoted.

use std::path::PathBuf;
use std::time::Duration;

use super::NodeStep;
use super::service::{NodeService, Setting};
use crate::OpsError;
use crate::files::move_aside;
use crate::member::{add, leader_endpoint, promote_when_ready};
use crate::settings::ConnectionSettings;

pub struct RejoinRequest<'a> {
    pub service: &'a mut dyn NodeService,
    pub state_dir: PathBuf,
    /// Reaches the recovered cluster.
    pub cluster: ConnectionSettings,
    /// Reaches the etcd of this node once it runs.
    pub local: ConnectionSettings,
    pub name: String,
    pub peer_urls: Vec<String>,
    pub promote_timeout: Duration,
}

const STEPS: [&str; 6] = [
    "stop etcd",
    "move the old data dir aside",
    "add this member as a learner",
    "set initial-cluster and initial-cluster-state=existing",
    "start etcd and wait until it answers",
    "promote once caught up",
];

pub async fn rejoin(
    req: RejoinRequest<'_>,
    on_step: &mut dyn FnMut(&NodeStep),
) -> Result<Vec<NodeStep>, OpsError> {
    let tls = req.cluster.validate()?;
    super::run_journaled(&req.state_dir.join("rejoin"), &STEPS, on_step, async |i| {
        match i {
            0 => req.service.stop()?,
            1 => {
                let dir = req.service.data_dir()?;
                if dir.exists() {
                    move_aside(&dir)?;
                }
            }
            2 => {
                let (status, mut client) = leader_endpoint(&req.cluster, tls.as_ref()).await?;
                let present = status
                    .members
                    .iter()
                    .any(|m| m.peer_urls.iter().any(|u| req.peer_urls.contains(u)));
                if !present {
                    add(&mut client, &req.peer_urls, true).await?;
                }
            }
            3 => {
                let (status, _) = leader_endpoint(&req.cluster, tls.as_ref()).await?;
                let ic = crate::member::initial_cluster(&status.members, &req.peer_urls, &req.name);
                req.service.set(Setting::ForceNewCluster, None)?;
                req.service.set(Setting::InitialCluster, Some(&ic))?;
                req.service
                    .set(Setting::InitialClusterState, Some("existing"))?;
            }
            4 => {
                req.service.start()?;
                crate::recover::wait::until_answering(
                    &req.local,
                    super::seed::NODE_TIMEOUT,
                    "etcd on this node",
                )
                .await?;
            }
            _ => {
                let (status, _) = leader_endpoint(&req.cluster, tls.as_ref()).await?;
                let me = status
                    .members
                    .iter()
                    .find(|m| m.peer_urls.iter().any(|u| req.peer_urls.contains(u)))
                    .ok_or_else(|| {
                        OpsError::Local("this member is not in the membership".into())
                    })?;
                if me.is_learner {
                    let id = crate::ids::parse_hex_id(&me.id).unwrap_or(0);
                    promote_when_ready(&req.cluster, tls.as_ref(), id, req.promote_timeout).await?;
                }
            }
        }
        Ok(())
    })
    .await
}
