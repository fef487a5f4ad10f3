//! One file per command. Each takes its clap arguments and the shared [`crate::context::Context`],
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

// Re-exported for command files other branches are changing (`super::super::runtime()`);
// new code uses `crate::runtime::runtime`.
pub use crate::runtime::runtime;
