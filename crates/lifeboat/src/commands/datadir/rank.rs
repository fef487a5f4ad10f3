//! `lifeboat datadir rank DIR|REPORT.json ...`: which survivor to run force-new-cluster on.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use store::datadir::RankInput;

use crate::context::Context;
use crate::exit::Exit;
use crate::output::{self, Format};

#[derive(Debug, Clone, Args)]
pub struct RankArgs {
    /// Member data dirs, or JSON files from `lifeboat datadir inspect -o json` run on other nodes
    #[arg(required = true, value_name = "DIR|REPORT.json")]
    pub inputs: Vec<PathBuf>,
}

fn load(path: &PathBuf) -> anyhow::Result<RankInput> {
    if path.is_file() {
        let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
        let mut input: RankInput = serde_json::from_str(&text).with_context(|| {
            format!(
                "{}: not a `lifeboat datadir inspect -o json` report",
                path.display()
            )
        })?;
        if input.dir.is_empty() {
            input.dir = path.display().to_string();
        }
        return Ok(input);
    }
    Ok(store::datadir::inspect(path)?.rank_input())
}

pub fn run(ctx: &Context, args: &RankArgs) -> anyhow::Result<Exit> {
    let inputs = args
        .inputs
        .iter()
        .map(load)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let ranking = store::rank::rank(&inputs);
    match ctx.format {
        Format::Json => output::print_json(&ranking),
        Format::Table => {
            let mut t = output::table(&[
                "RANK",
                "DIR",
                "MEMBER",
                "COMMITTED",
                "LAST TERM",
                "LAST INDEX",
                "WHY",
            ]);
            for r in &ranking.ranking {
                t.add_row([
                    r.rank.to_string(),
                    r.dir.clone(),
                    r.member_id.clone().unwrap_or_default(),
                    r.committed.to_string(),
                    r.last_term.to_string(),
                    r.last_index.to_string(),
                    r.reason.clone(),
                ]);
            }
            let mut out = format!("{t}\n");
            for w in &ranking.warnings {
                out.push_str(&format!("warning: {w}\n"));
            }
            if let Some(best) = ranking.ranking.first() {
                out.push_str(&format!(
                    "Recover from: {} (force-new-cluster there; re-add the others as learners)\n",
                    best.dir
                ));
            }
            output::print(&out);
        }
    }
    Ok(Exit::Ok)
}
