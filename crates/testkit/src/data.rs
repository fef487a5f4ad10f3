//! Known datasets written to a live cluster, so tests can prove that nothing was lost.

use std::collections::BTreeMap;

use etcd_client::{Client, PutOptions, Txn, TxnOp};

/// Writes `count` keys `{prefix}{i:06}` = `value-{i}` and returns what was acknowledged.
pub async fn put_keys(
    client: &mut Client,
    prefix: &str,
    count: usize,
) -> Result<BTreeMap<String, String>, etcd_client::Error> {
    let mut acked = BTreeMap::new();
    for i in 0..count {
        let k = format!("{prefix}{i:06}");
        let v = format!("value-{i}");
        client.put(k.clone(), v.clone(), None).await?;
        acked.insert(k, v);
    }
    Ok(acked)
}

/// A mixed history: puts, transactions with two writes, deletes, a key under a lease, and a
/// compaction at the midpoint. Returns the live keys that must survive.
pub async fn mixed_history(
    client: &mut Client,
    prefix: &str,
    count: usize,
) -> Result<BTreeMap<String, String>, etcd_client::Error> {
    let mut live = BTreeMap::new();
    let lease = client.lease_grant(3600, None).await?.id();
    let mut compact_at = 0;
    for i in 0..count {
        let k = format!("{prefix}{i:06}");
        let v = format!("v{i}");
        match i % 10 {
            0 => {
                let k2 = format!("{prefix}txn-{i:06}");
                let txn = Txn::new().and_then([
                    TxnOp::put(k.clone(), v.clone(), None),
                    TxnOp::put(k2.clone(), v.clone(), None),
                ]);
                client.txn(txn).await?;
                live.insert(k, v.clone());
                live.insert(k2, v);
            }
            7 => {
                client.put(k.clone(), v, None).await?;
                client.delete(k, None).await?;
            }
            9 => {
                client
                    .put(
                        k.clone(),
                        v.clone(),
                        Some(PutOptions::new().with_lease(lease)),
                    )
                    .await?;
                live.insert(k, v);
            }
            _ => {
                let resp = client.put(k.clone(), v.clone(), None).await?;
                live.insert(k, v);
                if compact_at == 0 && i >= count / 2 {
                    compact_at = resp.header().map(|h| h.revision()).unwrap_or(0);
                }
            }
        }
    }
    if compact_at > 0 {
        client.compact(compact_at, None).await?;
    }
    Ok(live)
}

/// Every key under `prefix` with its value, read in pages (responses are capped at 4 MiB).
pub use ops::kv::read_prefix;
