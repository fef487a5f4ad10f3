//! Real etcd processes on this machine: what `lifeboat drill` rehearses on and what the test kit
//! builds clusters from. Loopback with free ports (or network namespaces this code creates, see
//! [`netns`]), a private temp dir, a PKI made on the spot.
//!
//! Children are killed when the [`LocalCluster`] is dropped, and (Linux) when the thread that
//! spawned them dies, so a panicking test or an interrupted drill leaves no etcd behind. A
//! detached cluster (`drill --keep`, or one opened from its dir by [`LocalCluster::open`]) is the
//! exception: its members outlive lifeboat on purpose.
//!
//! Every cluster writes `lifeboat-cluster.json` ([`description`]) and one pid file per running
//! member into its root dir, so another process can recover it.

mod cluster;
pub mod description;
pub mod netns;
mod open;
mod pidfile;
mod pki;
mod ports;
mod process;

pub use cluster::{LocalCluster, LocalClusterSpec, LocalMember, MemberState, Placement};
pub use pki::Pki;
pub use ports::free_port;
pub use process::etcd_binary;
