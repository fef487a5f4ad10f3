//! `lifeboat recover plan`: evidence from every survivor, the seed with the reason, the steps,
//! and the commands to run on each node. Changes nothing.
//!
//! The plan says what it read and which members it never examined. A seed is only named when
//! every member gave evidence (a data dir, a report, or a live answer): one never examined may
//! hold committed entries the others lack, and forcing a new cluster without it loses them. On
//! partial evidence the runbook gathers what is missing instead, unless the operator says the
//! missing nodes are gone (`--accept-partial-evidence`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use ops::recover::{
    Coverage, MemberSpec, Plan, RunbookStep, SurvivorEvidence, coverage, from_live_status,
    from_rank_input, gathering, plan, runbook,
};
use ops::status::{ClusterStatus, DiagnoseOptions, diagnose, gather};
use serde::Serialize;
use store::datadir::RankInput;

use crate::context::Context;
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

    /// Name a seed although some members were never examined (their nodes are gone for good);
    /// without it, a plan on partial evidence only says how to gather the rest (exit 3)
    #[arg(long)]
    pub accept_partial_evidence: bool,
}

/// The JSON form is documented in `docs/json/status.md` (section `recover plan`).
#[derive(Serialize)]
struct PlanOutput {
    members: Vec<MemberSpec>,
    still_answering: Vec<String>,
    /// What was read, and which members were never examined.
    coverage: Coverage,
    /// Every survivor's evidence as read, whether or not a seed is named from it.
    evidence: Vec<SurvivorEvidence>,
    /// Absent when the evidence does not allow naming a seed.
    plan: Option<Plan>,
    /// The recovery steps, or, without a plan, the steps that gather the missing evidence.
    runbook: Vec<RunbookStep>,
}

pub fn run(ctx: &Context, args: &PlanArgs) -> anyhow::Result<Exit> {
    let settings = ctx.connection.resolve()?;
    let tls = settings.validate()?;
    let status = diagnose(
        &crate::runtime::runtime()?.block_on(gather(&settings, tls.as_ref(), false)),
        &DiagnoseOptions::default(),
    );
    ops::recover::refuse_unless_lost(&status, args.force)?;

    let mut ids = live_members(&status);
    let inputs = read_inputs(args, &mut ids)?;
    one_cluster(&status, &inputs)?;
    let evidence = evidence_of(&status, &ids, &inputs);
    let members: Vec<MemberSpec> = ids.into_values().filter(|m| !m.name.is_empty()).collect();
    let coverage = coverage(&members, &evidence);
    let still_answering: Vec<String> = status
        .members
        .iter()
        .filter(|m| m.reachable)
        .map(|m| m.name.clone())
        .collect();

    let may_plan = !evidence.is_empty() && (coverage.complete || args.accept_partial_evidence);
    let (the_plan, book, exit) = if may_plan {
        let mut p = plan(&members, &evidence)?.on_partial_evidence(&coverage.unexamined);
        p.warnings.extend(doubts(&inputs));
        warn_still_answering(&mut p, &still_answering);
        let book = runbook(&p, &members, &args.node_data_dir);
        let exit = if coverage.complete {
            Exit::Ok
        } else {
            Exit::Warning
        };
        (Some(p), book, exit)
    } else {
        let book = gathering(
            &coverage.unexamined,
            &members,
            &args.node_data_dir,
            &given_inputs(args),
        );
        (None, book, Exit::Unknown)
    };
    let out = PlanOutput {
        members,
        still_answering,
        coverage,
        evidence,
        plan: the_plan,
        runbook: book,
    };
    match ctx.format {
        Format::Json => output::print_json(&out),
        Format::Table => output::print(&render(&out)),
    }
    Ok(exit)
}

/// Names and peer URLs by member ID, from the live member list.
fn live_members(status: &ClusterStatus) -> BTreeMap<String, MemberSpec> {
    status
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
        .collect()
}

/// Every data dir and report given, each with where it came from; the membership they record
/// fills in members the live list lacks.
fn read_inputs(
    args: &PlanArgs,
    ids: &mut BTreeMap<String, MemberSpec>,
) -> anyhow::Result<Vec<(String, RankInput)>> {
    let mut inputs = Vec::new();
    for dir in &args.data_dirs {
        let report = store::datadir::inspect(dir)
            .with_context(|| format!("reading data dir {}", dir.display()))?;
        for m in report.db.iter().flat_map(|db| db.members.iter()) {
            ids.entry(normalise(&m.id)).or_insert(MemberSpec {
                name: m.name.clone(),
                peer_urls: m.peer_urls.clone(),
            });
        }
        let mut input = report.rank_input();
        input.dir = dir.display().to_string();
        inputs.push((format!("data dir {}", dir.display()), input));
    }
    for file in &args.reports {
        let (members, input) = read_report(file)?;
        for (id, spec) in members {
            ids.entry(id).or_insert(spec);
        }
        inputs.push((format!("report {}", file.display()), input));
    }
    Ok(inputs)
}

/// A `datadir inspect -o json` report: bounded and type-checked, then parsed.
fn read_report(file: &std::path::Path) -> anyhow::Result<(Vec<(String, MemberSpec)>, RankInput)> {
    let text = inputs::read_to_string(file, inputs::Kind::REPORT)?;
    let not_a_report = || {
        format!(
            "{} is not JSON from `lifeboat datadir inspect -o json`; make it again on its node",
            file.display()
        )
    };
    let value: serde_json::Value = serde_json::from_str(&text).with_context(not_a_report)?;
    let mut members = Vec::new();
    for m in value["db"]["members"].as_array().into_iter().flatten() {
        if let (Some(id), Some(name)) = (m["id"].as_str(), m["name"].as_str()) {
            let peer_urls = m["peer_urls"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|u| u.as_str().map(String::from))
                .collect();
            let spec = MemberSpec {
                name: name.to_string(),
                peer_urls,
            };
            members.push((normalise(id), spec));
        }
    }
    let input: RankInput = serde_json::from_value(value).with_context(not_a_report)?;
    Ok((members, input))
}

/// Evidence from data dirs of different clusters (or another cluster than the one answering)
/// cannot be ranked together: the indexes of two raft logs are unrelated.
fn one_cluster(status: &ClusterStatus, inputs: &[(String, RankInput)]) -> anyhow::Result<()> {
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for g in &status.clusters {
        seen.entry(normalise(&g.cluster_id))
            .or_default()
            .push("the answering members".into());
    }
    for (source, input) in inputs {
        if let Some(id) = input.cluster_id.as_deref().filter(|id| !id.is_empty()) {
            seen.entry(normalise(id)).or_default().push(source.clone());
        }
    }
    if seen.len() > 1 {
        let groups: Vec<String> = seen
            .iter()
            .map(|(id, sources)| format!("cluster {id}: {}", sources.join(", ")))
            .collect();
        anyhow::bail!(
            "the evidence comes from {} different clusters ({}): give only the data dirs and \
             reports of the cluster to recover",
            seen.len(),
            groups.join("; ")
        );
    }
    Ok(())
}

fn evidence_of(
    status: &ClusterStatus,
    ids: &BTreeMap<String, MemberSpec>,
    inputs: &[(String, RankInput)],
) -> Vec<SurvivorEvidence> {
    let mut evidence: Vec<SurvivorEvidence> = inputs
        .iter()
        .map(|(source, input)| {
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
            e
        })
        .collect();
    // Members that still answer, with no files read: their Status is the evidence.
    for ep in status.endpoints.iter().filter(|e| e.reachable) {
        let Some(id) = &ep.member_id else { continue };
        let Some(m) = ids.get(id) else { continue };
        if evidence.iter().any(|e| e.name == m.name) {
            continue;
        }
        evidence.push(from_live_status(&m.name, ep));
    }
    evidence
}

/// Evidence that is there but not whole: a data dir with problems may understate its progress,
/// and two inputs with one member ID are copies, not two members.
fn doubts(inputs: &[(String, RankInput)]) -> Vec<String> {
    let mut out: Vec<String> = inputs
        .iter()
        .flat_map(|(source, i)| {
            i.problems.iter().map(move |p| {
                format!("{source}: {p}; its progress may be understated, check it before choosing")
            })
        })
        .collect();
    let mut copies: BTreeMap<String, usize> = BTreeMap::new();
    for id in inputs.iter().filter_map(|(_, i)| i.member_id.as_deref()) {
        *copies.entry(normalise(id)).or_default() += 1;
    }
    out.extend(copies.iter().filter(|(_, n)| **n > 1).map(|(id, n)| {
        format!("member {id} is read {n} times (copies of one data dir?): it counts as one member")
    }));
    out
}

fn warn_still_answering(p: &mut Plan, still_answering: &[String]) {
    if still_answering.is_empty() {
        return;
    }
    p.warnings.push(format!(
        "{} still answer{}: fence them (step 1) before forcing a new cluster, or two clusters will diverge",
        still_answering.join(", "),
        if still_answering.len() == 1 { "s" } else { "" }
    ));
}

/// The data dirs and reports already given, for the command that plans again.
fn given_inputs(args: &PlanArgs) -> String {
    let dirs = args
        .data_dirs
        .iter()
        .map(|d| format!("--data-dir {}", d.display()));
    let reports = args
        .reports
        .iter()
        .map(|f| format!("--datadir-report {}", f.display()));
    dirs.chain(reports).collect::<Vec<_>>().join(" ")
}

/// IDs arrive with or without leading zeros; compare them as etcdctl prints them.
fn normalise(id: &str) -> String {
    ops::ids::parse_hex_id(id)
        .map(ops::ids::hex_id)
        .unwrap_or_else(|| id.to_string())
}

fn render(out: &PlanOutput) -> String {
    let mut s = match &out.plan {
        Some(p) if p.partial => format!(
            "SEED  {} (ON PARTIAL EVIDENCE): {}\n",
            p.seed, p.seed_reason
        ),
        Some(p) => format!("SEED  {}: {}\n", p.seed, p.seed_reason),
        None => no_seed(&out.coverage),
    };
    s.push_str(&evidence_table(out));
    for w in out.plan.iter().flat_map(|p| p.warnings.iter()) {
        s.push_str(&format!("WARNING  {w}\n"));
    }
    s.push_str(match out.plan {
        Some(_) => "\nRUNBOOK (nothing has been changed)\n",
        None => "\nGATHER THE MISSING EVIDENCE (reads only; nothing has been changed)\n",
    });
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

fn no_seed(c: &Coverage) -> String {
    let what = if c.read.is_empty() {
        "NO EVIDENCE  nothing was read: no member answered and no --data-dir or --datadir-report \
         was given, so nothing shows which member holds the most data (or whether any data \
         survived)"
            .to_string()
    } else if !c.membership_known {
        "PARTIAL EVIDENCE  no member list was read, so the members never examined cannot even be \
         named"
            .to_string()
    } else {
        format!(
            "PARTIAL EVIDENCE  never examined: {}; one of them may hold committed data the others \
             lack",
            c.unexamined.join(", ")
        )
    };
    format!(
        "{what}.\nNo seed is named on this evidence: gather the rest (below), or, if those nodes \
         are gone for good, plan again with --accept-partial-evidence\n"
    )
}

fn evidence_table(out: &PlanOutput) -> String {
    let mut t = output::table(&[
        "MEMBER",
        "COMMITTED",
        "LAST TERM",
        "LAST INDEX",
        "REVISION",
        "EVIDENCE",
    ]);
    for e in &out.evidence {
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
    for name in &out.coverage.unexamined {
        let mut row = vec![name.clone()];
        row.extend(["-"; 4].map(String::from));
        row.push("NEVER EXAMINED".into());
        t.add_row(row);
    }
    format!("{t}\n")
}
