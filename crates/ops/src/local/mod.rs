//! Real etcd processes on this machine: what `lifeboat drill` rehearses on and what the test kit
//! builds clusters from. Loopback only, free ports, a private temp dir, a PKI made on the spot.
//!
//! Children are killed when the [`LocalCluster`] is dropped, and (Linux) when the thread that
//! spawned them dies, so a panicking test or an interrupted drill leaves no etcd behind.

mod cluster;
mod pki;
mod ports;
mod process;

pub use cluster::{LocalCluster, LocalClusterSpec, LocalMember, MemberState};
pub use pki::Pki;
pub use ports::free_port;
pub use process::etcd_binary;
