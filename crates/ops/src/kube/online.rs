//! Reads and compare-and-swap writes of objects on a live cluster.

use etcd_client::{Compare, CompareOp, PutOptions, Txn, TxnOp, TxnOpResponse};
use store::objects::LatestKv;

use super::Backup;
use crate::OpsError;
use crate::client::{EndpointClient, connect};
use crate::settings::{ConnectionSettings, ValidatedTls};

/// The first endpoint that answers. Reads and writes go through raft, so any member of a
/// cluster with a leader serves them; without a leader they time out with that explanation.
pub async fn connect_any(
    settings: &ConnectionSettings,
    tls: Option<&ValidatedTls>,
) -> Result<EndpointClient, OpsError> {
    let mut errors = Vec::new();
    for ep in &settings.endpoints {
        match connect(ep, tls, settings).await {
            Ok(c) => return Ok(c),
            Err(e) => errors.push(e.to_string()),
        }
    }
    Err(OpsError::Config(format!(
        "no endpoint answered: {}; `lifeboat status` shows what is wrong, and for a cluster that will \
         not regain quorum use the offline form with --snapshot FILE",
        errors.join("; ")
    )))
}

fn owned(kv: &etcd_client::KeyValue) -> LatestKv {
    LatestKv {
        key: kv.key().to_vec(),
        value: kv.value().to_vec(),
        create_revision: kv.create_revision(),
        mod_revision: kv.mod_revision(),
        version: kv.version(),
        lease: kv.lease(),
    }
}

fn no_leader_hint(e: OpsError) -> OpsError {
    match e {
        OpsError::Timeout {
            endpoint,
            timeout_ms,
        } => OpsError::Endpoint {
            endpoint,
            message: format!(
                "no answer within {timeout_ms} ms: reads and writes need a leader (see `lifeboat status`); \
                 without one, work on a snapshot with --snapshot FILE"
            ),
        },
        other => other,
    }
}

/// Reads every key under `prefix` (all keys when empty) in pages of `page` (a page of large
/// objects stays under gRPC's limits), all at the revision of the first page so the result is a
/// consistent cut, handing each page to `each`. Returns that revision.
async fn for_each_page(
    c: &EndpointClient,
    prefix: &[u8],
    page: i64,
    each: &mut dyn FnMut(&[etcd_client::KeyValue]),
) -> Result<i64, OpsError> {
    let mut pager = crate::kv::Pager::prefix(prefix, page);
    while let Some((key, opts)) = pager.next_request() {
        let resp = c
            .call(|client| async move {
                let mut kv = client.kv_client().max_decoding_message_size(1 << 30);
                kv.get(key, Some(opts)).await
            })
            .await
            .map_err(no_leader_hint)?;
        each(resp.kvs());
        pager.advance(&resp);
    }
    Ok(pager.revision())
}

/// Every object under `prefix`, read at one revision; returns that revision too.
pub async fn list(c: &EndpointClient, prefix: &[u8]) -> Result<(Vec<LatestKv>, i64), OpsError> {
    let mut out = Vec::new();
    let at = for_each_page(c, prefix, 500, &mut |kvs| out.extend(kvs.iter().map(owned))).await?;
    Ok((out, at))
}

pub async fn get(c: &EndpointClient, key: &[u8]) -> Result<Option<LatestKv>, OpsError> {
    let k = key.to_vec();
    let resp = c
        .call(|mut client| async move { client.get(k, None).await })
        .await
        .map_err(no_leader_hint)?;
    Ok(resp.kvs().first().map(owned))
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum DeleteOutcome {
    Deleted {
        revision: i64,
    },
    /// The object changed (or went away) after it was read; nothing was deleted.
    Changed {
        mod_revision: Option<i64>,
    },
}

/// Deletes `key` only while its mod_revision is still `expected`.
pub async fn delete_if_unchanged(
    c: &EndpointClient,
    key: &[u8],
    expected: i64,
) -> Result<DeleteOutcome, OpsError> {
    let k = key.to_vec();
    let txn = Txn::new()
        .when([Compare::mod_revision(k.clone(), CompareOp::Equal, expected)])
        .and_then([TxnOp::delete(k.clone(), None)])
        .or_else([TxnOp::get(k, None)]);
    let resp = c
        .call(|mut client| async move { client.txn(txn).await })
        .await
        .map_err(no_leader_hint)?;
    if resp.succeeded() {
        return Ok(DeleteOutcome::Deleted {
            revision: resp.header().map_or(0, |h| h.revision()),
        });
    }
    let current = resp.op_responses().into_iter().find_map(|r| match r {
        TxnOpResponse::Get(g) => Some(g.kvs().first().map(|kv| kv.mod_revision())),
        _ => None,
    });
    Ok(DeleteOutcome::Changed {
        mod_revision: current.flatten(),
    })
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum PutOutcome {
    Put {
        revision: i64,
        replaced_mod_revision: Option<i64>,
    },
    /// The key holds a newer revision than the backup; nothing was written (`--force` overrides).
    Newer { mod_revision: i64 },
    /// The key changed between the check and the write; nothing was written. Run it again.
    Raced,
}

/// Puts a backup's value back. Refuses when the key now holds a revision newer than the
/// backup's unless `force`; the write compares what was checked, so a racing writer wins.
/// The lease is not restored (it is usually gone); the value is written without one.
pub async fn put_backup(
    c: &EndpointClient,
    backup: &Backup,
    force: bool,
) -> Result<PutOutcome, OpsError> {
    let value = backup.value()?;
    let key = backup.key.as_bytes().to_vec();
    let current = get(c, &key).await?;
    let compare = match &current {
        Some(kv) if kv.mod_revision > backup.mod_revision && !force => {
            return Ok(PutOutcome::Newer {
                mod_revision: kv.mod_revision,
            });
        }
        Some(kv) => Compare::mod_revision(key.clone(), CompareOp::Equal, kv.mod_revision),
        // Absent: only if nobody creates it meanwhile.
        None => Compare::version(key.clone(), CompareOp::Equal, 0),
    };
    let txn =
        Txn::new()
            .when([compare])
            .and_then([TxnOp::put(key, value, Some(PutOptions::new()))]);
    let resp = c
        .call(|mut client| async move { client.txn(txn).await })
        .await
        .map_err(no_leader_hint)?;
    if !resp.succeeded() {
        return Ok(PutOutcome::Raced);
    }
    Ok(PutOutcome::Put {
        revision: resp.header().map_or(0, |h| h.revision()),
        replaced_mod_revision: current.map(|kv| kv.mod_revision),
    })
}

/// Every key under `prefix` with a digest of its value (see `store::objects::digests`), read
/// at one revision; returns that revision too.
pub async fn digests(
    c: &EndpointClient,
    prefix: &[u8],
) -> Result<
    (
        std::collections::BTreeMap<Vec<u8>, store::objects::KeyDigest>,
        i64,
    ),
    OpsError,
> {
    let mut out = std::collections::BTreeMap::new();
    let at = for_each_page(c, prefix, 1000, &mut |kvs| {
        for kv in kvs {
            out.insert(
                kv.key().to_vec(),
                store::objects::KeyDigest {
                    create_revision: kv.create_revision(),
                    mod_revision: kv.mod_revision(),
                    size: kv.value().len() as u64,
                    digest: store::objects::value_digest(kv.value()),
                },
            );
        }
    })
    .await?;
    Ok((out, at))
}
