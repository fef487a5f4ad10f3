//! `lifeboat`: prevent, detect and recover Kubernetes control-plane disasters around etcd and
//! Cilium network policy. `main` only delegates; see `cli.rs` for the command tree.
//!
//! # Layout
//! - `cli`: the clap command tree, global flags, dispatch, and the mapping of errors to exit codes.
//! - `exit`: the exit codes, one meaning each.
//! - `output`: table or JSON on stdout; a closed pipe ends output quietly.
//! - `connection`: etcdctl-compatible connection flags and `ETCDCTL_*` variables, resolved to
//!   `ops::ConnectionSettings` (with discovery when nothing is given).
//! - `commands/`: one file per command; each parses nothing itself, calls the libraries and
//!   formats their result.

mod cli;
mod commands;
mod confirm;
mod connection;
mod context;
mod exit;
mod flags;
mod metrics_http;
mod output;
mod policy_input;
mod policy_live;
mod render;
mod runtime;
mod source;

fn main() -> std::process::ExitCode {
    cli::main()
}
