//! Asking the members. Every endpoint is probed concurrently; the client URLs that members list
//! are probed too as soon as a member list arrives, all under one shared deadline.

use std::collections::BTreeSet;
use std::time::Instant;

use tokio::task::JoinSet;
use tokio::time::Instant as TokioInstant;

use crate::OpsError;
use crate::client::{connect, explain};
use crate::settings::{ConnectionSettings, Endpoint, ValidatedTls};

/// A member as one endpoint's member list describes it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ObservedMember {
    pub id: u64,
    pub name: String,
    pub peer_urls: Vec<String>,
    pub client_urls: Vec<String>,
    pub is_learner: bool,
}

/// What one member said about itself.
#[derive(Debug, Clone)]
pub struct ObservedStatus {
    pub member_id: u64,
    pub cluster_id: u64,
    pub version: String,
    pub db_size: u64,
    pub db_size_in_use: u64,
    pub leader: u64,
    pub raft_term: u64,
    pub raft_index: u64,
    pub raft_applied_index: u64,
    pub is_learner: bool,
    pub errors: Vec<String>,
    pub latency_ms: f64,
}

#[derive(Debug, Clone)]
pub struct ObservedEndpoint {
    pub endpoint: Endpoint,
    pub status: Result<ObservedStatus, String>,
    pub members: Option<Vec<ObservedMember>>,
    pub errors: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Observation {
    pub endpoints: Vec<ObservedEndpoint>,
}

/// Probes the configured endpoints and, unless `only_given`, every client URL the members list.
pub async fn gather(
    settings: &ConnectionSettings,
    tls: Option<&ValidatedTls>,
    only_given: bool,
) -> Observation {
    let deadline = TokioInstant::now() + settings.dial_timeout + settings.command_timeout;
    let mut probed: BTreeSet<String> = BTreeSet::new();
    let mut set = JoinSet::new();
    for ep in &settings.endpoints {
        if probed.insert(ep.to_string()) {
            set.spawn(probe(ep.clone(), tls.cloned(), settings.clone(), deadline));
        }
    }
    let mut endpoints = Vec::new();
    while let Some(joined) = set.join_next().await {
        let Ok(observed) = joined else { continue };
        if !only_given {
            for url in observed
                .members
                .iter()
                .flatten()
                .flat_map(|m| m.client_urls.iter())
            {
                // Only URLs with the scheme we hold credentials for are worth a dial.
                let Ok(ep) = Endpoint::parse(url) else {
                    continue;
                };
                if ep.is_tls() == tls.is_some() && probed.insert(ep.to_string()) {
                    set.spawn(probe(ep, tls.cloned(), settings.clone(), deadline));
                }
            }
        }
        endpoints.push(observed);
    }
    // Stable order for people and scripts: as configured, then discovered, by URL.
    endpoints.sort_by_key(|o| {
        let pos = settings.endpoints.iter().position(|e| *e == o.endpoint);
        (pos.unwrap_or(usize::MAX), o.endpoint.to_string())
    });
    Observation { endpoints }
}

async fn probe(
    endpoint: Endpoint,
    tls: Option<ValidatedTls>,
    settings: ConnectionSettings,
    deadline: TokioInstant,
) -> ObservedEndpoint {
    let mut out = ObservedEndpoint {
        endpoint: endpoint.clone(),
        status: Err("not asked".into()),
        members: None,
        errors: Vec::new(),
    };
    let budget_ms = settings.dial_timeout.as_millis() + settings.command_timeout.as_millis();
    let timed_out = || format!("no answer within {budget_ms} ms");

    let connected = tokio::time::timeout_at(deadline, connect(&endpoint, tls.as_ref(), &settings));
    let mut client = match connected.await {
        Ok(Ok(c)) => c.client,
        Ok(Err(e)) => {
            out.status = Err(strip_endpoint(&e, &endpoint));
            return out;
        }
        Err(_) => {
            out.status = Err(timed_out());
            return out;
        }
    };

    let started = Instant::now();
    match tokio::time::timeout_at(deadline, client.status()).await {
        Ok(Ok(s)) => {
            let header = s.header();
            out.status = Ok(ObservedStatus {
                member_id: header.map(|h| h.member_id()).unwrap_or(0),
                cluster_id: header.map(|h| h.cluster_id()).unwrap_or(0),
                version: s.version().to_string(),
                db_size: u64::try_from(s.db_size()).unwrap_or(0),
                db_size_in_use: u64::try_from(s.raft_used_db_size()).unwrap_or(0),
                leader: s.leader(),
                raft_term: s.raft_term(),
                raft_index: s.raft_index(),
                raft_applied_index: s.raft_applied_index(),
                is_learner: s.is_learner(),
                errors: s.errors().to_vec(),
                latency_ms: started.elapsed().as_secs_f64() * 1000.0,
            });
        }
        Ok(Err(e)) => {
            out.status = Err(explain(&e, &settings.tls));
            return out;
        }
        Err(_) => {
            out.status = Err(timed_out());
            return out;
        }
    }

    // In etcd 3.4 the member list is served from the member's own view, without a leader.
    match tokio::time::timeout_at(deadline, client.member_list()).await {
        Ok(Ok(list)) => {
            let mut members: Vec<ObservedMember> = list
                .members()
                .iter()
                .map(|m| ObservedMember {
                    id: m.id(),
                    name: m.name().to_string(),
                    peer_urls: m.peer_urls().to_vec(),
                    client_urls: m.client_urls().to_vec(),
                    is_learner: m.is_learner(),
                })
                .collect();
            members.sort();
            out.members = Some(members);
        }
        // A learner refuses MemberList as it refuses every read (etcdctl's `member list` fails
        // on it the same way): that is what a learner is, not a fault of this endpoint; the
        // membership comes from the voters.
        Ok(Err(e)) if is_learner(&out) && refused_for_learner(&e) => {}
        Ok(Err(e)) => out
            .errors
            .push(format!("member list: {}", explain(&e, &settings.tls))),
        Err(_) => out.errors.push(format!("member list: {}", timed_out())),
    }

    out
}

fn is_learner(e: &ObservedEndpoint) -> bool {
    e.status.as_ref().is_ok_and(|s| s.is_learner)
}

/// etcd's `ErrGRPCNotSupportedForLearner`, the same text from 3.4 to 3.7.
fn refused_for_learner(e: &etcd_client::Error) -> bool {
    e.to_string().contains("rpc not supported for learner")
}

/// The endpoint is shown in its own column; drop it from the message to keep rows short.
fn strip_endpoint(e: &OpsError, endpoint: &Endpoint) -> String {
    let text = e.to_string();
    let prefix = format!("{endpoint}: ");
    text.strip_prefix(&prefix)
        .map(str::to_string)
        .unwrap_or(text)
}
