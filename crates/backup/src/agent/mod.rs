//! The agent's pieces (docs/backup.md §6): full snapshots taken and uploaded ([`full`]), and
//! the delta log written from a watch ([`deltas`]). Leader election and the long-running
//! schedule come on top of these; [`leader`] elects one writer.

pub mod deltas;
pub mod full;
pub mod leader;
pub mod metrics;
pub mod restore_test;
pub mod spool;
pub mod uploader;
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
        "the backup store did not take the spooled segments in time: {segments} segments ({bytes} bytes) stay spooled in {spool}; the agent's next term as leader (or its next start) uploads them: check the store and its credentials"
    )]
    StoreDown {
        segments: usize,
        bytes: u64,
        spool: String,
    },
    #[error(transparent)]
    Spool(#[from] spool::SpoolError),
    #[error(
        "this agent can no longer be sure it leads (its election lease was not kept alive): it stopped writing"
    )]
    NotLeader,
    #[error("snapshot save: {0}")]
    Save(String),
}
