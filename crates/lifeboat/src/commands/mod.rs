//! One file per command. Each takes its clap arguments and the shared [`crate::cli::Context`],
//! calls the libraries, prints through [`crate::output`], and returns an [`crate::exit::Exit`].

pub mod agent;
pub mod backup;
pub mod datadir;
pub mod drill;
pub mod generate;
pub mod kube;
pub mod member;
pub mod policy;
pub mod recover;
pub mod snapshot;
pub mod status;
pub mod webhook;

/// A single-threaded runtime on the main thread: lifeboat's concurrency is I/O (many endpoints
/// at once), and child processes it starts are tied to the thread that spawned them.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}
