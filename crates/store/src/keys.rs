//! `--keys PREFIX`: the live keys under a prefix with their metadata. Values are never
//! returned (a snapshot holds every Secret of a cluster), only their size and encoding.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use serde::Serialize;

use crate::k8s::Encoding;
use crate::mvcc::{KeyValue, Revision};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyInfo {
    pub key: String,
    pub create_revision: i64,
    pub mod_revision: i64,
    pub version: i64,
    pub lease: i64,
    pub value_size: u64,
    pub encoding: Encoding,
}

/// Latest live state of every key starting with `prefix`, in key order.
pub fn list(db: &bolt::Db, prefix: &[u8]) -> Result<Vec<KeyInfo>, bolt::Error> {
    let Some(bucket) = db.bucket(b"key")? else {
        return Ok(Vec::new());
    };
    let mut latest: BTreeMap<Vec<u8>, Option<KeyInfo>> = BTreeMap::new();
    db.for_each(&bucket, &mut |e| {
        let (Ok(rev), Ok(kv)) = (Revision::parse(e.key), KeyValue::decode(e.value)) else {
            return ControlFlow::Continue(());
        };
        if !kv.key.starts_with(prefix) {
            return ControlFlow::Continue(());
        }
        let info = (!rev.tombstone).then(|| KeyInfo {
            key: String::from_utf8_lossy(kv.key).into_owned(),
            create_revision: kv.create_revision,
            mod_revision: kv.mod_revision,
            version: kv.version,
            lease: kv.lease,
            value_size: kv.value.len() as u64,
            encoding: Encoding::of(kv.value),
        });
        latest.insert(kv.key.to_vec(), info);
        ControlFlow::Continue(())
    })?;
    Ok(latest.into_values().flatten().collect())
}

/// The smallest key greater than every key with this prefix (etcd's range end for a prefix):
/// the one definition every ranged read, online or offline, uses.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}
