//! Evidence about survivors, read offline from their data dirs once they are fenced.

use super::executor::Executor;
use super::plan::SurvivorEvidence;

/// Reads every member's data dir (members must be stopped, so the files are final). A data dir
/// that cannot be read cannot seed; it is reported and left out.
pub fn from_data_dirs(exec: &dyn Executor) -> (Vec<SurvivorEvidence>, Vec<String>) {
    let mut evidence = Vec::new();
    let mut problems = Vec::new();
    for member in exec.members() {
        let Some(dir) = exec.data_dir(&member) else {
            continue;
        };
        match store::datadir::inspect(&dir) {
            Ok(report) => {
                let mut e = from_rank_input(&member, &report.rank_input());
                e.source = format!("data dir {}", dir.display());
                evidence.push(e);
            }
            Err(e) => problems.push(format!("{member}: {} cannot be read: {e}", dir.display())),
        }
    }
    (evidence, problems)
}

/// Evidence from a `datadir inspect` report (JSON made on another node, or read here).
pub fn from_rank_input(name: &str, r: &store::datadir::RankInput) -> SurvivorEvidence {
    let commit = r.hard_state.map_or(0, |h| h.commit);
    let ci = r.db.as_ref().and_then(|d| d.consistent_index).unwrap_or(0);
    SurvivorEvidence {
        name: name.to_string(),
        committed: commit.max(ci),
        last_term: r.last_entry.map_or(0, |p| p.term),
        last_index: r.last_entry.map_or(0, |p| p.index),
        revision: r.db.as_ref().and_then(|d| d.revision),
        source: format!("data dir report {}", r.dir),
        db_has_all_committed: r.hard_state.is_some_and(|h| h.commit > 0 && ci >= h.commit),
    }
}
