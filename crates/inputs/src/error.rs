use std::path::PathBuf;

use crate::kind::{Kind, human};

/// A file named on the command line could not be taken.
#[derive(Debug, thiserror::Error)]
#[error("{kind} {}: {problem}", path.display(), kind = kind.name)]
pub struct InputError {
    pub path: PathBuf,
    pub kind: Kind,
    pub problem: Problem,
}

/// Why a file was not taken. Each message ends with what to check.
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    #[error("{0}; check the path and its permissions")]
    Io(#[source] std::io::Error),
    #[error("is {0}, not a regular file; give the path of a file")]
    NotRegular(&'static str),
    #[error("is {}, larger than the {} this kind of input may be; is it the right file?",
        human(*size), human(*limit))]
    TooLarge { size: u64, limit: u64 },
    #[error("is not UTF-8 text (byte {at}); is it the right file?")]
    NotText { at: usize },
    #[error("leads outside {}, the folder being read; move the file into it or name it directly",
        root.display())]
    OutsideRoot { root: PathBuf },
    #[error("is part of a symlink loop; remove the link that points back up")]
    Loop,
}

impl InputError {
    pub(crate) fn new(path: impl Into<PathBuf>, kind: Kind, problem: Problem) -> InputError {
        InputError {
            path: path.into(),
            kind,
            problem,
        }
    }
}
