//! `lifeboat generate completion SHELL` and `lifeboat generate man --out DIR`: both come from
//! the clap definitions themselves, so they can never drift from the real flags.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, Subcommand};
use clap_complete::Shell;

use crate::exit::Exit;
use crate::output;

#[derive(Debug, Subcommand)]
pub enum GenerateCommand {
    /// Print a completion script: `source <(lifeboat generate completion bash)`
    Completion(CompletionArgs),
    /// Write one man page per command (lifeboat.1, lifeboat-status.1, ...) into a folder
    Man(ManArgs),
}

#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// bash, zsh, fish, elvish or powershell
    pub shell: Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Folder to write the pages into (created if missing), e.g. /usr/local/share/man/man1
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

pub fn run(cmd: &GenerateCommand, mut command: clap::Command) -> anyhow::Result<Exit> {
    match cmd {
        GenerateCommand::Completion(args) => {
            let mut script = Vec::new();
            clap_complete::generate(args.shell, &mut command, "lifeboat", &mut script);
            output::print(&String::from_utf8_lossy(&script));
        }
        GenerateCommand::Man(args) => {
            std::fs::create_dir_all(&args.out)
                .with_context(|| format!("cannot create {}", args.out.display()))?;
            command.build();
            let written = write_pages(&command, "lifeboat", &args.out)?;
            output::note(&format!(
                "wrote {written} man pages to {}; try `man -l {}`",
                args.out.display(),
                args.out.join("lifeboat.1").display()
            ));
        }
    }
    Ok(Exit::Ok)
}

/// Writes `name.1` for `command` and each of its subcommands, depth first; returns the count.
fn write_pages(command: &clap::Command, name: &str, dir: &Path) -> anyhow::Result<usize> {
    let path = dir.join(format!("{name}.1"));
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone())
        .title(name.to_owned())
        .render(&mut page)
        .with_context(|| format!("cannot render the man page {name}"))?;
    std::fs::write(&path, page).with_context(|| format!("cannot write {}", path.display()))?;
    let mut written = 1;
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        written += write_pages(sub, &format!("{name}-{}", sub.get_name()), dir)?;
    }
    Ok(written)
}
