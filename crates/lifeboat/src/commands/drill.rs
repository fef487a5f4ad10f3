//! `lifeboat drill`: rehearse a disaster on a throwaway local cluster and judge the outcome.
//!
//! Scenario `lost-quorum`: a healthy TLS cluster with Kubernetes-shaped data, a majority of
//! members lost for good (process and disk), detection by `status`, then the recovery: fence,
//! back up, force a new cluster on the freshest survivor, re-add the others as learners, promote,
//! verify. The verdict is `pass` only when no acknowledged key is lost and every member is back.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::{Args, ValueEnum};
use std::collections::BTreeMap;

use ops::local::{LocalCluster, LocalClusterSpec};
use ops::recover::{LocalExecutor, Plan, StepTiming, recover_local};
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
    keys_after: usize,
    /// Acknowledged keys missing or changed after the recovery.
    lost: usize,
    steps: Vec<Step>,
    status_before: ClusterStatus,
    status_after: ClusterStatus,
    detected: Vec<&'static str>,
    plan: Option<Plan>,
    status_final: Option<ClusterStatus>,
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

struct Timeline {
    started: Instant,
    steps: Vec<Step>,
    loud: bool,
}

impl Timeline {
    fn record(&mut self, name: &str, seconds: f64) {
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

    fn since(&mut self, name: &str, t: Instant) {
        self.record(name, t.elapsed().as_secs_f64());
    }
}

async fn rehearse(ctx: &Context, args: &DrillArgs, lose: usize) -> anyhow::Result<DrillReport> {
    let mut tl = Timeline {
        started: Instant::now(),
        steps: Vec::new(),
        loud: ctx.format == Format::Table,
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
    let kind = if args.tls { "TLS" } else { "plain-http" };
    tl.since(
        &format!(
            "start {}-member {kind} cluster in {}",
            args.members,
            cluster.dir().display()
        ),
        t,
    );

    let t = Instant::now();
    let acked = write_kubernetes_keys(&cluster, args.keys).await?;
    wait_in_sync(&cluster).await?;
    tl.since(
        &format!(
            "write {} Kubernetes-shaped objects under /registry/ ({} distinct keys, all acknowledged)",
            args.keys,
            acked.len()
        ),
        t,
    );

    let t = Instant::now();
    let before = observe(&cluster).await?;
    tl.since("status before the disaster", t);

    let t = Instant::now();
    let mut lost_members = Vec::new();
    for i in (args.members - lose)..args.members {
        lost_members.push(cluster.members()[i].name.clone());
        cluster.kill(i);
        // Lost for good: the disk is gone too.
        let dir = cluster.members()[i].data_dir.clone();
        if dir.exists() {
            std::fs::rename(&dir, dir.with_extension("lost")).context("simulating a lost disk")?;
        }
    }
    tl.since(
        &format!(
            "disaster: {lose} of {} members lost for good ({})",
            args.members,
            lost_members.join(", ")
        ),
        t,
    );

    let t = Instant::now();
    let after = observe(&cluster).await?;
    tl.since("detect: status after the disaster", t);
    let codes: Vec<&'static str> = after.findings.iter().map(|f| f.code).collect();
    let quorum_lost = lose > args.members / 2;
    let detected_ok = if quorum_lost {
        codes.contains(&"QUORUM_LOST") && codes.contains(&"NO_LEADER")
    } else {
        codes.contains(&"MEMBER_UNREACHABLE")
    };

    // Recover: fence, back up, force a new cluster on the freshest survivor, rejoin the others.
    let state_dir = cluster.dir().join("recover-state");
    let loud = tl.loud;
    let started = tl.started;
    let mut recovery_steps: Vec<Step> = Vec::new();
    let outcome = {
        let mut exec = LocalExecutor {
            cluster: &mut cluster,
        };
        let mut on_step = |s: &StepTiming| {
            if loud {
                output::note(&format!(
                    "[{:>6.1}s] recover: {} ({:.2}s)",
                    started.elapsed().as_secs_f64(),
                    s.name,
                    s.seconds
                ));
            }
            recovery_steps.push(Step {
                name: format!("recover: {}", s.name),
                seconds: s.seconds,
            });
        };
        recover_local(&mut exec, &state_dir, &mut on_step).await
    };
    tl.steps.extend(recovery_steps);

    let (plan, final_status, keys_after, lost, recovery_error) = match outcome {
        Ok((plan, report)) => {
            let t = Instant::now();
            let found = read_registry(&cluster).await?;
            let lost = acked
                .iter()
                .filter(|(k, v)| found.get(*k) != Some(*v))
                .count();
            tl.since("count acknowledged keys after recovery", t);
            (
                Some(plan),
                Some(report.final_status),
                found.len(),
                lost,
                None,
            )
        }
        Err(e) => (None, None, 0, acked.len(), Some(e.to_string())),
    };

    let all_back = final_status
        .as_ref()
        .is_some_and(|s| s.members.len() == args.members && s.verdict() == Verdict::Healthy);
    let (verdict, reason) = if before.verdict() != Verdict::Healthy {
        (
            "fail",
            "the cluster was not healthy before the disaster".to_string(),
        )
    } else if !detected_ok {
        (
            "fail",
            format!("status did not diagnose the disaster: {codes:?}"),
        )
    } else if let Some(e) = recovery_error {
        ("fail", format!("recovery failed: {e}"))
    } else if lost > 0 {
        (
            "fail",
            format!("{lost} acknowledged keys missing or changed after recovery"),
        )
    } else if !all_back {
        (
            "fail",
            "the recovered cluster is not healthy with all members".to_string(),
        )
    } else {
        (
            "pass",
            format!(
                "diagnosed {codes:?}, recovered all {} members, no acknowledged key lost",
                args.members
            ),
        )
    };

    let t = Instant::now();
    let dir = cluster.dir().display().to_string();
    drop(cluster);
    tl.since(&format!("clean up (stop members, remove {dir})"), t);

    Ok(DrillReport {
        scenario: args.scenario,
        members: args.members,
        lost_members,
        tls: args.tls,
        keys_before: acked.len(),
        keys_after,
        lost,
        steps: tl.steps,
        status_before: before,
        status_after: after,
        detected: codes,
        plan,
        status_final: final_status,
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

/// Waits until every member has applied the same raft index: the steady state a real cluster is
/// in between writes, and the one the verdict is fair in (a majority loss can drop writes that
/// only the lost members held).
async fn wait_in_sync(cluster: &LocalCluster) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let st = observe(cluster).await?;
        let applied: Vec<Option<u64>> = st.endpoints.iter().map(|e| e.raft_applied_index).collect();
        if applied.iter().all(|a| a.is_some() && *a == applied[0]) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("members did not converge on one applied index: {applied:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn read_registry(cluster: &LocalCluster) -> anyhow::Result<BTreeMap<String, String>> {
    let settings = cluster.settings_for(&[0]);
    let tls = settings.validate()?;
    let ep = settings
        .endpoints
        .first()
        .context("the cluster has no member")?;
    let mut client = ops::client::connect(ep, tls.as_ref(), &settings)
        .await?
        .client;
    Ok(ops::kv::read_prefix(&mut client, "/registry/").await?)
}

/// Namespaces, config maps and pods the way their keys look in a real cluster's etcd.
async fn write_kubernetes_keys(
    cluster: &LocalCluster,
    count: usize,
) -> anyhow::Result<BTreeMap<String, String>> {
    let settings = cluster.settings_for(&[0]);
    let tls = settings.validate()?;
    let ep = settings
        .endpoints
        .first()
        .context("the cluster has no member")?;
    let mut client = ops::client::connect(ep, tls.as_ref(), &settings)
        .await?
        .client;
    let mut acked = BTreeMap::new();
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
            .put(key.clone(), value.clone(), None)
            .await
            .context("writing drill data")?;
        acked.insert(key, value);
    }
    Ok(acked)
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
    if let Some(p) = &r.plan {
        out.push_str(&format!(
            "\nRECOVERY PLAN  seed {}: {}\n",
            p.seed, p.seed_reason
        ));
        for w in &p.warnings {
            out.push_str(&format!("  warning: {w}\n"));
        }
    }
    if let Some(f) = &r.status_final {
        out.push_str("\nAFTER RECOVERY\n");
        out.push_str(&super::status::render(f, None));
    }
    out.push_str(&format!(
        "\nKEYS  {} acknowledged before, {} after, {} lost\n",
        r.keys_before, r.keys_after, r.lost
    ));
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
