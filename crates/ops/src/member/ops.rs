//! Carrying out membership changes against the leader (they go through raft).

use std::time::Duration;

use etcd_client::MemberAddOptions;

use crate::OpsError;
use crate::client::{EndpointClient, connect};
use crate::ids::{hex_id, parse_hex_id};
use crate::settings::{ConnectionSettings, Endpoint, ValidatedTls};
use crate::status::{ClusterStatus, DiagnoseOptions, MemberRow, diagnose, gather};

/// A member as the operator named it: its ID in hex, or its name.
#[derive(Debug, Clone)]
pub struct MemberRef(pub String);

/// Finds a member by hex ID (with or without leading zeros) or by its unique name.
pub fn find_member<'a>(
    status: &'a ClusterStatus,
    needle: &MemberRef,
) -> Result<&'a MemberRow, OpsError> {
    let wanted = parse_hex_id(&needle.0).map(hex_id);
    if let Some(m) = status
        .members
        .iter()
        .find(|m| Some(&m.id) == wanted.as_ref())
    {
        return Ok(m);
    }
    let by_name: Vec<&MemberRow> = status
        .members
        .iter()
        .filter(|m| m.name == needle.0)
        .collect();
    match by_name.as_slice() {
        [one] => Ok(one),
        [] => {
            let known: Vec<String> = status.members.iter().map(MemberRow::label).collect();
            Err(OpsError::Config(format!(
                "no member '{}'; members are: {}",
                needle.0,
                known.join(", ")
            )))
        }
        _ => Err(OpsError::Config(format!(
            "more than one member is named '{}': give the ID instead",
            needle.0
        ))),
    }
}

/// Observes the cluster and connects to its leader; membership changes need one. An election
/// in progress (a leader just removed or restarted) is waited out for up to the dial + command
/// timeout before giving up.
pub async fn leader_endpoint(
    settings: &ConnectionSettings,
    tls: Option<&ValidatedTls>,
) -> Result<(ClusterStatus, EndpointClient), OpsError> {
    let deadline = tokio::time::Instant::now() + settings.dial_timeout + settings.command_timeout;
    loop {
        let status = diagnose(
            &gather(settings, tls, false).await,
            &DiagnoseOptions::default(),
        );
        let found = status.quorum.leader_id.clone().and_then(|leader| {
            status
                .endpoints
                .iter()
                .find(|e| e.reachable && e.member_id.as_deref() == Some(leader.as_str()))
                .map(|row| row.endpoint.clone())
        });
        if let Some(url) = found {
            let ep = Endpoint::parse(&url)?;
            let client = connect(&ep, tls, settings).await?;
            return Ok((status, client));
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(OpsError::Config(
                "membership changes go through raft and need a leader, and none answers now; run \
                 `lifeboat status` to see why (quorum must be restored first)"
                    .into(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// etcd refuses membership changes until its leader has been connected to enough voters for
/// 5 s ("unhealthy cluster"). Inside that window a retry succeeds; past it, the error stands with
/// the way out.
async fn retry_unhealthy<T, F, Fut>(what: &str, mut attempt: F) -> Result<T, OpsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, OpsError>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(12);
    loop {
        match attempt().await {
            Err(e) if e.to_string().contains("unhealthy cluster") => {
                if tokio::time::Instant::now() >= deadline {
                    return Err(OpsError::Config(format!(
                        "etcd refuses to {what} while its leader is not connected to enough \
                         voting members: {e}. Remove dead members first (`lifeboat member remove \
                         <id>`) or bring them back"
                    )));
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            other => return other,
        }
    }
}

pub async fn remove(client: &mut EndpointClient, id: u64) -> Result<(), OpsError> {
    let client: &EndpointClient = client;
    retry_unhealthy("remove a member", || {
        client.call(|mut c| async move { c.member_remove(id).await })
    })
    .await
    .map(|_| ())
}

/// Adds a member and returns its ID and the membership after the add.
pub async fn add(
    client: &mut EndpointClient,
    peer_urls: &[String],
    learner: bool,
) -> Result<(u64, Vec<MemberRow>), OpsError> {
    let client: &EndpointClient = client;
    let resp = retry_unhealthy("add a member", || {
        let urls = peer_urls.to_vec();
        client.call(|mut c| async move {
            let opts = learner.then(|| MemberAddOptions::new().with_is_learner());
            c.member_add(urls, opts).await
        })
    })
    .await?;
    let id = resp.member().map(|m| m.id()).unwrap_or(0);
    let members = resp
        .member_list()
        .iter()
        .map(|m| MemberRow {
            id: hex_id(m.id()),
            name: m.name().to_string(),
            peer_urls: m.peer_urls().to_vec(),
            client_urls: m.client_urls().to_vec(),
            is_learner: m.is_learner(),
            started: !m.name().is_empty(),
            reachable: false,
            is_leader: false,
        })
        .collect();
    Ok((id, members))
}

pub async fn promote(client: &mut EndpointClient, id: u64) -> Result<(), OpsError> {
    client
        .call(|mut c| async move { c.member_promote(id).await })
        .await
        .map(|_| ())
}

/// Promotes once the learner has caught up: etcd refuses a learner that is not in sync, so
/// retry until `timeout`, reconnecting to whoever leads.
pub async fn promote_when_ready(
    settings: &ConnectionSettings,
    tls: Option<&ValidatedTls>,
    id: u64,
    timeout: Duration,
) -> Result<(), OpsError> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let last = match leader_endpoint(settings, tls).await {
            Ok((_, mut client)) => match promote(&mut client, id).await {
                Ok(()) => return Ok(()),
                Err(e) => e,
            },
            Err(e) => e,
        };
        let text = last.to_string();
        // Already a voter: an earlier attempt (or run) got through.
        if text.contains("not a learner")
            || text.contains("only promote a learner member") && !text.contains("in sync")
        {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(OpsError::Local(format!(
                "member {} was not promoted within {timeout:?}: {text}. Is it running, and can it \
                 reach the leader on its peer port?",
                hex_id(id)
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
