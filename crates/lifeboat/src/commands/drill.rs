//! `lifeboat drill`: rehearse a disaster on a throwaway local cluster and judge the outcome.
//!
//! Scenario `lost-quorum` today rehearses detection: a healthy TLS cluster with
//! Kubernetes-shaped data, then a majority of members killed, then the diagnosis `status` gives.
//! The recovery half joins when `lifeboat recover` lands.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::{Args, ValueEnum};
use ops::local::{LocalCluster, LocalClusterSpec};
use ops::status::{ClusterStatus, DiagnoseOptions, Verdict, diagnose, gather};
use serde::Serialize;

use crate::cli::Context;
use crate::exit::Exit;
use crate::output::{self, Format};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// A majority of members lost for good
    LostQuorum,
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

    /// How many Kubernetes-shaped keys to write before the disaster
    #[arg(long, default_value_t = 1000)]
    pub keys: usize,
}

fn cluster_size(s: &str) -> Result<usize, String> {
    match s {
        "3" | "5" | "7" => s.parse().map_err(|e| format!("{e}")),
        _ => Err("a drill cluster has 3, 5 or 7 members".into()),
    }
}

#[derive(Debug, Serialize)]
struct Step {
    name: String,
    seconds: f64,
}

#[derive(Debug, Serialize)]
struct DrillReport {
    scenario: Scenario,
    members: usize,
    lost_members: Vec<String>,
    tls: bool,
    keys_before: usize,
    steps: Vec<Step>,
    status_before: ClusterStatus,
    status_after: ClusterStatus,
    detected: Vec<&'static str>,
    verdict: &'static str,
    verdict_reason: String,
}

pub fn run(ctx: &Context, args: &DrillArgs) -> anyhow::Result<Exit> {
    let lose = args.lose.unwrap_or(args.members / 2 + 1);
    if lose == 0 || lose >= args.members {
        bail!(
            "--lose must be between 1 and {} for a {}-member cluster",
            args.members - 1,
            args.members
        );
    }
    let report = super::runtime()?.block_on(rehearse(ctx, args, lose))?;
    match ctx.format {
        Format::Json => output::print_json(&report),
        Format::Table => output::print(&render(&report)),
    }
    Ok(if report.verdict == "pass" {
        Exit::Ok
    } else {
        Exit::Critical
    })
}

async fn rehearse(ctx: &Context, args: &DrillArgs, lose: usize) -> anyhow::Result<DrillReport> {
    let started = Instant::now();
    let mut steps = Vec::new();
    let mut step = |name: &str, since: Instant| {
        let seconds = since.elapsed().as_secs_f64();
        if ctx.format == Format::Table {
            output::note(&format!(
                "[{:>6.1}s] {name} ({seconds:.2}s)",
                started.elapsed().as_secs_f64()
            ));
        }
        steps.push(Step {
            name: name.to_string(),
            seconds: (seconds * 1000.0).round() / 1000.0,
        });
    };

    let t = Instant::now();
    let mut cluster = LocalCluster::start(LocalClusterSpec {
        members: args.members,
        tls: args.tls,
        token: "lifeboat-drill".into(),
        ..LocalClusterSpec::default()
    })?;
    cluster
        .wait_healthy(Duration::from_secs(60))
        .await
        .context("the throwaway cluster did not become healthy")?;
    step(
        &format!(
            "start {}-member {} cluster in {}",
            args.members,
            if args.tls { "TLS" } else { "plain-http" },
            cluster.dir().display()
        ),
        t,
    );

    let t = Instant::now();
    let written = write_kubernetes_keys(&cluster, args.keys).await?;
    step(
        &format!("write {written} Kubernetes-shaped keys under /registry/"),
        t,
    );

    let t = Instant::now();
    let before = observe(&cluster).await?;
    step("status before the disaster", t);

    let t = Instant::now();
    let mut lost = Vec::new();
    for i in (args.members - lose)..args.members {
        lost.push(cluster.members()[i].name.clone());
        cluster.kill(i);
    }
    step(
        &format!(
            "disaster: kill {} of {} members ({})",
            lose,
            args.members,
            lost.join(", ")
        ),
        t,
    );

    let t = Instant::now();
    let after = observe(&cluster).await?;
    step("status after the disaster", t);

    let codes: Vec<&'static str> = after.findings.iter().map(|f| f.code).collect();
    let quorum_lost = lose > args.members / 2;
    let (verdict, reason) = if before.verdict() != Verdict::Healthy {
        (
            "fail",
            "the cluster was not healthy before the disaster".to_string(),
        )
    } else if quorum_lost && !(codes.contains(&"QUORUM_LOST") && codes.contains(&"NO_LEADER")) {
        (
            "fail",
            format!("quorum was lost but status reported {codes:?}"),
        )
    } else if !quorum_lost && !codes.contains(&"MEMBER_UNREACHABLE") {
        (
            "fail",
            format!("members were lost but status reported {codes:?}"),
        )
    } else {
        (
            "pass",
            "status detected the disaster and named the fix".to_string(),
        )
    };

    let t = Instant::now();
    let dir = cluster.dir().display().to_string();
    drop(cluster);
    step(&format!("clean up (stop members, remove {dir})"), t);

    Ok(DrillReport {
        scenario: args.scenario,
        members: args.members,
        lost_members: lost,
        tls: args.tls,
        keys_before: written,
        steps,
        status_before: before,
        status_after: after,
        detected: codes,
        verdict,
        verdict_reason: reason,
    })
}

async fn observe(cluster: &LocalCluster) -> anyhow::Result<ClusterStatus> {
    let settings = cluster.settings();
    let tls = settings.validate()?;
    let obs = gather(&settings, tls.as_ref(), true).await;
    Ok(diagnose(&obs, &DiagnoseOptions::default()))
}

/// Namespaces, config maps and pods the way their keys look in a real cluster's etcd.
async fn write_kubernetes_keys(cluster: &LocalCluster, count: usize) -> anyhow::Result<usize> {
    let settings = cluster.settings_for(&[0]);
    let tls = settings.validate()?;
    let ep = settings
        .endpoints
        .first()
        .context("the cluster has no member")?;
    let mut client = ops::client::connect(ep, tls.as_ref(), &settings)
        .await?
        .client;
    for i in 0..count {
        let ns = format!("team-{}", i % 10);
        let (key, value) = match i % 3 {
            0 => (
                format!("/registry/configmaps/{ns}/config-{i:06}"),
                format!(
                    r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"config-{i:06}","namespace":"{ns}"}},"data":{{"n":"{i}"}}}}"#
                ),
            ),
            1 => (
                format!("/registry/pods/{ns}/app-{i:06}"),
                format!(
                    r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"app-{i:06}","namespace":"{ns}","labels":{{"app":"a{}"}}}}}}"#,
                    i % 7
                ),
            ),
            _ => (
                format!("/registry/namespaces/{ns}"),
                format!(r#"{{"apiVersion":"v1","kind":"Namespace","metadata":{{"name":"{ns}"}}}}"#),
            ),
        };
        client
            .put(key, value, None)
            .await
            .context("writing drill data")?;
    }
    Ok(count)
}

fn render(r: &DrillReport) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "DRILL {:?}: {} members, {} lost\n\n",
        r.scenario,
        r.members,
        r.lost_members.len()
    ));
    out.push_str("BEFORE THE DISASTER\n");
    out.push_str(&super::status::render(&r.status_before, None));
    out.push_str(&format!("\nAFTER LOSING {}\n", r.lost_members.join(", ")));
    out.push_str(&super::status::render(&r.status_after, None));
    let mut t = output::table(&["STEP", "SECONDS"]);
    for s in &r.steps {
        t.add_row(vec![s.name.clone(), format!("{:.2}", s.seconds)]);
    }
    out.push_str(&format!(
        "\nTIMELINE\n{t}\n\nVERDICT  {}: {}\n",
        r.verdict.to_uppercase(),
        r.verdict_reason
    ));
    out
}
