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

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}
