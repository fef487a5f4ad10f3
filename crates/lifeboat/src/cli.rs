//! The command tree and the one place where errors become exit codes.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::commands;
use crate::connection::ConnectionArgs;
use crate::exit::Exit;
use crate::output::{self, Format, OutputArg};

/// Prevent, detect and recover Kubernetes control-plane disasters around etcd.
///
/// Exit codes: 0 healthy/done, 1 warning, 2 critical, 3 unknown or error (nothing reachable,
/// bad configuration or input), 64 usage error.
#[derive(Debug, Parser)]
#[command(name = "lifeboat", version, about, long_about = None, max_term_width = 110)]
pub struct Cli {
    /// Output format: a table for people, JSON for scripts (the same data); txt and dot for
    /// `policy connectivity` only, yaml for `kube get` only
    #[arg(short = 'o', long = "output", global = true, value_enum, default_value_t = OutputArg::Table)]
    pub output: OutputArg,

    #[command(flatten)]
    pub connection: ConnectionArgs,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Live health: members, raft state per endpoint, leader, alarms, quorum math, and what to do
    Status(commands::status::StatusArgs),
    /// Membership changes that refuse to break quorum: list, add, promote, remove, replace
    #[command(subcommand)]
    Member(commands::member::MemberCommand),
    /// Lost-quorum recovery: plan it from every survivor's evidence
    #[command(subcommand)]
    Recover(commands::recover::RecoverCommand),
    /// Rehearse a disaster end to end on a throwaway local etcd cluster
    Drill(commands::drill::DrillArgs),
    /// Snapshot files offline: verify a backup, inspect what it holds
    #[command(subcommand)]
    Snapshot(commands::snapshot::SnapshotCommand),
    /// Member data dirs offline: inspect one, rank survivors for lost-quorum recovery
    #[command(subcommand)]
    Datadir(commands::datadir::DatadirCommand),
    /// Network policy before `kubectl apply`: which control-plane flows it cuts, and why
    #[command(subcommand)]
    Policy(commands::policy::PolicyCommand),
    /// Kubernetes objects through etcd, without the API server: list, get, delete, put back
    #[command(subcommand)]
    Kube(commands::kube::KubeCommand),
}

/// Shared by every command: how to print and how to reach etcd.
pub struct Context {
    pub format: Format,
    /// `-o` as given (`txt`/`dot` only reach `policy connectivity`).
    pub requested: OutputArg,
    pub connection: ConnectionArgs,
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                Exit::Usage
            } else {
                Exit::Ok
            };
            // clap prints help/version to stdout and usage errors to stderr.
            let _ = e.print();
            return code.into();
        }
    };
    if !cli.output_fits() {
        output::note(
            "lifeboat: -o txt and -o dot are for `policy connectivity`, -o yaml for `kube get`; \
             use -o table or -o json",
        );
        return Exit::Usage.into();
    }
    init_logging();
    let ctx = Context {
        format: cli.output.format(),
        requested: cli.output,
        connection: cli.connection.clone(),
    };
    let result = match cli.command {
        Command::Status(args) => commands::status::run(&ctx, &args),
        Command::Drill(args) => commands::drill::run(&ctx, &args),
        Command::Member(cmd) => commands::member::run(&ctx, &cmd),
        Command::Recover(cmd) => commands::recover::run(&ctx, &cmd),
        Command::Snapshot(cmd) => commands::snapshot::run(&ctx, &cmd),
        Command::Datadir(cmd) => commands::datadir::run(&ctx, &cmd),
        Command::Policy(cmd) => commands::policy::run(&ctx, &cmd),
        Command::Kube(cmd) => commands::kube::run(&ctx, &cmd),
    };
    match result {
        Ok(code) => code.into(),
        Err(e) => {
            // One line per cause, no backtrace: the operator needs the what and the next step.
            let mut text = format!("lifeboat: {e}");
            for cause in e.chain().skip(1) {
                text.push_str(&format!("\n  caused by: {cause}"));
            }
            output::note(&text);
            Exit::Unknown.into()
        }
    }
}

impl Cli {
    /// `-o txt|dot` means something only to `policy connectivity`, `-o yaml` to `kube get`.
    fn output_fits(&self) -> bool {
        match self.output {
            OutputArg::Table | OutputArg::Json => true,
            OutputArg::Txt | OutputArg::Dot => matches!(
                self.command,
                Command::Policy(commands::policy::PolicyCommand::Connectivity(_))
            ),
            OutputArg::Yaml => matches!(
                self.command,
                Command::Kube(commands::kube::KubeCommand::Get(_))
            ),
        }
    }
}

/// Logs go to stderr, off unless `LIFEBOAT_LOG` asks (e.g. `LIFEBOAT_LOG=debug`).
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("LIFEBOAT_LOG").unwrap_or_else(|_| EnvFilter::new("off"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
