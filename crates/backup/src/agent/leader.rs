//! One writer per store: agents campaign through etcd's election API on a lease. The winner
//! writes; the others wait in their campaign and take over once the winner's lease expires
//! (at most the lease TTL after its last keep-alive).
//!
//! Fencing is by time: etcd expires a lease no earlier than TTL after the server received the
//! last keep-alive, which is after we sent it. The holder declares the lease lost once
//! `TTL / 2` has passed since the last keep-alive it sent that was answered alive, so it stops
//! writing at least `TTL / 2` before another agent can win; that half covers an upload
//! already on the wire and clock-rate differences.

use std::time::Duration;

use etcd_client::{Client, LeaderKey};
use tokio::sync::watch;
use tokio::time::Instant;

use super::AgentError;

/// The election key agents campaign on.
pub const ELECTION: &str = "/lifeboat/agent/leader";

/// A lease kept alive in the background until it cannot be; then `lost` turns true for good.
pub struct Lease {
    pub id: i64,
    lost: watch::Receiver<bool>,
    valid_until: watch::Receiver<Instant>,
    keeper: tokio::task::JoinHandle<()>,
}

/// Checked right before each upload: the writer may write only while the lease is surely
/// alive. This catches what the background keeper cannot, e.g. a process paused past its
/// lease and resumed with a flush timer due before the keeper runs.
#[derive(Debug, Clone)]
pub struct Fence(watch::Receiver<Instant>);

impl Fence {
    pub fn holds(&self) -> bool {
        Instant::now() < *self.0.borrow()
    }
}

fn etcd(e: etcd_client::Error) -> AgentError {
    AgentError::Etcd(e.to_string())
}

impl Lease {
    pub async fn grant(client: &mut Client, ttl: Duration) -> Result<Lease, AgentError> {
        let sent = Instant::now();
        let ttl_s = i64::try_from(ttl.as_secs().max(1)).unwrap_or(i64::MAX);
        let id = client.lease_grant(ttl_s, None).await.map_err(etcd)?.id();
        let (tx, lost) = watch::channel(false);
        let (until_tx, valid_until) = watch::channel(sent + ttl / 2);
        let keeper = tokio::spawn(keep_alive(client.clone(), id, ttl, sent, tx, until_tx));
        Ok(Lease {
            id,
            lost,
            valid_until,
            keeper,
        })
    }

    pub fn fence(&self) -> Fence {
        Fence(self.valid_until.clone())
    }

    /// Resolves once the lease can no longer be trusted to be alive.
    pub async fn lost(&self) {
        let mut rx = self.lost.clone();
        // An error means the keeper ended, which it only does once the lease is lost.
        let _ = rx.wait_for(|lost| *lost).await;
    }

    pub fn is_lost(&self) -> bool {
        *self.lost.borrow()
    }

    /// Stops keeping the lease alive and revokes it, so a standby takes over at once
    /// (best effort: an unrevoked lease simply expires).
    pub async fn revoke(self, client: &mut Client) {
        self.keeper.abort();
        if let Err(e) = client.lease_revoke(self.id).await {
            tracing::warn!("revoking the election lease failed ({e}); it expires by itself");
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.keeper.abort();
    }
}

/// One keep-alive round trip, reopening the stream when it broke.
async fn renew(
    client: &mut Client,
    id: i64,
    stream: &mut Option<(etcd_client::LeaseKeeper, etcd_client::LeaseKeepAliveStream)>,
) -> Result<bool, AgentError> {
    if stream.is_none() {
        *stream = Some(client.lease_keep_alive(id).await.map_err(etcd)?);
    }
    let Some((keeper, responses)) = stream.as_mut() else {
        return Err(AgentError::Etcd("no keep-alive stream".into()));
    };
    let answer = async {
        keeper.keep_alive().await.map_err(etcd)?;
        responses.message().await.map_err(etcd)
    }
    .await;
    match answer {
        Ok(Some(r)) => Ok(r.ttl() > 0),
        Ok(None) => {
            *stream = None;
            Err(AgentError::Etcd("the keep-alive stream ended".into()))
        }
        Err(e) => {
            *stream = None;
            Err(e)
        }
    }
}

async fn keep_alive(
    mut client: Client,
    id: i64,
    ttl: Duration,
    granted: Instant,
    lost: watch::Sender<bool>,
    valid_until: watch::Sender<Instant>,
) {
    let mut last_ok = granted;
    let mut stream = None;
    loop {
        let deadline = last_ok + ttl / 2;
        let sent = Instant::now();
        match tokio::time::timeout_at(deadline, renew(&mut client, id, &mut stream)).await {
            Ok(Ok(true)) => {
                last_ok = sent;
                let _ = valid_until.send(sent + ttl / 2);
            }
            Ok(Ok(false)) => {
                tracing::warn!("the election lease {id:x} has expired");
                break;
            }
            Ok(Err(e)) => {
                tracing::warn!("keeping the election lease alive failed ({e}); retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
                if Instant::now() < deadline {
                    continue;
                }
                break;
            }
            Err(_) => break,
        }
        tokio::time::sleep_until(sent + ttl / 4).await;
    }
    let _ = valid_until.send(granted);
    let _ = lost.send(true);
}

/// Waits until this agent leads, then checks that etcd names it the leader.
pub async fn campaign(
    client: &mut Client,
    lease: &Lease,
    value: &str,
) -> Result<LeaderKey, AgentError> {
    let mut election = client.election_client();
    let won = election
        .campaign(ELECTION, value, lease.id)
        .await
        .map_err(etcd)?;
    let key = won
        .leader()
        .cloned()
        .ok_or_else(|| AgentError::Etcd("campaign answered without a leader key".into()))?;
    // A campaign can return after our own key expired; only the current leader writes.
    let now = election.leader(ELECTION).await.map_err(etcd)?;
    match now.kv() {
        Some(kv) if kv.key() == key.key() && kv.lease() == lease.id => Ok(key),
        _ => Err(AgentError::Etcd(
            "won the election on a key that is no longer the leader's".into(),
        )),
    }
}

/// The value of the current leader's key, if any (for status and tests).
pub async fn current(client: &mut Client) -> Result<Option<String>, AgentError> {
    match client.election_client().leader(ELECTION).await {
        Ok(r) => Ok(r
            .kv()
            .map(|kv| String::from_utf8_lossy(kv.value()).into_owned())),
        // etcd answers "election: no leader" as an error.
        Err(e) if e.to_string().contains("no leader") => Ok(None),
        Err(e) => Err(etcd(e)),
    }
}
