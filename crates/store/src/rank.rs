//! Rank survivors for lost-quorum recovery (docs/etcd-formats.md §4.7): by committed index, then by
//! the last log position. Never by HardState.term, which failed elections inflate.

use serde::Serialize;

use crate::datadir::RankInput;

#[derive(Debug, Clone, Serialize)]
pub struct Ranked {
    pub rank: usize,
    pub dir: String,
    pub member_id: Option<String>,
    pub cluster_id: Option<String>,
    pub committed: u64,
    pub last_term: u64,
    pub last_index: u64,
    pub commit: u64,
    pub consistent_index: Option<u64>,
    pub hard_state_term: u64,
    pub revision: Option<i64>,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Ranking {
    pub ranking: Vec<Ranked>,
    pub warnings: Vec<String>,
}

fn key(r: &Ranked) -> (u64, u64, u64) {
    (r.committed, r.last_term, r.last_index)
}

pub fn rank(inputs: &[RankInput]) -> Ranking {
    let mut rows: Vec<Ranked> = inputs
        .iter()
        .map(|i| {
            let commit = i.hard_state.map_or(0, |h| h.commit);
            let ci = i.db.as_ref().and_then(|d| d.consistent_index);
            Ranked {
                rank: 0,
                dir: i.dir.clone(),
                member_id: i.member_id.clone(),
                cluster_id: i.cluster_id.clone(),
                committed: commit.max(ci.unwrap_or(0)),
                last_term: i.last_entry.map_or(0, |p| p.term),
                last_index: i.last_entry.map_or(0, |p| p.index),
                commit,
                consistent_index: ci,
                hard_state_term: i.hard_state.map_or(0, |h| h.term),
                revision: i.db.as_ref().and_then(|d| d.revision),
                reason: String::new(),
            }
        })
        .collect();
    // Stable sort: equal members keep the order they were given in.
    rows.sort_by_key(|r| std::cmp::Reverse(key(r)));
    let mut warnings = Vec::new();
    let best = rows.first().map(key);
    for i in 0..rows.len() {
        rows[i].rank = i + 1;
        let me = key(&rows[i]);
        rows[i].reason = if i == 0 {
            if rows.len() == 1 {
                format!(
                    "only member given: committed {}, last entry ({}, {})",
                    me.0, me.1, me.2
                )
            } else if rows.get(1).is_some_and(|n| key(n) == me) {
                format!(
                    "ties for most committed data: committed {}, last entry (term {}, index {})",
                    me.0, me.1, me.2
                )
            } else {
                format!(
                    "most committed data: committed {}, last entry (term {}, index {})",
                    me.0, me.1, me.2
                )
            }
        } else {
            let prev = key(&rows[i - 1]);
            if Some(me) == best {
                format!(
                    "ties with the first: committed {}, last entry (term {}, index {})",
                    me.0, me.1, me.2
                )
            } else if me.0 < prev.0 {
                format!("committed {} < {} of the member above", me.0, prev.0)
            } else if me.1 < prev.1 {
                format!(
                    "same committed {}, but last log term {} < {}",
                    me.0, me.1, prev.1
                )
            } else if me.2 < prev.2 {
                format!(
                    "same committed {} and last term, but last index {} < {}",
                    me.0, me.2, prev.2
                )
            } else {
                format!(
                    "equal to the member above: committed {}, last entry ({}, {})",
                    me.0, me.1, me.2
                )
            }
        };
    }
    if let [a, b, ..] = rows.as_slice()
        && key(a) == key(b)
    {
        warnings.push(format!(
            "{} and {} tie (committed {}, last entry ({}, {})): either is a safe choice",
            a.dir, b.dir, a.committed, a.last_term, a.last_index
        ));
    }
    if let Some(top) = rows.first() {
        for r in rows.iter().skip(1) {
            if (r.last_term, r.last_index) > (top.last_term, top.last_index) {
                warnings.push(format!(
                    "{} has log entries up to (term {}, index {}) beyond {}'s (term {}, index {}); they are not known \
                     to be committed and force-new-cluster on {} drops them",
                    r.dir, r.last_term, r.last_index, top.dir, top.last_term, top.last_index, top.dir
                ));
            }
        }
        for r in &rows {
            if r.commit > r.last_index && r.last_index > 0 {
                warnings.push(format!(
                    "{}: commit {} is beyond its last log entry {}",
                    r.dir, r.commit, r.last_index
                ));
            }
        }
    }
    let clusters: std::collections::BTreeSet<&str> = rows
        .iter()
        .filter_map(|r| r.cluster_id.as_deref())
        .collect();
    if clusters.len() > 1 {
        warnings.push(format!(
            "members belong to different clusters: {}",
            clusters.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    let mut ids: Vec<&str> = rows.iter().filter_map(|r| r.member_id.as_deref()).collect();
    ids.sort_unstable();
    if ids.windows(2).any(|w| w[0] == w[1]) {
        warnings.push("the same member ID appears more than once (copies of one data dir?)".into());
    }
    for i in inputs {
        for p in &i.problems {
            warnings.push(format!("{}: {p}", i.dir));
        }
    }
    Ranking {
        ranking: rows,
        warnings,
    }
}
