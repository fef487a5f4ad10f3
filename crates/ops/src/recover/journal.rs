//! The recovery journal: the plan as decided, and each finished step, in a state directory.
//!
//! The plan is written before the first step and read back on a rerun, because the evidence it
//! was made from changes as soon as the first member is fenced. Each finished step is appended
//! as one JSON line and fsynced, so a crash loses at most the step in progress, which is then
//! done again (every step is idempotent).

use std::collections::BTreeSet;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::plan::Plan;
use crate::files::write_atomic;
use crate::{OpsError, utc};

pub struct Journal {
    dir: PathBuf,
    done: BTreeSet<usize>,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    step: usize,
    what: String,
    done_at: String,
}

impl Journal {
    const PLAN: &'static str = "recover-plan.json";
    const STEPS: &'static str = "recover-journal.jsonl";

    /// Opens (creating) the state dir and reads which steps are done.
    pub fn open(dir: &Path) -> Result<Journal, OpsError> {
        std::fs::create_dir_all(dir).map_err(|source| OpsError::LocalIo {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut done = BTreeSet::new();
        let steps = dir.join(Self::STEPS);
        if let Ok(text) = std::fs::read_to_string(&steps) {
            // A torn last line (crash mid-append) is ignored: that step is simply redone.
            for line in text.lines() {
                if let Ok(e) = serde_json::from_str::<Entry>(line) {
                    done.insert(e.step);
                }
            }
        }
        Ok(Journal {
            dir: dir.to_path_buf(),
            done,
        })
    }

    /// The saved plan and the finished steps in `dir`, creating nothing (for `--dry-run`).
    pub fn peek(dir: &Path) -> Result<Option<(Plan, BTreeSet<usize>)>, OpsError> {
        if !dir.join(Self::PLAN).is_file() {
            return Ok(None);
        }
        let j = Journal::open(dir)?;
        Ok(j.saved_plan()?.map(|p| (p, j.done.clone())))
    }

    /// The plan of an interrupted recovery, if there is one.
    pub fn saved_plan(&self) -> Result<Option<Plan>, OpsError> {
        let path = self.dir.join(Self::PLAN);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                OpsError::Local(format!(
                    "the saved plan {} is unreadable ({e}); move the state dir aside to start over",
                    path.display()
                ))
            }),
            Err(_) => Ok(None),
        }
    }

    pub fn save_plan(&self, plan: &Plan) -> Result<(), OpsError> {
        let bytes = serde_json::to_vec_pretty(plan)
            .map_err(|e| OpsError::Local(format!("encoding the plan: {e}")))?;
        write_atomic(&self.dir.join(Self::PLAN), &bytes, 0o600)
    }

    /// Closes a completed run: the state dir is renamed to `DIR.done-<UTC time>` (kept, for the
    /// record), so the next disaster starts a new run instead of finding every step "done".
    pub fn finish(self) -> Result<std::path::PathBuf, OpsError> {
        let done = crate::files::with_suffix(&self.dir, &format!(".done-{}", utc::compact_now()));
        std::fs::rename(&self.dir, &done).map_err(|source| OpsError::LocalIo {
            path: self.dir.clone(),
            source,
        })?;
        crate::files::sync_parent(&done)?;
        Ok(done)
    }

    pub fn is_done(&self, step: usize) -> bool {
        self.done.contains(&step)
    }

    pub fn mark_done(&mut self, step: usize, what: &str) -> Result<(), OpsError> {
        let path = self.dir.join(Self::STEPS);
        let io = |source| OpsError::LocalIo {
            path: path.clone(),
            source,
        };
        let line = serde_json::to_string(&Entry {
            step,
            what: what.to_string(),
            done_at: utc::rfc3339_now(),
        })
        .map_err(|e| OpsError::Local(format!("encoding a journal entry: {e}")))?;
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io)?;
        f.write_all(format!("{line}\n").as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)?;
        self.done.insert(step);
        Ok(())
    }
}
