//! `lifeboat recover plan`: evidence from every survivor, the seed with the reason, the steps,
//! and the commands to run on each node. Changes nothing.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use ops::recover::{
    MemberSpec, Plan, RunbookStep, SurvivorEvidence, from_rank_input, plan, runbook,
};
use ops::status::{DiagnoseOptions, diagnose, gather};
use serde::Serialize;

use crate::cli::Context;
use crate::exit::Exit;
use crate::output::{self, Format};

#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    /// A member data dir on this machine to read (repeat for several)
    #[arg(long = "data-dir", value_name = "DIR")]
    pub data_dirs: Vec<PathBuf>,

    /// A `lifeboat datadir inspect -o json` report made on another node (repeat for several)
    #[arg(long = "datadir-report", value_name = "FILE")]
    pub reports: Vec<PathBuf>,

    /// The data dir path on the nodes, for the printed commands
    #[arg(long, default_value = "/var/lib/etcd")]
    pub node_data_dir: String,

    /// Plan even though the cluster still has quorum (you almost certainly do not want this)
    #[arg(long)]
    pub force: bool,
}

#[derive(Serialize)]
struct PlanOutput {
    members: Vec<MemberSpec>,
    still_answering: Vec<String>,
    plan: Plan,
    runbook: Vec<RunbookStep>,
}

pub fn run(ctx: &Context, args: &PlanArgs) -> anyhow::Result<Exit> {
    let settings = ctx.connection.resolve()?;
    let tls = settings.validate()?;
    let status = diagnose(
        &crate::commands::runtime()?.block_on(gather(&settings, tls.as_ref(), false)),
        &DiagnoseOptions::default(),
    );
    if status.quorum.has_quorum && status.quorum.leader_id.is_some() && !args.force {
        anyhow::bail!(
            "the cluster has quorum and a leader: force-new-cluster is not the tool. Replace broken \
             members with `lifeboat member replace`, or pass --force to plan anyway"
        );
    }

    // Names and peer URLs: from a live member list, else from the data dirs' own membership.
    let mut ids: BTreeMap<String, MemberSpec> = status
        .members
        .iter()
        .map(|m| {
            (
                m.id.clone(),
                MemberSpec {
                    name: m.name.clone(),
                    peer_urls: m.peer_urls.clone(),
                },
            )
        })
        .collect();
    let mut evidence: Vec<SurvivorEvidence> = Vec::new();
    let mut inputs = Vec::new();
    for dir in &args.data_dirs {
        let report = store::datadir::inspect(dir)
            .with_context(|| format!("reading data dir {}", dir.display()))?;
        if let Some(db) = &report.db {
            for m in &db.members {
                ids.entry(m.id.clone()).or_insert(MemberSpec {
                    name: m.name.clone(),
                    peer_urls: m.peer_urls.clone(),
                });
            }
        }
        let mut input = report.rank_input();
        input.dir = dir.display().to_string();
        inputs.push((format!("data dir {}", dir.display()), input));
    }
    for file in &args.reports {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let value: serde_json::Value = serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not JSON from `lifeboat datadir inspect -o json`",
                file.display()
            )
        })?;
        for m in value["db"]["members"].as_array().into_iter().flatten() {
            if let (Some(id), Some(name)) = (m["id"].as_str(), m["name"].as_str()) {
                let peers = m["peer_urls"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|u| u.as_str().map(String::from))
                    .collect();
                ids.entry(normalise(id)).or_insert(MemberSpec {
                    name: name.to_string(),
                    peer_urls: peers,
                });
            }
        }
        let input: store::datadir::RankInput = serde_json::from_value(value)
            .with_context(|| format!("{} is not a datadir report", file.display()))?;
        inputs.push((format!("report {}", file.display()), input));
    }
    for (source, input) in &inputs {
        let id = input
            .member_id
            .as_deref()
            .map(normalise)
            .unwrap_or_default();
        let name = ids
            .get(&id)
            .map(|m| m.name.clone())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| id.clone());
        let mut e = from_rank_input(&name, input);
        e.source = source.clone();
        evidence.push(e);
    }
    // Members that still answer, with no files read: their Status is the evidence (raft_index is
    // the committed index a member knows).
    for ep in status.endpoints.iter().filter(|e| e.reachable) {
        let Some(id) = &ep.member_id else { continue };
        let Some(m) = ids.get(id) else { continue };
        if evidence.iter().any(|e| e.name == m.name) {
            continue;
        }
        evidence.push(SurvivorEvidence {
            name: m.name.clone(),
            committed: ep.raft_index.unwrap_or(0),
            last_term: ep.raft_term.unwrap_or(0),
            last_index: ep.raft_index.unwrap_or(0),
            revision: None,
            source: format!("live status of {}", ep.endpoint),
            db_has_all_committed: false,
        });
    }
    let members: Vec<MemberSpec> = ids.into_values().filter(|m| !m.name.is_empty()).collect();
    let mut the_plan = plan(&members, &evidence)?;
    let still_answering: Vec<String> = status
        .members
        .iter()
        .filter(|m| m.reachable)
        .map(|m| m.name.clone())
        .collect();
    if !still_answering.is_empty() {
        the_plan.warnings.push(format!(
            "{} still answer{}: fence them (step 1) before forcing a new cluster, or two clusters will diverge",
            still_answering.join(", "),
            if still_answering.len() == 1 { "s" } else { "" }
        ));
    }
    let book = runbook(&the_plan, &members, &args.node_data_dir);
    let out = PlanOutput {
        members,
        still_answering,
        plan: the_plan,
        runbook: book,
    };
    match ctx.format {
        Format::Json => output::print_json(&out),
        Format::Table => output::print(&render(&out)),
    }
    Ok(Exit::Ok)
}

/// IDs arrive with or without leading zeros; compare them as etcdctl prints them.
fn normalise(id: &str) -> String {
    ops::ids::parse_hex_id(id)
        .map(ops::ids::hex_id)
        .unwrap_or_else(|| id.to_string())
}

fn render(out: &PlanOutput) -> String {
    let p = &out.plan;
    let mut s = format!("SEED  {}: {}\n", p.seed, p.seed_reason);
    let mut t = output::table(&[
        "MEMBER",
        "COMMITTED",
        "LAST TERM",
        "LAST INDEX",
        "REVISION",
        "EVIDENCE",
    ]);
    for e in &p.evidence {
        t.add_row(vec![
            e.name.clone(),
            e.committed.to_string(),
            e.last_term.to_string(),
            e.last_index.to_string(),
            e.revision
                .map(|r| r.to_string())
                .unwrap_or_else(|| "-".into()),
            e.source.clone(),
        ]);
    }
    s.push_str(&format!("{t}\n"));
    for w in &p.warnings {
        s.push_str(&format!("WARNING  {w}\n"));
    }
    s.push_str("\nRUNBOOK (nothing has been changed)\n");
    for step in &out.runbook {
        s.push_str(&format!(
            "\n{:>2}. {}   [on {}]\n",
            step.number, step.what, step.node
        ));
        for c in &step.commands {
            s.push_str(&format!("      {c}\n"));
        }
    }
    s
}
