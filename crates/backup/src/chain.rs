//! Which full snapshot and which delta segments rebuild a target revision, and what is wrong
//! with a store's delta log (gaps, overlaps).
//!
//! A full at revision `R` covers everything up to `R`; the segments after it must cover
//! `R+1..=target` with no revision missing and none twice. The first segment may start at or
//! before `R+1` (the delta log runs on while a full is taken): its events up to `R` are
//! skipped at replay.

use serde::Serialize;

use crate::layout::{DeltaName, FullName};
use crate::segment::Segment;
use crate::time;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("the store has no full backup (with its manifest); nothing can be restored")]
    NoFulls,
    #[error(
        "no full backup at or before revision {target}; the oldest is at revision {oldest}: restore to revision {oldest} or later"
    )]
    NoFullBefore { target: i64, oldest: i64 },
    #[error(
        "no full backup taken at or before {at}; the oldest was taken at {oldest}: pick a later --to-time"
    )]
    NoFullBeforeTime { at: String, oldest: String },
    #[error(
        "revisions {from}..={to} are missing from the delta log; the newest revision restorable before them is {restorable}: restore to that (or earlier), or to a revision covered by a later full"
    )]
    Gap { from: i64, to: i64, restorable: i64 },
    #[error(
        "delta segments {a} and {b} overlap; run `lifeboat backup verify` and move the wrong one aside before restoring"
    )]
    Overlap { a: String, b: String },
    #[error(
        "revision {target} is past the newest backed-up revision {newest}: use --latest or --to-revision {newest}"
    )]
    BeyondEnd { target: i64, newest: i64 },
    #[error("--to-revision must be at least 1 (got {0})")]
    BadTarget(i64),
}

/// The fulls (those with a manifest) and segments a listing found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    pub fulls: Vec<FullName>,
    pub deltas: Vec<DeltaName>,
}

/// What to download and replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub full: FullName,
    pub segments: Vec<DeltaName>,
    pub target_revision: i64,
}

impl Listing {
    pub fn sorted(mut self) -> Listing {
        self.fulls.sort();
        self.fulls.dedup();
        self.deltas.sort();
        self.deltas.dedup();
        self
    }

    /// The segments after `full` in order while they chain, up to `limit` (inclusive).
    /// Returns the chain and where it stopped (`Err` for a gap or an overlap).
    fn walk(&self, full: &FullName, limit: i64) -> (Vec<DeltaName>, i64, Option<ChainError>) {
        let mut cursor = full.revision;
        let mut chosen: Vec<DeltaName> = Vec::new();
        for seg in self
            .deltas
            .iter()
            .filter(|d| d.last_revision > full.revision)
        {
            if cursor >= limit {
                break;
            }
            if let Some(prev) = chosen.last()
                && seg.first_revision <= prev.last_revision
            {
                let problem = ChainError::Overlap {
                    a: prev.file_name(),
                    b: seg.file_name(),
                };
                return (chosen, cursor, Some(problem));
            }
            if seg.first_revision > cursor + 1 {
                let problem = ChainError::Gap {
                    from: cursor + 1,
                    to: seg.first_revision - 1,
                    restorable: cursor,
                };
                return (chosen, cursor, Some(problem));
            }
            cursor = seg.last_revision;
            chosen.push(*seg);
        }
        (chosen, cursor, None)
    }

    /// The newest full at or before `target` and the segments that bring it to `target`.
    pub fn plan_revision(&self, target: i64) -> Result<Plan, ChainError> {
        if target < 1 {
            return Err(ChainError::BadTarget(target));
        }
        let oldest = self.fulls.first().ok_or(ChainError::NoFulls)?;
        let full = self
            .fulls
            .iter()
            .rev()
            .find(|f| f.revision <= target)
            .ok_or(ChainError::NoFullBefore {
                target,
                oldest: oldest.revision,
            })?;
        let (segments, reached, problem) = self.walk(full, target);
        if reached >= target {
            return Ok(Plan {
                full: full.clone(),
                segments,
                target_revision: target,
            });
        }
        Err(problem.unwrap_or(ChainError::BeyondEnd {
            target,
            newest: reached,
        }))
    }

    /// The newest revision the newest full and its unbroken delta chain reach.
    pub fn plan_latest(&self) -> Result<Plan, ChainError> {
        let full = self.fulls.last().ok_or(ChainError::NoFulls)?;
        let (segments, reached, problem) = self.walk(full, i64::MAX);
        if let Some(p) = problem {
            return Err(p);
        }
        Ok(Plan {
            full: full.clone(),
            segments,
            target_revision: reached,
        })
    }

    /// The newest full taken at or before `at_ms`: where a `--to-time` search starts.
    pub fn full_before_time(&self, at_ms: i64) -> Result<&FullName, ChainError> {
        let oldest = self
            .fulls
            .iter()
            .min_by_key(|f| f.taken_ms)
            .ok_or(ChainError::NoFulls)?;
        self.fulls
            .iter()
            .filter(|f| f.taken_ms <= at_ms)
            .max_by_key(|f| (f.taken_ms, f.revision))
            .ok_or(ChainError::NoFullBeforeTime {
                at: time::rfc3339(at_ms),
                oldest: time::rfc3339(oldest.taken_ms),
            })
    }

    /// Every problem in the delta log: overlaps, and gaps that no full bridges. A gap right
    /// before a full (the agent starts a new full after compaction or a restart) loses only
    /// the revisions inside it, which [`Report::unrestorable`] names.
    pub fn check(&self) -> Report {
        let mut report = Report::default();
        for pair in self.deltas.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            if b.first_revision <= a.last_revision {
                report.problems.push(
                    ChainError::Overlap {
                        a: a.file_name(),
                        b: b.file_name(),
                    }
                    .to_string(),
                );
            } else if b.first_revision > a.last_revision + 1 {
                let (from, to) = (a.last_revision + 1, b.first_revision - 1);
                let bridged = self
                    .fulls
                    .iter()
                    .any(|f| f.revision >= to && f.revision < b.first_revision);
                if bridged {
                    report.unrestorable.push(RevisionRange { from, to });
                } else {
                    report.problems.push(
                        ChainError::Gap {
                            from,
                            to,
                            restorable: a.last_revision,
                        }
                        .to_string(),
                    );
                }
            }
        }
        report
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RevisionRange {
    pub from: i64,
    pub to: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub problems: Vec<String>,
    /// Revisions inside a bridged gap: no point in them can be rebuilt.
    pub unrestorable: Vec<RevisionRange>,
}

/// The revision state as of `at_ms`: the last revision whose events were all observed at or
/// before it, reading segments in order from a full at `full_revision`. The search stops at
/// the first later event, so a clock that stepped back never pulls in a later revision.
pub fn revision_at_time<'a>(
    full_revision: i64,
    segments: impl IntoIterator<Item = &'a Segment>,
    at_ms: i64,
) -> i64 {
    let mut reached = full_revision;
    for seg in segments {
        for e in seg.events.iter().filter(|e| e.revision > full_revision) {
            if e.observed_ms > at_ms {
                // A revision is only reached when all its events are in.
                return if e.revision == reached {
                    reached - 1
                } else {
                    reached
                }
                .max(full_revision);
            }
            reached = e.revision;
        }
    }
    reached
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::test_names::{delta, full};
    use crate::segment::{Event, EventKind, Header};

    fn listing(fulls: Vec<FullName>, deltas: Vec<DeltaName>) -> Listing {
        Listing { fulls, deltas }.sorted()
    }

    #[test]
    fn picks_newest_full_and_following_segments() {
        let l = listing(
            vec![full(10, 1000), full(20, 2000)],
            vec![delta(5, 12), delta(13, 19), delta(20, 25), delta(26, 30)],
        );
        let p = l.plan_revision(18).expect("plan");
        assert_eq!(p.full.revision, 10);
        assert_eq!(p.segments, vec![delta(5, 12), delta(13, 19)]);
        let p = l.plan_revision(27).expect("plan");
        assert_eq!(p.full.revision, 20);
        assert_eq!(p.segments, vec![delta(20, 25), delta(26, 30)]);
        assert_eq!(l.plan_revision(20).expect("plan").segments, vec![]);
        assert_eq!(l.plan_latest().expect("latest").target_revision, 30);
        assert_eq!(
            l.plan_revision(31),
            Err(ChainError::BeyondEnd {
                target: 31,
                newest: 30
            })
        );
        assert_eq!(
            l.plan_revision(9),
            Err(ChainError::NoFullBefore {
                target: 9,
                oldest: 10
            })
        );
    }

    #[test]
    fn gap_names_the_missing_revisions() {
        let l = listing(vec![full(10, 0)], vec![delta(11, 12), delta(15, 20)]);
        assert_eq!(
            l.plan_revision(16),
            Err(ChainError::Gap {
                from: 13,
                to: 14,
                restorable: 12
            })
        );
        assert_eq!(l.plan_revision(12).expect("before gap").target_revision, 12);
        assert!(matches!(
            l.plan_latest(),
            Err(ChainError::Gap { from: 13, .. })
        ));
        assert_eq!(l.check().problems.len(), 1);
        // A full that resumes the chain turns the gap into unrestorable revisions only.
        let bridged = listing(
            vec![full(10, 0), full(14, 1)],
            vec![delta(11, 12), delta(15, 20)],
        );
        assert!(bridged.check().problems.is_empty());
        assert_eq!(
            bridged.check().unrestorable,
            vec![RevisionRange { from: 13, to: 14 }]
        );
        assert_eq!(bridged.plan_latest().expect("latest").target_revision, 20);
        // The gap right after a full is a gap too.
        let l = listing(vec![full(10, 0)], vec![delta(12, 13)]);
        assert!(matches!(
            l.plan_revision(13),
            Err(ChainError::Gap {
                from: 11,
                to: 11,
                ..
            })
        ));
    }

    #[test]
    fn overlap_is_refused() {
        let l = listing(vec![full(10, 0)], vec![delta(11, 14), delta(13, 16)]);
        assert!(matches!(
            l.plan_revision(16),
            Err(ChainError::Overlap { .. })
        ));
        assert_eq!(l.check().problems.len(), 1);
    }

    fn seg(events: &[(i64, u32, i64)]) -> Segment {
        Segment {
            header: Header {
                version: 1,
                event_count: events.len() as u32,
                cluster_id: 1,
                member_id: 1,
                first_revision: events[0].0,
                last_revision: events[events.len() - 1].0,
                prev_last_revision: events[0].0 - 1,
                created_ms: 0,
            },
            events: events
                .iter()
                .map(|&(revision, sub, observed_ms)| Event {
                    kind: EventKind::Put,
                    revision,
                    sub,
                    key: b"k".to_vec(),
                    value: Vec::new(),
                    create_revision: 1,
                    version: 1,
                    lease: 0,
                    observed_ms,
                })
                .collect(),
        }
    }

    #[test]
    fn time_maps_to_last_whole_revision() {
        let a = seg(&[(9, 0, 50), (11, 0, 100), (11, 1, 100), (12, 0, 200)]);
        let b = seg(&[(13, 0, 300)]);
        assert_eq!(revision_at_time(10, [&a, &b], 99), 10);
        assert_eq!(revision_at_time(10, [&a, &b], 100), 11);
        assert_eq!(revision_at_time(10, [&a, &b], 250), 12);
        assert_eq!(revision_at_time(10, [&a, &b], 1000), 13);
        let split = seg(&[(11, 0, 100), (11, 1, 150)]);
        assert_eq!(revision_at_time(10, [&split], 120), 10);
        let l = listing(vec![full(10, 1000), full(20, 2000)], vec![]);
        assert_eq!(l.full_before_time(1500).expect("full").revision, 10);
        assert!(matches!(
            l.full_before_time(999),
            Err(ChainError::NoFullBeforeTime { .. })
        ));
    }
}
