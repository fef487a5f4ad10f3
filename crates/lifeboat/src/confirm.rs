//! The two switches of every command that changes something, declared once: `--dry-run`
//! (look first) and `--yes` (do it without asking), and the question asked when `--yes` is
//! missing. A command whose dry run shows something more specific words the help with
//! `#[command(mut_arg("dry_run", |a| a.help("...")))]`; the flag itself stays this one.

use std::io::{BufRead, IsTerminal, Write};

use clap::Args;

/// `--dry-run`.
#[derive(Debug, Clone, Copy, Args)]
pub struct DryRunArg {
    /// Show what would be done, change nothing
    #[arg(id = "dry_run", long = "dry-run")]
    pub on: bool,
}

/// `--yes` / `-y`.
#[derive(Debug, Clone, Copy, Args)]
pub struct YesArg {
    /// Do it without asking (required when not on a terminal)
    #[arg(id = "yes", long = "yes", short = 'y')]
    pub given: bool,
}

impl YesArg {
    /// Asks on a terminal unless `--yes` was given; elsewhere requires `--yes`.
    pub fn confirm(self, what: &str) -> anyhow::Result<()> {
        confirm(self.given, what)
    }
}

/// Asks on a terminal; elsewhere requires --yes.
pub fn confirm(yes: bool, what: &str) -> anyhow::Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "{what}: not on a terminal, so pass --yes to confirm (or --dry-run to look first)"
        );
    }
    let mut err = std::io::stderr();
    let _ = write!(err, "{what}. Proceed? [y/N] ");
    let _ = err.flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    if matches!(line.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        anyhow::bail!("not confirmed; nothing was changed")
    }
}
