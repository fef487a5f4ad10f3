//! The new cluster a restore creates: `--initial-cluster` parsed and checked as etcd does
//! (`types.NewURLsMap`, `VerifyBootstrap`), and member and cluster IDs computed as etcd
//! computes them, so every member restored from the same flags agrees on them.

use std::collections::BTreeMap;

use sha1::{Digest, Sha1};

use super::RestoreError;
use super::json::go_string;

/// One member of the new cluster.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NewMember {
    pub name: String,
    #[serde(serialize_with = "hex_unpadded")]
    pub id: u64,
    /// Sorted, as etcd keeps them.
    pub peer_urls: Vec<String>,
}

fn hex_unpadded<S: serde::Serializer>(id: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{id:x}"))
}

/// The whole new membership, members ordered by ID ascending (etcd's `MemberIDs()` order,
/// which decides raft indexes and the vote).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NewCluster {
    #[serde(serialize_with = "hex_unpadded")]
    pub cluster_id: u64,
    pub token: String,
    pub members: Vec<NewMember>,
}

/// etcd's `computeMemberID` without a time: SHA-1 of the sorted peer URLs joined with
/// nothing, then the token; the first 8 bytes big-endian.
pub fn member_id(sorted_urls: &[String], token: &str) -> u64 {
    let mut h = Sha1::new();
    for u in sorted_urls {
        h.update(u.as_bytes());
    }
    h.update(token.as_bytes());
    first_u64(&h.finalize())
}

/// etcd's `genID`: SHA-1 over the member IDs (ascending, 8 bytes big-endian each).
pub fn cluster_id(sorted_ids: &[u64]) -> u64 {
    let mut h = Sha1::new();
    for id in sorted_ids {
        h.update(id.to_be_bytes());
    }
    first_u64(&h.finalize())
}

fn first_u64(d: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&d[..8]);
    u64::from_be_bytes(a)
}

/// A peer URL as etcd's `types.NewURLs` accepts it: http, https, unix or unixs, `host:port`,
/// no path. Returns the URL as etcd prints it (scheme lowercased).
pub fn check_url(raw: &str) -> Result<String, RestoreError> {
    let bad = |why: &str| RestoreError::Flags(format!("peer URL {raw:?}: {why}"));
    let (scheme, rest) = raw.split_once("://").ok_or_else(|| bad("no scheme"))?;
    let scheme = scheme.to_ascii_lowercase();
    if !["http", "https", "unix", "unixs"].contains(&scheme.as_str()) {
        return Err(bad("scheme must be http, https, unix or unixs"));
    }
    if rest.contains('/') || rest.contains('?') || rest.contains('#') {
        return Err(bad("must not contain a path"));
    }
    let port = rest
        .rsplit_once(':')
        .map(|(_, p)| p)
        .ok_or_else(|| bad("address does not have the form host:port"))?;
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("address does not have the form host:port"));
    }
    Ok(format!("{scheme}://{rest}"))
}

/// Parses `name=url,name=url,...` (a name may repeat to give several URLs) and computes IDs.
pub fn parse(initial_cluster: &str, token: &str) -> Result<NewCluster, RestoreError> {
    let mut by_name: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for part in initial_cluster.split(',').filter(|p| !p.trim().is_empty()) {
        let (name, url) = part.split_once('=').ok_or_else(|| {
            RestoreError::Flags(format!(
                "--initial-cluster entry {part:?} is not name=peer-url"
            ))
        })?;
        by_name
            .entry(name.trim().to_string())
            .or_default()
            .push(check_url(url.trim())?);
    }
    if by_name.is_empty() {
        return Err(RestoreError::Flags("--initial-cluster is empty".into()));
    }
    let mut seen = BTreeMap::new();
    let mut members = Vec::new();
    for (name, mut urls) in by_name {
        if name.is_empty() {
            return Err(RestoreError::Flags(
                "--initial-cluster has a member with an empty name".into(),
            ));
        }
        urls.sort();
        for u in &urls {
            if let Some(other) = seen.insert(u.clone(), name.clone()) {
                return Err(RestoreError::Flags(format!(
                    "--initial-cluster gives peer URL {u} to both {other} and {name}"
                )));
            }
        }
        let id = member_id(&urls, token);
        if id == 0 {
            return Err(RestoreError::Flags(format!("member {name} hashes to ID 0")));
        }
        members.push(NewMember {
            name,
            id,
            peer_urls: urls,
        });
    }
    members.sort_by_key(|m| m.id);
    if members.windows(2).any(|w| w[0].id == w[1].id) {
        return Err(RestoreError::Flags("two members have the same ID".into()));
    }
    let ids: Vec<u64> = members.iter().map(|m| m.id).collect();
    Ok(NewCluster {
        cluster_id: cluster_id(&ids),
        token: token.to_string(),
        members,
    })
}

impl NewCluster {
    /// etcd's `VerifyBootstrap` for one member: its name is listed and its URLs are exactly
    /// `--initial-advertise-peer-urls`.
    pub fn check_member(
        &self,
        name: &str,
        advertise: &[String],
    ) -> Result<&NewMember, RestoreError> {
        let m = self.member(name).ok_or_else(|| {
            RestoreError::Flags(format!(
                "--name {name} is not in --initial-cluster ({})",
                self.initial_cluster()
            ))
        })?;
        let mut adv = advertise
            .iter()
            .map(|u| check_url(u))
            .collect::<Result<Vec<_>, _>>()?;
        adv.sort();
        if adv != m.peer_urls {
            return Err(RestoreError::Flags(format!(
                "--initial-cluster has {name}={} but --initial-advertise-peer-urls is {}",
                m.peer_urls.join(","),
                adv.join(",")
            )));
        }
        Ok(m)
    }

    pub fn member(&self, name: &str) -> Option<&NewMember> {
        self.members.iter().find(|m| m.name == name)
    }

    pub fn ids(&self) -> Vec<u64> {
        self.members.iter().map(|m| m.id).collect()
    }

    /// `--initial-cluster` as etcd would print it (members by name).
    pub fn initial_cluster(&self) -> String {
        let mut parts: Vec<(String, String)> = self
            .members
            .iter()
            .flat_map(|m| m.peer_urls.iter().map(|u| (m.name.clone(), u.clone())))
            .collect();
        parts.sort();
        parts
            .iter()
            .map(|(n, u)| format!("{n}={u}"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl NewMember {
    /// The member as JSON, the way etcd 3.4 marshals `membership.Member` for a ConfChange
    /// context and 3.5+ stores it in the `members` bucket (no client URLs yet).
    pub fn json(&self) -> String {
        let urls: Vec<String> = self.peer_urls.iter().map(|u| go_string(u)).collect();
        format!(
            "{{\"id\":{},\"peerURLs\":[{}],\"name\":{}}}",
            self.id,
            urls.join(","),
            go_string(&self.name)
        )
    }

    /// `RaftAttributes` JSON, the value the v2 store keeps under `raftAttributes`.
    pub fn raft_attributes(&self) -> String {
        let urls: Vec<String> = self.peer_urls.iter().map(|u| go_string(u)).collect();
        format!("{{\"peerURLs\":[{}]}}", urls.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_match_etcd_fixture_restored_a_b() {
        let c = parse(
            "a=http://127.0.0.1:24801,b=http://127.0.0.1:24802",
            "tok-restore",
        )
        .unwrap();
        assert_eq!(c.member("a").unwrap().id, 0xa952_749a_57bc_8bf8);
        assert_eq!(c.member("b").unwrap().id, 0x6f05_ef64_4d46_119b);
        assert_eq!(c.cluster_id, 0xcb91_7834_16cd_b48b);
        // Ascending IDs: b first, as in the fixture's ConfChange entries.
        assert_eq!(c.members[0].name, "b");
        assert_eq!(
            c.members[0].json(),
            r#"{"id":8000063527165759899,"peerURLs":["http://127.0.0.1:24802"],"name":"b"}"#
        );
    }

    #[test]
    fn bootstrap_checks_like_etcd() {
        let c = parse("a=http://h:1,a=http://h:3,b=http://h:2", "t").unwrap();
        assert_eq!(c.member("a").unwrap().peer_urls.len(), 2);
        assert!(
            c.check_member("a", &["http://h:3".into(), "http://h:1".into()])
                .is_ok()
        );
        assert!(c.check_member("a", &["http://h:1".into()]).is_err());
        assert!(c.check_member("zz", &["http://h:1".into()]).is_err());
        assert!(parse("a=http://h:1,b=http://h:1", "t").is_err());
        assert!(parse("a=ftp://h:1", "t").is_err());
        assert!(parse("a=http://h", "t").is_err());
        assert!(parse("a=http://h:1/path", "t").is_err());
        assert!(parse("a", "t").is_err());
        assert!(parse("", "t").is_err());
    }
}
