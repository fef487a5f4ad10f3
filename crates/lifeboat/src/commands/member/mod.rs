//! `lifeboat member ...`: membership changes that refuse to break quorum. Every command shows
//! the quorum math before and after; `remove` and `replace` take a snapshot first.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use ops::ConnectionSettings;
use ops::member::Change;
use ops::snapshot::{SaveRequest, SaveTarget, save};

use crate::confirm::{DryRunArg, YesArg};
use crate::context::Context;
use crate::exit::Exit;
use crate::output;

pub mod add;
pub mod list;
pub mod promote;
pub mod remove;
pub mod replace;

#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Members with their role, reachability and the quorum math
    List(list::ListArgs),
    /// Add a member (a learner unless --voter) and print how to start it
    Add(add::AddArgs),
    /// Promote a learner to voter once it has caught up
    Promote(promote::PromoteArgs),
    /// Remove a member, refused when it would break quorum (snapshot first)
    Remove(remove::RemoveArgs),
    /// Replace a member: remove first, then add as learner, wait, promote (snapshot first)
    Replace(replace::ReplaceArgs),
}

pub fn run(ctx: &Context, cmd: &MemberCommand) -> anyhow::Result<Exit> {
    match cmd {
        MemberCommand::List(a) => list::run(ctx, a),
        MemberCommand::Add(a) => add::run(ctx, a),
        MemberCommand::Promote(a) => promote::run(ctx, a),
        MemberCommand::Remove(a) => remove::run(ctx, a),
        MemberCommand::Replace(a) => replace::run(ctx, a),
    }
}

/// `--peer-urls` that do not parse are a mistake on the command line (exit 64), found before
/// anything is asked of the cluster.
fn check_peer_urls(urls: &[String]) -> anyhow::Result<()> {
    for url in urls {
        ops::settings::Endpoint::parse(url)
            .map_err(|e| crate::exit::usage(format!("--peer-urls: {e}")))?;
    }
    Ok(())
}

/// The safety switches every destructive membership command has.
#[derive(Debug, Clone, Args)]
pub struct Safety {
    #[command(flatten)]
    pub dry_run: DryRunArg,

    #[command(flatten)]
    pub yes: YesArg,

    /// Override the quorum guard (you are about to make the cluster unavailable)
    #[arg(long)]
    pub force: bool,

    /// Where the snapshot taken before the change goes
    #[arg(long, value_name = "DIR", default_value = "/var/backups/lifeboat")]
    pub backup_dir: PathBuf,

    /// Skip the snapshot before the change
    #[arg(long)]
    pub no_backup: bool,
}

/// The quorum math, for people.
pub fn describe(change: &Change) -> String {
    let mut s = format!(
        "{}\n  before: {}\n  after:  {}\n",
        change.action,
        change.before.describe(),
        change.after.describe()
    );
    if let Some(r) = &change.refusal {
        s.push_str(&format!("  REFUSED: {r}\n"));
    }
    s
}

/// Applies the guard: a refused change stops here unless `--force`.
pub fn guard(change: &Change, force: bool) -> anyhow::Result<()> {
    match (&change.refusal, force) {
        (Some(r), false) => anyhow::bail!(
            "refused: {r}. Fix the unhealthy members first (see `lifeboat status`), or pass --force \
             if an outage is what you want"
        ),
        _ => Ok(()),
    }
}

/// etcd refuses every member add (learners too) while a voting member is unreachable; say so
/// before trying, with the way out.
pub fn require_all_voters_up(
    status: &ops::status::ClusterStatus,
    except: Option<&str>,
) -> anyhow::Result<()> {
    let down: Vec<String> = status
        .members
        .iter()
        .filter(|m| !m.is_learner && !m.reachable && Some(m.id.as_str()) != except)
        .map(ops::status::MemberRow::label)
        .collect();
    if down.is_empty() {
        return Ok(());
    }
    anyhow::bail!(
        "etcd adds no member while a voting member is unreachable ({}): remove it first \
         (`lifeboat member remove <id>`), or use `lifeboat member replace`, which removes before it adds",
        down.join(", ")
    )
}

/// Snapshot before a destructive change; returns where it went.
pub async fn backup(
    settings: &ConnectionSettings,
    tls: Option<&ops::settings::ValidatedTls>,
    safety: &Safety,
) -> anyhow::Result<Option<PathBuf>> {
    if safety.no_backup {
        return Ok(None);
    }
    let req = SaveRequest {
        settings,
        tls,
        from: None,
        target: SaveTarget::Dir {
            dir: safety.backup_dir.clone(),
            retain: None,
        },
        force: false,
        stall_timeout: Duration::from_secs(30),
    };
    let outcome = save(req, &mut |_, _| {}).await.map_err(|e| {
        anyhow::anyhow!(
            "the snapshot before the change failed, so nothing was changed: {e} (pass \
             --backup-dir elsewhere, or --no-backup to go without)"
        )
    })?;
    output::note(&format!("Backup taken: {}", outcome.path.display()));
    Ok(Some(outcome.path))
}

/// Connection settings resolved and checked, shared by the member commands.
pub fn connect_settings(
    ctx: &Context,
) -> anyhow::Result<(ConnectionSettings, Option<ops::settings::ValidatedTls>)> {
    let settings = ctx.connection.resolve()?;
    let tls = settings.validate()?;
    Ok((settings, tls))
}
