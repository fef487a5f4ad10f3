//! The split-brain guard of a local recovery: after every member was stopped, nothing may still
//! accept connections on a member's client or peer port. Something that does is an etcd this
//! lifeboat does not control (started by hand, by another tool, from another copy of the data);
//! forcing a new cluster beside it would let two clusters diverge from one history.

use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::executor::Executor;
use crate::OpsError;
use crate::settings::Endpoint;

pub fn nothing_answers(exec: &dyn Executor) -> Result<(), OpsError> {
    let mut answering = Vec::new();
    for member in exec.members() {
        let clients = exec
            .settings_for(&member)
            .endpoints
            .iter()
            .map(|e| e.authority())
            .collect::<Vec<_>>();
        let peers = exec
            .peer_urls(&member)
            .iter()
            .filter_map(|u| Endpoint::parse(u).ok())
            .map(|e| e.authority())
            .collect::<Vec<_>>();
        for addr in clients.iter().chain(peers.iter()) {
            if accepts(addr) {
                answering.push(format!("{member} at {addr}"));
            }
        }
    }
    if answering.is_empty() {
        return Ok(());
    }
    Err(OpsError::Config(format!(
        "refusing to force a new cluster: after stopping every member, something still answers \
         ({}). It is not a member this lifeboat started, so it cannot be fenced from here: stop \
         it, or pass --i-have-fenced if what answers there is not etcd",
        answering.join(", ")
    )))
}

fn accepts(addr: &str) -> bool {
    addr.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .is_some_and(|a| TcpStream::connect_timeout(&a, Duration::from_millis(500)).is_ok())
}
