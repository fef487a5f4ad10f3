//! Flag groups more than one command takes, declared once (`#[command(flatten)]` or a field
//! of this type): `--store` (`backup *`, `agent`) and `--strategy` (`recover run`, `drill`).
//! `--dry-run` and `--yes` are in `confirm`.

use clap::{Args, ValueEnum};
use ops::recover::Strategy;

/// `--store URL`, shared by every backup command.
#[derive(Debug, Clone, Args)]
pub struct StoreArg {
    /// The backup store: file:///DIR or s3://BUCKET[/PREFIX] (S3 settings from AWS_* variables:
    /// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL, AWS_ALLOW_HTTP)
    #[arg(long, value_name = "URL", env = "LIFEBOAT_BACKUP_STORE")]
    pub store: String,
}

impl StoreArg {
    pub fn open(&self) -> anyhow::Result<::backup::remote::Store> {
        Ok(::backup::remote::Store::open(&self.store)?)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StrategyArg {
    /// Force a new cluster on the seed, then re-add the others one learner at a time (the
    /// faster of the two at 1 GiB here: see BENCHMARKS.md, "Drill")
    Rejoin,
    /// Restore every member from the seed's db and start them together (when the seed's db
    /// holds every committed entry; otherwise as rejoin)
    Rebuild,
}

impl From<StrategyArg> for Strategy {
    fn from(s: StrategyArg) -> Strategy {
        match s {
            StrategyArg::Rebuild => Strategy::Rebuild,
            StrategyArg::Rejoin => Strategy::Rejoin,
        }
    }
}

/// The retention flags, shared with `lifeboat agent` (and its config's `retention:` section).
#[derive(Debug, Clone, Default, Args)]
pub struct RetentionArgs {
    /// Keep the newest N full snapshots
    #[arg(long, value_name = "N")]
    pub keep_last: Option<usize>,

    /// Keep the newest full of each of the newest N hours (UTC) that have one
    #[arg(long, value_name = "N")]
    pub hourly: Option<usize>,

    /// Keep the newest full of each of the newest N days (UTC) that have one
    #[arg(long, value_name = "N")]
    pub daily: Option<usize>,

    /// Keep the newest full of each of the newest N weeks (UTC, from Monday) that have one
    #[arg(long, value_name = "N")]
    pub weekly: Option<usize>,
}

impl RetentionArgs {
    pub fn policy(&self) -> ::backup::retention::Policy {
        ::backup::retention::Policy {
            keep_last: self.keep_last.unwrap_or(0),
            hourly: self.hourly.unwrap_or(0),
            daily: self.daily.unwrap_or(0),
            weekly: self.weekly.unwrap_or(0),
        }
    }
}
