//! `recover seed` on the chosen node: fence check, stop, back up, force a new cluster, then
//! restart without the flag.

use std::path::PathBuf;
use std::time::Duration;

use super::NodeStep;
use super::service::{NodeService, Setting};
use crate::OpsError;
use crate::settings::ConnectionSettings;

pub struct SeedRequest<'a> {
    pub service: &'a mut dyn NodeService,
    pub state_dir: PathBuf,
    /// Reaches the etcd of this node.
    pub local: ConnectionSettings,
    /// Skip the check that no other member still answers.
    pub i_have_fenced: bool,
}

/// How long etcd on a real node may take to start (a large db, a slow disk).
pub(super) const NODE_TIMEOUT: Duration = Duration::from_secs(120);

const STEPS: [&str; 5] = [
    "check that no other member answers (split-brain guard)",
    "stop etcd",
    "back up the data dir",
    "start once with --force-new-cluster",
    "remove --force-new-cluster and restart",
];

pub async fn seed(
    req: SeedRequest<'_>,
    on_step: &mut dyn FnMut(&NodeStep),
) -> Result<Vec<NodeStep>, OpsError> {
    super::run_journaled(&req.state_dir.join("seed"), &STEPS, on_step, async |i| {
        match i {
            0 => guard(req.service, req.i_have_fenced)?,
            1 => req.service.stop()?,
            2 => backup(req.service)?,
            3 => {
                req.service.set(Setting::ForceNewCluster, Some("true"))?;
                req.service.start()?;
                crate::recover::wait::until_leading(
                    &req.local,
                    None,
                    NODE_TIMEOUT,
                    "etcd on this node",
                )
                .await?;
            }
            _ => {
                req.service.set(Setting::ForceNewCluster, None)?;
                req.service.stop()?;
                req.service.start()?;
                crate::recover::wait::until_leading(
                    &req.local,
                    None,
                    NODE_TIMEOUT,
                    "etcd on this node",
                )
                .await?;
            }
        }
        Ok(())
    })
    .await
}

/// Two clusters must never run from the same history: refuse while any other member of this
/// node's membership still accepts connections on its client or peer URL.
fn guard(service: &dyn NodeService, i_have_fenced: bool) -> Result<(), OpsError> {
    if i_have_fenced {
        return Ok(());
    }
    let dir = service.data_dir()?;
    let report = store::datadir::inspect(&dir)
        .map_err(|e| OpsError::Local(format!("reading {}: {e}", dir.display())))?;
    let me = report.member_id.clone().unwrap_or_default();
    let members = report.db.map(|d| d.members).unwrap_or_default();
    let mut answering = Vec::new();
    for m in members
        .iter()
        .filter(|m| crate::ids::parse_hex_id(&m.id) != crate::ids::parse_hex_id(&me))
    {
        for url in m.peer_urls.iter().chain(m.client_urls.iter()) {
            let Ok(ep) = crate::settings::Endpoint::parse(url) else {
                continue;
            };
            let addr = ep.authority();
            let reachable = std::net::ToSocketAddrs::to_socket_addrs(&addr.as_str())
                .ok()
                .and_then(|mut a| a.next())
                .is_some_and(|a| {
                    std::net::TcpStream::connect_timeout(&a, Duration::from_secs(1)).is_ok()
                });
            if reachable {
                answering.push(format!(
                    "{} at {url}",
                    if m.name.is_empty() { &m.id } else { &m.name }
                ));
            }
        }
    }
    if answering.is_empty() {
        Ok(())
    } else {
        Err(OpsError::Config(format!(
            "refusing to force a new cluster while other members still answer ({}): their cluster \
             and this one would diverge. Stop etcd on those nodes first, or pass --i-have-fenced if \
             what answers there is not etcd",
            answering.join(", ")
        )))
    }
}

fn backup(service: &dyn NodeService) -> Result<(), OpsError> {
    let dir = service.data_dir()?;
    if !dir.exists() {
        return Err(OpsError::Config(format!(
            "the data dir {} does not exist: nothing to seed from",
            dir.display()
        )));
    }
    crate::files::copy_aside(&dir)?;
    Ok(())
}
