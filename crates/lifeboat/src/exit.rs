//! Exit codes, one meaning each, following the monitoring-plugin convention so `status` can be
//! a Nagios/Icinga check as it is.

use std::process::ExitCode;

/// What a command's run ended in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Healthy / done / sound.
    Ok = 0,
    /// A warning: works, but needs attention (or a check found a problem, e.g. an unsound file).
    Warning = 1,
    /// Critical: the cluster (or a predicted flow) is broken.
    Critical = 2,
    /// Unknown: the command could not find out (nothing reachable, bad configuration or input).
    Unknown = 3,
    /// The command line itself was wrong.
    Usage = 64,
}

/// A policy check, lint or diff: clean 0, warnings 1, critical 2.
impl From<policy::findings::Outcome> for Exit {
    fn from(o: policy::findings::Outcome) -> Exit {
        match o {
            policy::findings::Outcome::Clean => Exit::Ok,
            policy::findings::Outcome::Warnings => Exit::Warning,
            policy::findings::Outcome::Critical => Exit::Critical,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

/// A command line that parsed but does not make sense (`--all` without `--output-root`): exit
/// 64 like clap's own usage errors, wherever in a command it is found.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// `return Err(usage("--all needs --output-root DIR"))` in a command.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    UsageError(message.into()).into()
}

/// What an error that ended a command means: its exit code and a stable code for `-o json`.
pub fn classify(err: &anyhow::Error) -> (Exit, &'static str) {
    if err.downcast_ref::<UsageError>().is_some() {
        return (Exit::Usage, "USAGE");
    }
    if err
        .chain()
        .any(|c| c.downcast_ref::<inputs::InputError>().is_some())
    {
        return (Exit::Unknown, "INPUT_REFUSED");
    }
    (Exit::Unknown, "FAILED")
}
