//! Which fulls and segments retention keeps (docs/backup.md §9): the newest `keep_last` fulls,
//! plus the newest full of each of the newest `hourly` hours, `daily` days and `weekly` weeks
//! (UTC; weeks start on Monday) that have one. The newest sound full is always kept, and so is
//! every segment a kept full's chain needs (the segments after the oldest kept full). A pure
//! function over names: the caller decides what is sound and does the deleting.

use serde::Serialize;

pub mod prune;

use crate::layout::{DeltaName, FullName};
use crate::time;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Policy {
    pub keep_last: usize,
    pub hourly: usize,
    pub daily: usize,
    pub weekly: usize,
}

impl Policy {
    /// No `--keep-*` given: retention is off, nothing is removed.
    pub fn is_off(&self) -> bool {
        *self == Policy::default()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Selection {
    pub keep_fulls: Vec<FullName>,
    pub remove_fulls: Vec<FullName>,
    pub keep_segments: Vec<DeltaName>,
    pub remove_segments: Vec<DeltaName>,
    /// Why each kept full is kept (every rule that keeps it), in `keep_fulls` order.
    pub why: Vec<Vec<String>>,
}

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// The newest full of each of the newest `count` periods (`period_of` numbers them), with the
/// period's name.
fn per_period<'a>(
    newest_first: &[&'a FullName],
    count: usize,
    period_of: impl Fn(i64) -> i64,
    name: impl Fn(&FullName) -> String,
) -> Vec<(&'a FullName, String)> {
    let mut kept = Vec::new();
    let mut last_period = None;
    for f in newest_first {
        if kept.len() >= count {
            break;
        }
        let p = period_of(f.taken_ms);
        if last_period != Some(p) {
            last_period = Some(p);
            kept.push((*f, name(f)));
        }
    }
    kept
}

/// The first `n` characters of an RFC 3339 time (the date, or the date and hour).
fn head(text: String, n: usize) -> String {
    text.get(..n).map_or_else(|| text.clone(), str::to_string)
}

/// 1970-01-01 was a Thursday: +3 days makes each week start on Monday.
fn week_of(ms: i64) -> i64 {
    (ms.div_euclid(DAY_MS) + 3).div_euclid(7)
}

/// Every rule of `policy` that keeps a full, as (full, why).
fn rules<'a>(newest_first: &[&'a FullName], policy: Policy) -> Vec<(&'a FullName, String)> {
    let mut out: Vec<(&FullName, String)> = newest_first
        .iter()
        .take(policy.keep_last)
        .enumerate()
        .map(|(i, f)| {
            (
                *f,
                format!("keep-last {}: newest #{}", policy.keep_last, i + 1),
            )
        })
        .collect();
    let day = |f: &FullName| head(time::rfc3339(f.taken_ms), 10);
    out.extend(per_period(
        newest_first,
        policy.hourly,
        |t| t.div_euclid(HOUR_MS),
        |f| {
            format!(
                "hourly: newest of {}:00Z",
                head(time::rfc3339(f.taken_ms), 13)
            )
        },
    ));
    out.extend(per_period(
        newest_first,
        policy.daily,
        |t| t.div_euclid(DAY_MS),
        |f| format!("daily: newest of {}", day(f)),
    ));
    out.extend(per_period(newest_first, policy.weekly, week_of, |f| {
        let monday = (week_of(f.taken_ms) * 7 - 3) * DAY_MS;
        format!(
            "weekly: newest of the week from {}",
            head(time::rfc3339(monday), 10)
        )
    }));
    out
}

/// Splits the store's fulls and segments into kept and removed. `sound` are the fulls known
/// good (verified); the newest of them is always kept. With the policy off, everything is
/// kept. Segments are kept from the oldest kept full on, so that every revision from it to
/// the newest stays restorable (one continuous window, never holes in it).
pub fn select(
    fulls: &[FullName],
    segments: &[DeltaName],
    sound: &[FullName],
    policy: Policy,
) -> Selection {
    let mut newest_first: Vec<&FullName> = fulls.iter().collect();
    newest_first.sort_by(|a, b| {
        b.revision
            .cmp(&a.revision)
            .then(b.taken_ms.cmp(&a.taken_ms))
    });
    let mut reasons: Vec<(&FullName, String)> = if policy.is_off() {
        fulls
            .iter()
            .map(|f| (f, "no retention policy".to_string()))
            .collect()
    } else {
        rules(&newest_first, policy)
    };
    if let Some(newest_sound) = sound.iter().max_by_key(|f| (f.revision, f.taken_ms)) {
        reasons.push((
            newest_sound,
            "the newest verified full: never removed".to_string(),
        ));
    }
    let mut keep: Vec<FullName> = reasons.iter().map(|(f, _)| (*f).clone()).collect();
    keep.sort();
    keep.dedup();
    let why = keep
        .iter()
        .map(|k| {
            reasons
                .iter()
                .filter(|(f, _)| *f == k)
                .map(|(_, w)| w.clone())
                .collect()
        })
        .collect();
    let oldest_kept = keep.iter().map(|f| f.revision).min();
    let (keep_segments, remove_segments) = segments
        .iter()
        .partition(|d| policy.is_off() || oldest_kept.is_none_or(|r| d.last_revision > r));
    Selection {
        remove_fulls: fulls
            .iter()
            .filter(|f| !keep.contains(f))
            .cloned()
            .collect(),
        keep_fulls: keep,
        keep_segments,
        remove_segments,
        why,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::test_names::{delta as seg, full};

    /// One full every 30 minutes for 3 days, revision 100 apart, a segment between each.
    fn history() -> (Vec<FullName>, Vec<DeltaName>) {
        let start = 1_764_892_800_000; // 2025-12-05T00:00:00Z, a Friday
        let fulls: Vec<FullName> = (0..144)
            .map(|i| full(100 * (i + 1), start + i * HOUR_MS / 2))
            .collect();
        let segs = (0..144)
            .map(|i| seg(100 * (i + 1) - 99, 100 * (i + 1)))
            .collect();
        (fulls, segs)
    }

    #[test]
    fn policy_off_keeps_everything() {
        let (fulls, segs) = history();
        let s = select(&fulls, &segs, &fulls, Policy::default());
        assert_eq!(s.keep_fulls.len(), fulls.len());
        assert!(s.remove_fulls.is_empty() && s.remove_segments.is_empty());
    }

    #[test]
    fn keep_last_keeps_the_newest_and_their_chains() {
        let (fulls, segs) = history();
        let policy = Policy {
            keep_last: 3,
            ..Policy::default()
        };
        let s = select(&fulls, &segs, &fulls, policy);
        let revs: Vec<i64> = s.keep_fulls.iter().map(|f| f.revision).collect();
        assert_eq!(revs, vec![14200, 14300, 14400]);
        assert_eq!(s.remove_fulls.len(), 141);
        // Segments after the oldest kept full stay; the one ending at it goes.
        assert!(s.keep_segments.iter().all(|d| d.last_revision > 14200));
        assert_eq!(s.keep_segments.len(), 2);
        assert!(s.remove_segments.iter().all(|d| d.last_revision <= 14200));
    }

    #[test]
    fn time_tiers_keep_one_per_period() {
        let (fulls, segs) = history();
        let policy = Policy {
            hourly: 4,
            daily: 3,
            weekly: 2,
            ..Policy::default()
        };
        let s = select(&fulls, &segs, &fulls, policy);
        let revs: Vec<i64> = s.keep_fulls.iter().map(|f| f.revision).collect();
        // Hourly: the newest of each of the last 4 hours (two fulls an hour: every other one).
        // Daily: the newest of each day (3 days). Weekly: Fri-Sun are one week, so one more
        // week has none: only the newest counts.
        assert_eq!(revs, vec![4800, 9600, 13800, 14000, 14200, 14400]);
        assert!(s.keep_segments.iter().all(|d| d.last_revision > 4800));
        assert_eq!(s.remove_fulls.len(), 144 - 6);
    }

    #[test]
    fn the_newest_sound_full_is_never_removed() {
        let (fulls, segs) = history();
        let policy = Policy {
            keep_last: 1,
            ..Policy::default()
        };
        // The two newest are unsound (say, their manifests do not match): the newest sound
        // one stays, with every segment after it.
        let sound = &fulls[..142];
        let s = select(&fulls, &segs, sound, policy);
        let revs: Vec<i64> = s.keep_fulls.iter().map(|f| f.revision).collect();
        assert_eq!(revs, vec![14200, 14400]);
        assert!(s.remove_fulls.iter().all(|f| f.revision != 14200));
        assert_eq!(s.keep_segments.len(), 2);
    }

    #[test]
    fn segments_before_any_full_are_removed_only_under_a_policy() {
        let fulls = vec![full(500, 0)];
        let segs = vec![seg(1, 100), seg(101, 500), seg(501, 600)];
        let s = select(
            &fulls,
            &segs,
            &fulls,
            Policy {
                keep_last: 1,
                ..Policy::default()
            },
        );
        assert_eq!(s.remove_segments, vec![seg(1, 100), seg(101, 500)]);
        assert_eq!(s.keep_segments, vec![seg(501, 600)]);
        let s = select(&fulls, &segs, &fulls, Policy::default());
        assert!(s.remove_segments.is_empty());
    }

    mod prop {
        use super::*;
        use crate::chain::Listing;
        use proptest::prelude::*;

        /// Fulls at increasing revisions and times (gaps of up to two days between them), a
        /// delta log cut into segments of random length covering everything from revision 1.
        fn store() -> impl Strategy<Value = (Vec<FullName>, Vec<DeltaName>)> {
            (
                proptest::collection::vec((1i64..50, 0i64..2 * DAY_MS), 1..40),
                proptest::collection::vec(1i64..30, 1..80),
            )
                .prop_map(|(steps, cuts)| {
                    let (mut rev, mut at) = (0, 1_764_892_800_000);
                    let fulls: Vec<FullName> = steps
                        .iter()
                        .map(|(dr, dt)| {
                            rev += dr;
                            at += dt / 1000 * 1000;
                            full(rev, at)
                        })
                        .collect();
                    let mut segs = Vec::new();
                    let mut first = 1;
                    for c in cuts.iter().cycle() {
                        segs.push(seg(first, first + c - 1));
                        first += c;
                        if first > rev + 10 {
                            break;
                        }
                    }
                    (fulls, segs)
                })
        }

        fn policy() -> impl Strategy<Value = Policy> {
            (0usize..4, 0usize..5, 0usize..4, 0usize..3).prop_map(|(k, h, d, w)| Policy {
                keep_last: k,
                hourly: h,
                daily: d,
                weekly: w,
            })
        }

        proptest! {
            /// Whatever the policy: every object is kept or removed (not both), the newest
            /// sound full and the `keep_last` newest stay, and every revision from the oldest
            /// kept full to the newest is still restorable from what is kept.
            #[test]
            fn kept_objects_restore_the_whole_window(
                (fulls, segs) in store(),
                policy in policy(),
                unsound in 0usize..3,
            ) {
                let sound = &fulls[..fulls.len().saturating_sub(unsound).max(1)];
                let s = select(&fulls, &segs, sound, policy);
                prop_assert_eq!(s.keep_fulls.len() + s.remove_fulls.len(), fulls.len());
                prop_assert_eq!(s.keep_segments.len() + s.remove_segments.len(), segs.len());
                prop_assert_eq!(s.why.len(), s.keep_fulls.len());
                prop_assert!(s.why.iter().all(|w| !w.is_empty()));
                prop_assert!(s.keep_fulls.contains(sound.last().unwrap()));
                for f in fulls.iter().rev().take(policy.keep_last) {
                    prop_assert!(s.keep_fulls.contains(f));
                }
                let before = Listing { fulls: fulls.clone(), deltas: segs.clone() }.sorted();
                let after = Listing {
                    fulls: s.keep_fulls.clone(),
                    deltas: s.keep_segments.clone(),
                }
                .sorted();
                let latest = before.plan_latest().unwrap().target_revision;
                prop_assert_eq!(after.plan_latest().unwrap().target_revision, latest);
                let oldest = s.keep_fulls.iter().map(|f| f.revision).min().unwrap();
                for target in oldest..=latest {
                    prop_assert!(after.plan_revision(target).is_ok(), "revision {}", target);
                }
            }
        }
    }
}
