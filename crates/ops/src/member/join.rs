//! What a new member must be started with: the flags and env-file lines etcdctl prints after
//! `member add`, for every way etcd is run (command line, systemd env file, kubeadm manifest).

use serde::Serialize;

use crate::status::MemberRow;

#[derive(Debug, Clone, Serialize)]
pub struct JoinInstructions {
    pub name: String,
    pub initial_cluster: String,
    pub initial_cluster_state: &'static str,
    pub initial_advertise_peer_urls: String,
    /// `--flag=value` for the etcd command line or a static pod manifest.
    pub flags: Vec<String>,
    /// `ETCD_...=value` for an env file such as /etc/etcd.env.
    pub env: Vec<String>,
}

/// `members` is the membership after the add, including the new member, which is recognised by
/// its peer URLs (it has no name yet: etcd learns a member's name only when it starts).
pub fn join_instructions(
    members: &[MemberRow],
    name: &str,
    peer_urls: &[String],
) -> JoinInstructions {
    let initial_cluster = initial_cluster(members, peer_urls, name);
    let peers = peer_urls.join(",");
    JoinInstructions {
        name: name.to_string(),
        initial_cluster: initial_cluster.clone(),
        initial_cluster_state: "existing",
        initial_advertise_peer_urls: peers.clone(),
        flags: vec![
            format!("--name={name}"),
            format!("--initial-cluster={initial_cluster}"),
            "--initial-cluster-state=existing".to_string(),
            format!("--initial-advertise-peer-urls={peers}"),
        ],
        env: vec![
            format!("ETCD_NAME=\"{name}\""),
            format!("ETCD_INITIAL_CLUSTER=\"{initial_cluster}\""),
            "ETCD_INITIAL_CLUSTER_STATE=\"existing\"".to_string(),
            format!("ETCD_INITIAL_ADVERTISE_PEER_URLS=\"{peers}\""),
        ],
    }
}

/// `--initial-cluster` for a member joining with `peer_urls` under `name`: `name=url` for every
/// member of `members` (the membership after the add). etcd compares the member count, so a
/// member that never started (no name yet) is listed too, as `=url`, as etcdctl does.
pub fn initial_cluster(members: &[MemberRow], peer_urls: &[String], name: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    for m in members {
        let joining = m.peer_urls.iter().any(|u| peer_urls.contains(u));
        let member_name = if joining { name } else { m.name.as_str() };
        for url in &m.peer_urls {
            parts.push(format!("{member_name}={url}"));
        }
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, name: &str, peer: &str) -> MemberRow {
        MemberRow {
            id: id.into(),
            name: name.into(),
            peer_urls: vec![peer.into()],
            client_urls: vec![],
            is_learner: false,
            started: !name.is_empty(),
            reachable: true,
            is_leader: false,
        }
    }

    #[test]
    fn every_member_is_listed_and_the_joiner_gets_its_name() {
        let members = [
            row("1", "a", "https://a:2380"),
            row("2", "", "https://stale:2380"),
            row("3", "", "https://new:2380"),
        ];
        let ic = initial_cluster(&members, &["https://new:2380".to_string()], "c");
        assert_eq!(
            ic,
            "a=https://a:2380,=https://stale:2380,c=https://new:2380"
        );
    }
}
