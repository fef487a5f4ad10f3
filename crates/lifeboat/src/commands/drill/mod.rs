//! `lifeboat drill`: rehearse a disaster on a throwaway local cluster and judge the outcome.
//!
//! Scenario `lost-quorum`: a healthy TLS cluster with Kubernetes-shaped data, a majority of
//! members lost for good (process and disk), detection by `status`, then the recovery: fence,
//! back up, force a new cluster on the freshest survivor, re-add the others as learners, promote,
//! verify. The verdict is `pass` only when no acknowledged key is lost and every member is back.
//! `--strategy rebuild` restores every member from the seed's db instead; `--keep` stops after
//! the disaster and leaves the broken cluster for `lifeboat recover run --local-root DIR`.

//!
//! # Layout
//! - `lost_quorum.rs`, `stale_member.rs`, `restore.rs`, `policy_lockout.rs`: one file per
//!   scenario: the disaster and the way out.
//! - `cluster.rs`: the throwaway cluster, its Kubernetes-shaped data, observation.
//! - `floor.rs`: the recovery's floor, measured after a rebuild (which has no step showing it).
//! - `render.rs`: the people's view of a report.

mod cluster;
mod floor;
mod lost_quorum;
mod policy_lockout;
mod render;
mod restore;
mod stale_member;
mod total_loss;

use std::time::Instant;

use clap::{Args, ValueEnum};
use ops::recover::Plan;
use ops::status::ClusterStatus;
use serde::Serialize;

use crate::cli::Context;
pub use crate::commands::recover::run::StrategyArg;
use crate::exit::Exit;
use crate::output::{self, Format};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// A majority of members lost for good (process and disk)
    LostQuorum,
    /// A node replaced by adding first: a never-started voter, then one more member down
    StaleMember,
    /// Every member and disk lost: the cluster rebuilt from one backup by native restore
    Restore,
    /// The field incident: a CCNP puts every node into default deny and cuts etcd; predicted
    /// from etcd, enforced with nftables in per-node network namespaces, recovered, removed
    PolicyLockout,
    /// Every member and disk lost under a steady write load; rebuilt from the continuous
    /// backup (a `lifeboat agent` shipping fulls and the delta log); RPO and RTO measured
    TotalLoss,
}

#[derive(Debug, Clone, Args)]
pub struct DrillArgs {
    /// Which disaster to rehearse
    #[arg(long, value_enum, default_value_t = Scenario::LostQuorum)]
    pub scenario: Scenario,

    /// Cluster size (3, 5 or 7)
    #[arg(long, default_value_t = 3, value_parser = cluster_size)]
    pub members: usize,

    /// How many members are lost (default: a majority)
    #[arg(long)]
    pub lose: Option<usize>,

    /// Mutual TLS between members and clients (`--tls false` for plain http on loopback)
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub tls: bool,

    /// How many Kubernetes-shaped objects to write before the disaster
    #[arg(long, default_value_t = 1000)]
    pub keys: usize,

    /// Instead of --keys: write about this much data (e.g. 64MiB, 1GiB), in 4 KiB objects
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub size: Option<u64>,

    /// lost-quorum: stop after the disaster and leave the broken cluster (survivors running,
    /// dirs in place), printing how to recover it with `lifeboat recover run`
    #[arg(long)]
    pub keep: bool,

    /// lost-quorum: how the recovery brings the members back
    #[arg(long, value_enum, default_value_t = StrategyArg::Rejoin)]
    pub strategy: StrategyArg,

    /// total-loss: acknowledged puts per second the writers aim at while the agent backs up
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub write_rate: u32,

    /// total-loss: seconds of steady load once the agent ships, before everything is killed
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub load_seconds: u64,
}

impl DrillArgs {
    /// (objects, padding bytes per object) for the data the drill writes.
    fn workload(&self) -> (usize, usize) {
        const PAD: usize = 4096;
        match self.size {
            // Two of three objects carry the padding; namespaces are small.
            Some(bytes) => (((bytes as usize) * 3 / (PAD * 2)).max(1), PAD),
            None => (self.keys, 0),
        }
    }
}

/// `1048576`, `64MiB`, `1GiB`, `500MB`.
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a size like 64MiB"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "kib" | "k" => 1 << 10,
        "mb" => 1_000_000,
        "mib" | "m" => 1 << 20,
        "gb" => 1_000_000_000,
        "gib" | "g" => 1 << 30,
        other => {
            return Err(format!(
                "unknown size unit '{other}' (use B, KiB, MiB, GiB)"
            ));
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("'{s}' is too large"))
}

fn cluster_size(s: &str) -> Result<usize, String> {
    match s {
        "3" | "5" | "7" => s.parse().map_err(|e| format!("{e}")),
        _ => Err("a drill cluster has 3, 5 or 7 members".into()),
    }
}

#[derive(Debug, Serialize)]
pub(super) struct Step {
    pub(super) name: String,
    pub(super) seconds: f64,
}

/// The recovery's wall time against the least any recovery needs, measured in the same run:
/// etcd starting on the seed's data, plus one fresh member receiving the database from the
/// leader (joining, catching up, promoted).
#[derive(Debug, Serialize)]
pub(super) struct RecoveryTiming {
    pub(super) recovery_seconds: f64,
    pub(super) seed_start_seconds: f64,
    pub(super) member_receive_seconds: f64,
    pub(super) floor_seconds: f64,
    /// recovery / floor
    pub(super) ratio: f64,
}

#[derive(Debug, Serialize)]
pub(super) struct DrillReport {
    pub(super) scenario: Scenario,
    pub(super) members: usize,
    pub(super) lost_members: Vec<String>,
    pub(super) tls: bool,
    pub(super) keys_before: usize,
    pub(super) keys_after: usize,
    /// Acknowledged keys missing or changed after the recovery.
    pub(super) lost: usize,
    pub(super) steps: Vec<Step>,
    pub(super) status_before: ClusterStatus,
    pub(super) status_after: ClusterStatus,
    pub(super) detected: Vec<&'static str>,
    pub(super) plan: Option<Plan>,
    pub(super) status_final: Option<ClusterStatus>,
    /// Recovery time against its floor (lost-quorum only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) recovery: Option<RecoveryTiming>,
    pub(super) verdict: &'static str,
    pub(super) verdict_reason: String,
    /// What the policy-lockout scenario predicted, enforced and removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) lockout: Option<policy_lockout::LockoutReport>,
    /// `--keep`: the root dir of the broken cluster left for `lifeboat recover run`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) kept: Option<String>,
    /// What the total-loss scenario wrote, lost and took to recover (RPO, RTO).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) total_loss: Option<total_loss::TotalLossReport>,
}

pub fn run(ctx: &Context, args: &DrillArgs) -> anyhow::Result<Exit> {
    let lose = args.lose.unwrap_or(args.members / 2 + 1);
    if lose == 0 || lose >= args.members {
        return Err(crate::exit::usage(format!(
            "--lose must be between 1 and {} for a {}-member cluster",
            args.members - 1,
            args.members
        )));
    }
    if args.keep && args.scenario != Scenario::LostQuorum {
        return Err(crate::exit::usage("--keep is for --scenario lost-quorum"));
    }
    let rt = super::runtime()?;
    let report = match args.scenario {
        Scenario::LostQuorum => rt.block_on(lost_quorum::rehearse(ctx, args, lose))?,
        Scenario::StaleMember => rt.block_on(stale_member::rehearse(ctx, args))?,
        Scenario::Restore => rt.block_on(restore::rehearse(ctx, args))?,
        Scenario::PolicyLockout => rt.block_on(policy_lockout::rehearse(ctx, args))?,
        Scenario::TotalLoss => rt.block_on(total_loss::rehearse(ctx, args))?,
    };
    match ctx.format {
        Format::Json => output::print_json(&report),
        Format::Table => output::print(&render::render(&report)),
    }
    Ok(if report.verdict == "pass" || report.verdict == "kept" {
        Exit::Ok
    } else {
        Exit::Critical
    })
}

pub(super) struct Timeline {
    pub(super) started: Instant,
    pub(super) steps: Vec<Step>,
    pub(super) loud: bool,
}

impl Timeline {
    pub(super) fn new(loud: bool) -> Timeline {
        Timeline {
            started: Instant::now(),
            steps: Vec::new(),
            loud,
        }
    }

    pub(super) fn record(&mut self, name: &str, seconds: f64) {
        if self.loud {
            output::note(&format!(
                "[{:>6.1}s] {name} ({seconds:.2}s)",
                self.started.elapsed().as_secs_f64()
            ));
        }
        self.steps.push(Step {
            name: name.to_string(),
            seconds: (seconds * 1000.0).round() / 1000.0,
        });
    }

    pub(super) fn since(&mut self, name: &str, t: Instant) {
        self.record(name, t.elapsed().as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_parse_like_operators_write_them() {
        assert_eq!(super::parse_size("1048576"), Ok(1 << 20));
        assert_eq!(super::parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(super::parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(super::parse_size("500MB"), Ok(500_000_000));
        assert!(super::parse_size("lots").is_err());
        assert!(super::parse_size("5PB").is_err());
    }
}
