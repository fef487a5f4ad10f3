//! `LabError`: why a drill could not be run to its verdict. A drill that ran and found the
//! recovery wanting is not an error: it is a report with verdict `fail`.

use std::fmt::Display;

/// A drill that stopped before its verdict.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// The local cluster, a recovery step, a snapshot or a membership change failed.
    #[error(transparent)]
    Ops(#[from] ops::OpsError),
    /// An etcd request of the drill's own (writes, reads, deletes).
    #[error("etcd: {0}")]
    Etcd(#[from] etcd_client::Error),
    /// A file or process of the drill.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A snapshot file of the drill.
    #[error(transparent)]
    Store(#[from] store::Error),
    /// The drill's native restore from a snapshot (restore, total-loss).
    #[error(transparent)]
    Restore(#[from] store::restore::RestoreError),
    /// The continuous-backup store (total-loss).
    #[error(transparent)]
    BackupStore(#[from] backup::remote::RemoteError),
    /// Rebuilding a snapshot from the continuous backup (total-loss).
    #[error(transparent)]
    BackupRestore(#[from] backup::restore::RestoreError),
    /// Policies or the inventory read from etcd (policy-lockout).
    #[error(transparent)]
    PolicyInput(#[from] policy_etcd::Error),
    /// What the drill was doing when `source` failed.
    #[error("{what}: {source}")]
    During {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A step whose outcome the drill could not accept, said in full.
    #[error("{0}")]
    Failed(String),
}

pub type Result<T, E = LabError> = std::result::Result<T, E>;

/// `.context("what the drill was doing")` on a failure: the drill's files read as before,
/// each failure typed by its source.
pub trait Context<T> {
    fn context(self, what: impl Display) -> Result<T>;
    fn with_context<D: Display>(self, what: impl FnOnce() -> D) -> Result<T>;
}

impl<T, E: std::error::Error + Send + Sync + 'static> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl Display) -> Result<T> {
        self.map_err(|e| LabError::During {
            what: what.to_string(),
            source: Box::new(e),
        })
    }
    fn with_context<D: Display>(self, what: impl FnOnce() -> D) -> Result<T> {
        self.map_err(|e| LabError::During {
            what: what().to_string(),
            source: Box::new(e),
        })
    }
}

impl<T> Context<T> for Option<T> {
    fn context(self, what: impl Display) -> Result<T> {
        self.ok_or_else(|| LabError::Failed(what.to_string()))
    }
    fn with_context<D: Display>(self, what: impl FnOnce() -> D) -> Result<T> {
        self.ok_or_else(|| LabError::Failed(what().to_string()))
    }
}

/// `fail!("...")`: a [`LabError::Failed`] with a formatted message.
#[macro_export]
macro_rules! fail {
    ($($arg:tt)*) => { $crate::LabError::Failed(format!($($arg)*)) };
}

/// `bail!("...")`: return a [`LabError::Failed`].
#[macro_export]
macro_rules! bail {
    ($($arg:tt)*) => { return Err($crate::fail!($($arg)*)) };
}
