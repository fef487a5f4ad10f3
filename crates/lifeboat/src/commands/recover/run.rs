//! `lifeboat recover run`: a whole lost-quorum recovery of a local cluster (members are etcd
//! processes on this machine, described by `lifeboat-cluster.json` in the cluster's root dir,
//! as `lifeboat drill --keep` and the test kit write it). lifeboat stops and starts etcd itself.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;
use ops::OpsError;
use ops::local::LocalCluster;
use ops::recover::{
    Executor, Journal, LocalExecutor, LocalRecoverOptions, Plan, RunReport, StepTiming, plan_local,
    recover_local_with,
};
use ops::status::{DiagnoseOptions, diagnose, gather};
use serde::Serialize;

use crate::confirm::{DryRunArg, YesArg};
use crate::context::Context;
use crate::exit::Exit;
use crate::flags::StrategyArg;
use crate::output::{self, Format};

#[derive(Debug, Clone, Args)]
#[command(mut_arg("dry_run", |a| a.help("Show the plan and which steps are done, change nothing")))]
pub struct RunArgs {
    /// Root dir of the local cluster (holds lifeboat-cluster.json and the members' pid files)
    #[arg(long, value_name = "DIR")]
    pub local_root: PathBuf,

    /// Journal of the recovery; rerun with the same dir to resume [default: DIR/recover-state]
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Run this plan (`lifeboat recover plan -o json`, or a plan saved in a state dir) instead
    /// of planning from the fenced data dirs
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,

    /// How a new plan brings the members back
    #[arg(long, value_enum, default_value_t = StrategyArg::Rejoin)]
    pub strategy: StrategyArg,

    #[command(flatten)]
    pub dry_run: DryRunArg,

    /// Skip the split-brain guard (only if what still answers on a member's port is not etcd)
    #[arg(long)]
    pub i_have_fenced: bool,

    /// Recover even though the cluster has quorum and a leader (you almost certainly do not want this)
    #[arg(long)]
    pub force: bool,

    #[command(flatten)]
    pub yes: YesArg,
}

#[derive(Serialize)]
struct RunOutput<'a> {
    local_root: &'a Path,
    plan: &'a Plan,
    steps: &'a [StepTiming],
    seconds: f64,
    members: Vec<String>,
    revision: i64,
    hash_kv: u32,
    final_status: &'a ops::status::ClusterStatus,
}

#[derive(Serialize)]
struct DryRunOutput<'a> {
    dry_run: bool,
    local_root: &'a Path,
    state_dir: &'a Path,
    /// True when the state dir holds an interrupted recovery that a run would resume.
    resuming: bool,
    plan: &'a Plan,
    steps: Vec<DryStep>,
}

#[derive(Serialize)]
struct DryStep {
    number: usize,
    what: String,
    done: bool,
}

pub fn run(ctx: &Context, args: &RunArgs) -> anyhow::Result<Exit> {
    let mut cluster = LocalCluster::open(&args.local_root)
        .with_context(|| format!("opening the local cluster in {}", args.local_root.display()))?;
    let state_dir = args
        .state_dir
        .clone()
        .unwrap_or_else(|| args.local_root.join("recover-state"));
    let given = args.plan.as_deref().map(read_plan).transpose()?;
    let saved = Journal::peek(&state_dir)?;
    let rt = crate::runtime::runtime()?;

    if args.dry_run.on {
        return dry_run(ctx, args, &mut cluster, &state_dir, given, saved);
    }
    // A fresh recovery of a cluster that still works would throw its membership away; a
    // resumed one finds quorum mid-way by design.
    if saved.is_none() && !args.force {
        let settings = cluster.settings();
        let tls = settings.validate()?;
        let st = diagnose(
            &rt.block_on(gather(&settings, tls.as_ref(), false)),
            &DiagnoseOptions::default(),
        );
        if st.quorum.has_quorum && st.quorum.leader_id.is_some() {
            anyhow::bail!(
                "the cluster in {} has quorum and a leader: force-new-cluster is not the tool. \
                 Replace broken members with `lifeboat member replace`, or pass --force",
                args.local_root.display()
            );
        }
    }
    args.yes.confirm(&format!(
        "Recover the local cluster in {}: stop every member and rebuild the cluster from \
             the freshest one's data (old data dirs are moved aside, never deleted)",
        args.local_root.display()
    ))?;

    let loud = ctx.format == Format::Table;
    let started = std::time::Instant::now();
    let mut on_step = |s: &StepTiming| {
        if loud {
            let how = if s.ran {
                format!("{:.2}s", s.seconds)
            } else {
                "done before".into()
            };
            output::note(&format!("recover: {} ({how})", s.name));
        }
    };
    let opts = LocalRecoverOptions {
        plan: given,
        i_have_fenced: args.i_have_fenced,
        strategy: args.strategy.into(),
    };
    let mut exec = LocalExecutor {
        cluster: &mut cluster,
    };
    let outcome = rt.block_on(recover_local_with(
        &mut exec,
        &state_dir,
        &opts,
        &mut on_step,
    ));
    let (plan, report) = match outcome {
        Ok(done) => done,
        // Refused before acting (a guard, a plan that does not fit): nothing to resume.
        Err(e @ OpsError::Config(_)) => return Err(e.into()),
        Err(e) => {
            output::note(&format!(
                "lifeboat: recovery stopped: {e}\n  The journal is in {}: fix the cause and run \
                 the same command again to resume (finished steps are skipped). Member logs are \
                 in {}.",
                state_dir.display(),
                args.local_root.display()
            ));
            return Ok(Exit::Critical);
        }
    };
    let out = RunOutput {
        local_root: &args.local_root,
        plan: &plan,
        steps: &report.steps,
        seconds: (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
        members: report
            .final_status
            .members
            .iter()
            .map(|m| m.name.clone())
            .collect(),
        revision: report.revision,
        hash_kv: report.hash_kv,
        final_status: &report.final_status,
    };
    match ctx.format {
        Format::Json => output::print_json(&out),
        Format::Table => output::print(&render(&out, &report)),
    }
    Ok(Exit::Ok)
}

fn dry_run(
    ctx: &Context,
    args: &RunArgs,
    cluster: &mut LocalCluster,
    state_dir: &Path,
    given: Option<Plan>,
    saved: Option<(Plan, std::collections::BTreeSet<usize>)>,
) -> anyhow::Result<Exit> {
    let exec = LocalExecutor { cluster };
    let resuming = saved.is_some();
    let (mut plan, done) = match (saved, given) {
        (Some((p, done)), _) => (p, done),
        (None, Some(p)) => (p, Default::default()),
        (None, None) => (plan_local(&exec, args.strategy.into())?, Default::default()),
    };
    if !resuming {
        let running: Vec<String> = exec
            .members()
            .into_iter()
            .filter(|m| exec.is_running(m))
            .collect();
        if !running.is_empty() {
            plan.warnings.push(format!(
                "{} still run{}: their data dirs were read live; the real run reads them again \
                 after stopping them, so the seed may differ",
                running.join(", "),
                if running.len() == 1 { "s" } else { "" }
            ));
        }
    }
    let steps: Vec<DryStep> = plan
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| DryStep {
            number: i + 1,
            what: s.describe(),
            done: done.contains(&i),
        })
        .collect();
    let out = DryRunOutput {
        dry_run: true,
        local_root: &args.local_root,
        state_dir,
        resuming,
        plan: &plan,
        steps,
    };
    match ctx.format {
        Format::Json => output::print_json(&out),
        Format::Table => {
            let mut s = format!("SEED  {}: {}\n", plan.seed, plan.seed_reason);
            for w in &plan.warnings {
                s.push_str(&format!("WARNING  {w}\n"));
            }
            if resuming {
                s.push_str(&format!(
                    "An interrupted recovery is journaled in {}; a run resumes it.\n",
                    state_dir.display()
                ));
            }
            let mut t = output::table(&["#", "STEP", "STATE"]);
            for st in &out.steps {
                t.add_row(vec![
                    st.number.to_string(),
                    st.what.clone(),
                    if st.done { "done" } else { "to do" }.to_string(),
                ]);
            }
            s.push_str(&format!("{t}\nDry run: nothing was changed.\n"));
            output::print(&s);
        }
    }
    Ok(Exit::Ok)
}

/// A plan file: the output of `recover plan -o json` (the plan under `plan`), or a bare plan.
fn read_plan(path: &Path) -> anyhow::Result<Plan> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let inner = value.get("plan").cloned().unwrap_or(value);
    serde_json::from_value(inner).with_context(|| {
        format!(
            "{} is not a recovery plan (from `lifeboat recover plan -o json`)",
            path.display()
        )
    })
}

fn render(out: &RunOutput<'_>, report: &RunReport) -> String {
    let mut s = format!("SEED  {}: {}\n", out.plan.seed, out.plan.seed_reason);
    for w in &out.plan.warnings {
        s.push_str(&format!("WARNING  {w}\n"));
    }
    let mut t = output::table(&["STEP", "SECONDS"]);
    for st in &report.steps {
        let secs = if st.ran {
            format!("{:.2}", st.seconds)
        } else {
            "done before".into()
        };
        t.add_row(vec![st.name.clone(), secs]);
    }
    t.add_row(vec!["total".to_string(), format!("{:.2}", out.seconds)]);
    s.push_str(&format!(
        "{t}\nRECOVERED  {} members ({}) agree on the membership and on hash_kv {} at revision {}\n",
        out.members.len(),
        out.members.join(", "),
        out.hash_kv,
        out.revision
    ));
    s
}
