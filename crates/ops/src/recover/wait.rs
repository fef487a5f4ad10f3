//! Waiting for etcd after starting it: until a member leads (with quorum), or until it answers.
//! Shared by the local runner and the node-local `seed`/`rejoin`.

use std::time::Duration;

use crate::OpsError;
use crate::settings::ConnectionSettings;
use crate::status::{DiagnoseOptions, diagnose, gather};

/// Until one of the endpoints leads with quorum, and, with `members`, the membership has that
/// many members. `what` names the waited-for thing in the error.
pub async fn until_leading(
    settings: &ConnectionSettings,
    members: Option<usize>,
    timeout: Duration,
    what: &str,
) -> Result<(), OpsError> {
    let tls = settings.validate()?;
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let st = diagnose(
            &gather(settings, tls.as_ref(), true).await,
            &DiagnoseOptions::default(),
        );
        let leads = st.endpoints.iter().any(|e| e.is_leader) && st.quorum.has_quorum;
        if leads && members.is_none_or(|n| st.members.len() == n) {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            let seen: Vec<String> = st.findings.iter().map(|f| f.message.clone()).collect();
            return Err(OpsError::Local(format!(
                "{what} did not lead within {timeout:?}: {seen:?}; check etcd's log (journalctl -u \
                 etcd, crictl logs, or the member's log file)"
            )));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Until every endpoint answers Status.
pub async fn until_answering(
    settings: &ConnectionSettings,
    timeout: Duration,
    what: &str,
) -> Result<(), OpsError> {
    let tls = settings.validate()?;
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let obs = gather(settings, tls.as_ref(), true).await;
        if obs.endpoints.iter().all(|e| e.status.is_ok()) {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(OpsError::Local(format!(
                "{what} did not answer within {timeout:?} after starting; check its log"
            )));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
