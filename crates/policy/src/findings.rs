//! Findings: warnings and notes about the input that are not hard errors.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

/// What a check, lint or diff amounts to, worst first in `Ord`: the binary turns it into its
/// exit code (0, 1, 2); a library says what it found, not how a process should end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Clean,
    Warnings,
    Critical,
}

/// One finding with a stable code (used by tests, `lint` and JSON consumers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub code: &'static str,
    pub message: String,
    /// `file:line` or the object's name, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Rule numbers of policy-semantics.md this finding rests on.
    pub rules: Vec<&'static str>,
}

impl Finding {
    pub fn new(severity: Severity, code: &'static str, message: impl Into<String>) -> Finding {
        Finding {
            severity,
            code,
            message: message.into(),
            location: None,
            rules: Vec::new(),
        }
    }

    pub fn at(mut self, location: impl Into<String>) -> Finding {
        self.location = Some(location.into());
        self
    }

    pub fn rules(mut self, rules: &[&'static str]) -> Finding {
        self.rules = rules.to_vec();
        self
    }
}
