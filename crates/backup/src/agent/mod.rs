//! The agent's pieces (docs/backup.md §6): full snapshots taken and uploaded ([`full`]), and
//! the delta log written from a watch ([`deltas`]). Leader election and the long-running
//! schedule come on top of these; [`leader`] elects one writer.

pub mod deltas;
pub mod full;
pub mod leader;
pub mod metrics;
pub mod watch;

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("etcd: {0}")]
    Etcd(String),
    #[error(transparent)]
    Remote(#[from] crate::remote::RemoteError),
    #[error(transparent)]
    Segment(#[from] crate::segment::SegmentError),
    #[error(
        "the watch skipped from revision {last} to {got}: revisions are missing; a new full snapshot is needed"
    )]
    Gap { last: i64, got: i64 },
    #[error(
        "the backup store has refused uploads while {pending} bytes of segments waited (limit {limit}): check the store and its credentials"
    )]
    StoreDown { pending: usize, limit: usize },
    #[error(
        "this agent can no longer be sure it leads (its election lease was not kept alive): it stopped writing"
    )]
    NotLeader,
    #[error("snapshot save: {0}")]
    Save(String),
}
