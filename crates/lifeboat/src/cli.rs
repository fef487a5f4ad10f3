//! The command tree and the one place where errors become exit codes.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::commands;
use crate::connection::ConnectionArgs;
use crate::context::Context;
use crate::exit::{self, Exit};
use crate::output::{self, OutputArg};

/// `lifeboat --version`: the crate version, the commit and the day it was built.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("LIFEBOAT_COMMIT"),
    ", built ",
    env!("LIFEBOAT_BUILD_DATE"),
    ")"
);

/// Prevent, detect and recover Kubernetes control-plane disasters around etcd.
///
/// Exit codes: 0 healthy/done, 1 warning, 2 critical, 3 unknown or error (nothing reachable,
/// bad configuration or input), 64 usage error.
#[derive(Debug, Parser)]
#[command(name = "lifeboat", version = VERSION, about, long_about = None, max_term_width = 110)]
pub struct Cli {
    /// More diagnostics on stderr: -v info, -vv debug, -vvv trace (`LIFEBOAT_LOG` also works)
    #[arg(short = 'v', long = "verbose", global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Diagnostics on stderr at this level or above: error, warn, info, debug, trace
    #[arg(long = "log-level", global = true, value_name = "LEVEL")]
    pub log_level: Option<tracing::Level>,

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
    /// Continuous backup to object storage: fulls on a schedule and a delta log every second
    Agent(commands::agent::AgentArgs),
    /// Continuous-backup store: list it, verify all of it, rebuild a snapshot at any point
    #[command(subcommand)]
    Backup(commands::backup::BackupCommand),
    /// Member data dirs offline: inspect one, rank survivors for lost-quorum recovery
    #[command(subcommand)]
    Datadir(commands::datadir::DatadirCommand),
    /// Network policy before `kubectl apply`: which control-plane flows it cuts, and why
    #[command(subcommand)]
    Policy(commands::policy::PolicyCommand),
    /// Admission webhook: refuse policy changes that cut the control plane before they apply
    #[command(subcommand)]
    Webhook(commands::webhook::WebhookCommand),
    /// Kubernetes objects through etcd, without the API server: list, get, delete, put back
    #[command(subcommand)]
    Kube(commands::kube::KubeCommand),
    /// Shell completions (bash, zsh, fish, elvish, powershell) and man pages
    #[command(subcommand)]
    Generate(commands::generate::GenerateCommand),
}

pub fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let json = wants_json(&args);
    let cli = match parse(args) {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version go to stdout, exit 0.
            let _ = e.print();
            return Exit::Ok.into();
        }
        Err(e) => {
            let rendered = e.render().to_string();
            let message = rendered.trim_end().trim_start_matches("error: ");
            return fail(json, Exit::Usage, "USAGE", message, &[]);
        }
    };
    if !cli.output_fits() {
        let message = "-o txt and -o dot are for `policy connectivity`, -o yaml for `kube get`; \
                       use -o table or -o json";
        return fail(json, Exit::Usage, "USAGE", message, &[]);
    }
    init_logging(cli.verbose, cli.log_level);
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
        Command::Agent(args) => commands::agent::run(&ctx, &args),
        Command::Backup(cmd) => commands::backup::run(&ctx, &cmd),
        Command::Datadir(cmd) => commands::datadir::run(&ctx, &cmd),
        Command::Policy(cmd) => commands::policy::run(&ctx, &cmd),
        Command::Kube(cmd) => commands::kube::run(&ctx, &cmd),
        Command::Webhook(cmd) => commands::webhook::run(&ctx, &cmd),
        Command::Generate(cmd) => commands::generate::run(&cmd, Cli::command()),
    };
    match result {
        Ok(code) => code.into(),
        Err(e) => {
            let (exit, code) = exit::classify(&e);
            let causes: Vec<String> = e.chain().skip(1).map(|c| c.to_string()).collect();
            fail(json, exit, code, &e.to_string(), &causes)
        }
    }
}

/// Parses the command line. Run as `kubectl-lifeboat` (a kubectl plugin), help and errors
/// name the command as the user typed it: `kubectl lifeboat`.
fn parse(args: Vec<OsString>) -> Result<Cli, clap::Error> {
    let mut command = Cli::command();
    if invoked_as_kubectl_plugin(args.first()) {
        command = command
            .bin_name("kubectl lifeboat")
            .display_name("kubectl lifeboat");
    }
    let matches = command.try_get_matches_from(args)?;
    Cli::from_arg_matches(&matches)
}

fn invoked_as_kubectl_plugin(argv0: Option<&OsString>) -> bool {
    argv0
        .and_then(|a| std::path::Path::new(a).file_name())
        .is_some_and(|name| name == "kubectl-lifeboat")
}

/// Whether `-o json` was asked for, read from the raw arguments: a usage error must answer in
/// JSON too, and then clap has not parsed anything.
fn wants_json(args: &[OsString]) -> bool {
    let args: Vec<&str> = args.iter().skip(1).filter_map(|a| a.to_str()).collect();
    args.iter().enumerate().any(|(i, a)| match *a {
        "-ojson" | "--output=json" | "-o=json" => true,
        "-o" | "--output" => args.get(i + 1) == Some(&"json"),
        _ => false,
    })
}

/// Ends a run that failed: one line per cause on stderr for people, and under `-o json` an
/// `error` object on stdout for scripts, so stdout is JSON in every case.
fn fail(json: bool, exit: Exit, code: &str, message: &str, causes: &[String]) -> ExitCode {
    let mut text = format!("lifeboat: {message}");
    for cause in causes {
        text.push_str(&format!("\n  caused by: {cause}"));
    }
    output::note(&text);
    if json {
        output::print_json(&serde_json::json!({
            "error": {
                "code": code,
                "message": message,
                "causes": causes,
                "exit": exit as u8,
            }
        }));
    }
    exit.into()
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

/// Logs go to stderr: off unless `-v`, `--log-level` or `LIFEBOAT_LOG` (e.g. `debug`,
/// `ops=trace`) ask; the flags win over the variable.
fn init_logging(verbose: u8, level: Option<tracing::Level>) {
    use tracing_subscriber::EnvFilter;
    let from_flags = level
        .map(|l| l.to_string().to_lowercase())
        .or(match verbose {
            0 => None,
            1 => Some("info".into()),
            2 => Some("debug".into()),
            _ => Some("trace".into()),
        });
    let filter = match from_flags {
        Some(level) => EnvFilter::new(level),
        None => EnvFilter::try_from_env("LIFEBOAT_LOG").unwrap_or_else(|_| EnvFilter::new("off")),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<OsString> {
        line.split_whitespace().map(OsString::from).collect()
    }

    #[test]
    fn json_is_seen_in_every_spelling() {
        for line in [
            "lifeboat -o json status",
            "lifeboat status --output json",
            "lifeboat status -ojson",
            "lifeboat status --output=json",
        ] {
            assert!(wants_json(&args(line)), "{line}");
        }
        assert!(!wants_json(&args("lifeboat status -o table")));
        assert!(!wants_json(&args("lifeboat kube get cm json")));
    }

    #[test]
    fn the_plugin_name_is_recognised() {
        assert!(invoked_as_kubectl_plugin(Some(
            &"/usr/local/bin/kubectl-lifeboat".into()
        )));
        assert!(!invoked_as_kubectl_plugin(Some(&"lifeboat".into())));
    }

    #[test]
    fn the_command_tree_is_consistent() {
        Cli::command().debug_assert();
    }
}
