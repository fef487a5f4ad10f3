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

/// `members` is the membership after the add, including the new member (which has no name yet:
/// etcd learns a member's name only when it starts).
pub fn join_instructions(
    members: &[MemberRow],
    new_id: &str,
    name: &str,
    peer_urls: &[String],
) -> JoinInstructions {
    let mut parts: Vec<String> = Vec::new();
    for m in members {
        let member_name = if m.id == new_id {
            name
        } else {
            m.name.as_str()
        };
        // etcd's --initial-cluster lists name=url; a member that never started has no name and
        // is left out, as etcdctl does.
        if member_name.is_empty() {
            continue;
        }
        for url in &m.peer_urls {
            parts.push(format!("{member_name}={url}"));
        }
    }
    let initial_cluster = parts.join(",");
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
