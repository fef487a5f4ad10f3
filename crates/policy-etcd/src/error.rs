//! Typed failures of this crate.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The objects read do not make a policy input (no node, an invalid policy...).
    #[error(transparent)]
    Load(#[from] policy::error::LoadError),
    /// etcd did not answer a listing or refused a watch.
    #[error("{what}: {source}; check that etcd is reachable (`lifeboat status`)")]
    Etcd {
        what: String,
        #[source]
        source: etcd_client::Error,
    },
}
