use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    // The cause is part of the message and deliberately not a `source`: error chains
    // printed by the binary would otherwise repeat it.
    #[error("{}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{}: is a directory, not a file", .0.display())]
    NotAFile(PathBuf),
    #[error("{}: {error}", path.display())]
    Bolt { path: PathBuf, error: bolt::Error },
    #[error("{}: {what}", path.display())]
    Schema { path: PathBuf, what: String },
    #[error("{}: {what}", path.display())]
    Wal { path: PathBuf, what: String },
    #[error("{}: {what}", path.display())]
    Snap { path: PathBuf, what: String },
    #[error("{}: {what}", path.display())]
    DataDir { path: PathBuf, what: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
