use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: is a directory, not a file", .0.display())]
    NotAFile(PathBuf),
    #[error("{}: {source}", path.display())]
    Bolt {
        path: PathBuf,
        #[source]
        source: bolt::Error,
    },
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
