//! The small etcd buckets: `meta`, `members`, `members_removed`, `cluster`, `alarm`, `auth`.

use std::ops::ControlFlow;

use bolt::{BucketRef, Db, show_key};
use serde::{Deserialize, Serialize};

use crate::hex_id;
use crate::mvcc::Revision;
use crate::proto;

/// Buckets etcd 3.4+ creates at start (3.4.23 creates every one of them, even empty).
pub const BUCKETS: [&str; 10] = [
    "alarm",
    "auth",
    "authRoles",
    "authUsers",
    "cluster",
    "key",
    "lease",
    "members",
    "members_removed",
    "meta",
];
/// Buckets without which the file is not an etcd backend.
pub const REQUIRED: [&str; 2] = ["key", "meta"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    /// Lowercase hex, no padding, as etcd prints it.
    pub id: String,
    pub name: String,
    pub peer_urls: Vec<String>,
    pub client_urls: Vec<String>,
    pub is_learner: bool,
}

#[derive(Deserialize)]
struct MemberJson {
    id: u64,
    #[serde(default, rename = "peerURLs")]
    peer_urls: Vec<String>,
    #[serde(default, rename = "isLearner")]
    is_learner: bool,
    #[serde(default)]
    name: String,
    #[serde(default, rename = "clientURLs")]
    client_urls: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alarm {
    pub member_id: String,
    pub alarm: String,
}

/// What the small buckets say, with any value that did not decode listed in `problems`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EtcdMeta {
    pub consistent_index: Option<u64>,
    /// Raft term of the consistent index (3.5+).
    pub term: Option<u64>,
    pub scheduled_compact_revision: Option<i64>,
    pub finished_compact_revision: Option<i64>,
    /// raftpb.ConfState as JSON (3.5+).
    pub conf_state: Option<serde_json::Value>,
    /// `meta/storageVersion` (3.6+).
    pub storage_version: Option<String>,
    /// `cluster/clusterVersion` (3.4+).
    pub cluster_version: Option<String>,
    pub members: Vec<Member>,
    pub removed_members: Vec<String>,
    pub alarms: Vec<Alarm>,
    pub auth_enabled: Option<bool>,
    /// Top-level buckets present.
    pub buckets: Vec<String>,
    pub problems: Vec<String>,
}

fn be_u64(v: &[u8]) -> Option<u64> {
    let a: [u8; 8] = v.try_into().ok()?;
    Some(u64::from_be_bytes(a))
}

type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

fn entries(db: &Db, b: &BucketRef) -> Result<Pairs, bolt::Error> {
    let mut out = Vec::new();
    db.for_each(b, &mut |e| {
        if !e.is_bucket {
            out.push((e.key.to_vec(), e.value.to_vec()));
        }
        ControlFlow::Continue(())
    })?;
    Ok(out)
}

impl EtcdMeta {
    /// Read the small buckets. Only structural errors of the file fail; odd values are
    /// recorded in `problems`.
    pub fn read(db: &Db) -> Result<EtcdMeta, bolt::Error> {
        let mut m = EtcdMeta::default();
        db.for_each(&db.root(), &mut |e| {
            m.buckets.push(String::from_utf8_lossy(e.key).into_owned());
            ControlFlow::Continue(())
        })?;
        for name in REQUIRED {
            if !m.buckets.iter().any(|b| b == name) {
                m.problems
                    .push(format!("bucket {name:?} is missing: not an etcd backend"));
            }
        }
        if let Some(b) = db.bucket(b"meta")? {
            for (k, v) in entries(db, &b)? {
                m.meta_entry(&k, &v);
            }
        }
        if let Some(b) = db.bucket(b"members")? {
            for (k, v) in entries(db, &b)? {
                match serde_json::from_slice::<MemberJson>(&v) {
                    Ok(j) => {
                        // The bucket key is unpadded hex (`types.ID.String()`).
                        let id = hex_id(j.id);
                        if format!("{:x}", j.id).as_bytes() != k.as_slice() {
                            m.problems.push(format!(
                                "members/{}: JSON id {id} differs from the key",
                                show_key(&k)
                            ));
                        }
                        m.members.push(Member {
                            id,
                            name: j.name,
                            peer_urls: j.peer_urls,
                            client_urls: j.client_urls,
                            is_learner: j.is_learner,
                        });
                    }
                    Err(e) => m
                        .problems
                        .push(format!("members/{}: not member JSON: {e}", show_key(&k))),
                }
            }
        }
        if let Some(b) = db.bucket(b"members_removed")? {
            for (k, _) in entries(db, &b)? {
                let text = String::from_utf8_lossy(&k).into_owned();
                match u64::from_str_radix(&text, 16) {
                    Ok(id) => m.removed_members.push(hex_id(id)),
                    Err(_) => {
                        m.problems.push(format!(
                            "members_removed/{}: not a hex member ID",
                            show_key(&k)
                        ));
                        m.removed_members.push(text);
                    }
                }
            }
        }
        if let Some(b) = db.bucket(b"cluster")? {
            for (k, v) in entries(db, &b)? {
                if k == b"clusterVersion" {
                    m.cluster_version = Some(String::from_utf8_lossy(&v).into_owned());
                }
            }
        }
        if let Some(b) = db.bucket(b"alarm")? {
            for (k, _) in entries(db, &b)? {
                m.alarm_entry(&k);
            }
        }
        if let Some(b) = db.bucket(b"auth")? {
            for (k, v) in entries(db, &b)? {
                if k == b"authEnabled" {
                    m.auth_enabled = v.first().map(|&x| x == 1);
                }
            }
        }
        Ok(m)
    }

    fn meta_entry(&mut self, k: &[u8], v: &[u8]) {
        let mut bad = |what: &str| self.problems.push(format!("meta/{}: {what}", show_key(k)));
        match k {
            b"consistent_index" => match be_u64(v) {
                Some(x) => self.consistent_index = Some(x),
                None => bad(&format!("{} bytes, expected 8", v.len())),
            },
            b"term" => match be_u64(v) {
                Some(x) => self.term = Some(x),
                None => bad(&format!("{} bytes, expected 8", v.len())),
            },
            b"scheduledCompactRev" | b"finishedCompactRev" => match Revision::parse(v) {
                Ok(r) if k == b"scheduledCompactRev" => {
                    self.scheduled_compact_revision = Some(r.main)
                }
                Ok(r) => self.finished_compact_revision = Some(r.main),
                Err(e) => bad(&e.to_string()),
            },
            b"confState" => match serde_json::from_slice(v) {
                Ok(j) => self.conf_state = Some(j),
                Err(e) => bad(&format!("not JSON: {e}")),
            },
            b"storageVersion" => {
                self.storage_version = Some(String::from_utf8_lossy(v).into_owned())
            }
            _ => {}
        }
    }

    fn alarm_entry(&mut self, k: &[u8]) {
        let (mut member, mut alarm) = (0u64, 0u64);
        for f in proto::fields(k) {
            match f {
                Ok((1, v)) => member = v.as_u64(),
                Ok((2, v)) => alarm = v.as_u64(),
                Ok(_) => {}
                Err(e) => {
                    self.problems.push(format!("alarm/{}: {e}", show_key(k)));
                    return;
                }
            }
        }
        let alarm = match alarm {
            0 => "NONE".to_string(),
            1 => "NOSPACE".to_string(),
            2 => "CORRUPT".to_string(),
            n => format!("UNKNOWN({n})"),
        };
        self.alarms.push(Alarm {
            member_id: hex_id(member),
            alarm,
        });
    }

    /// The compaction revision etcd resumes from: the scheduled one wins when it is ahead.
    pub fn compact_revision(&self) -> Option<i64> {
        match (
            self.scheduled_compact_revision,
            self.finished_compact_revision,
        ) {
            (Some(s), Some(f)) => Some(s.max(f)),
            (s, f) => s.or(f),
        }
    }
}
