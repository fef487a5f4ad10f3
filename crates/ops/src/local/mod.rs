//! Real etcd processes on this machine: what `lifeboat drill` rehearses on and what the test kit
//! builds clusters from. Loopback with free ports (or network namespaces this code creates, see
//! [`netns`]), a private temp dir, a PKI made on the spot.
//!
//! Children are killed when the [`LocalCluster`] is dropped, and (Linux) when the thread that
//! spawned them dies, so a panicking test or an interrupted drill leaves no etcd behind.

mod cluster;
pub mod netns;
mod pki;
mod ports;
mod process;

pub use cluster::{LocalCluster, LocalClusterSpec, LocalMember, MemberState, Placement};
pub use pki::Pki;
pub use ports::free_port;
pub use process::etcd_binary;
