//! `lifeboat drill`: rehearse a disaster on a throwaway local cluster and judge the outcome.
//!
//! Scenario `lost-quorum`: a healthy TLS cluster with Kubernetes-shaped data, a majority of
//! members lost for good (process and disk), detection by `status`, then the recovery: fence,
//! back up, force a new cluster on the freshest survivor, re-add the others as learners, promote,
//! verify. The verdict is `pass` only when no acknowledged key is lost and every member is back.
//! `--strategy rebuild` restores every member from the seed's db instead; `--keep` stops after
//! the disaster and leaves the broken cluster for `lifeboat recover run --local-root DIR`.

//!
//! The scenarios are the `lab` crate's; this file turns the flags into a `lab::DrillSpec`,
//! runs it, and prints the report (`render.rs`: the people's view).

mod render;

use std::sync::Arc;

use clap::{Args, ValueEnum};

use anyhow::Context as _;

use crate::context::Context;
use crate::exit::Exit;
use crate::flags::StrategyArg;
use crate::output::{self, Format};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
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

impl From<Scenario> for lab::Scenario {
    fn from(s: Scenario) -> lab::Scenario {
        match s {
            Scenario::LostQuorum => lab::Scenario::LostQuorum,
            Scenario::StaleMember => lab::Scenario::StaleMember,
            Scenario::Restore => lab::Scenario::Restore,
            Scenario::PolicyLockout => lab::Scenario::PolicyLockout,
            Scenario::TotalLoss => lab::Scenario::TotalLoss,
        }
    }
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
    let (objects, padding) = args.workload();
    let note: lab::Progress = Arc::new(|line: &str| output::note(line));
    let spec = lab::DrillSpec {
        scenario: args.scenario.into(),
        members: args.members,
        lose,
        tls: args.tls,
        objects,
        padding,
        keep: args.keep,
        strategy: args.strategy.into(),
        write_rate: args.write_rate,
        load_seconds: args.load_seconds,
        lifeboat: std::env::current_exe()
            .context("finding the lifeboat binary (the total-loss drill runs it as its agent)")?,
        progress: (ctx.format == Format::Table).then(|| Arc::clone(&note)),
        warnings: Some(note),
    };
    let report = crate::runtime::runtime()?.block_on(lab::rehearse(&spec))?;
    match ctx.format {
        Format::Json => output::print_json(&report),
        Format::Table => output::print(&render::render(&report)),
    }
    Ok(if report.passed() {
        Exit::Ok
    } else {
        Exit::Critical
    })
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
