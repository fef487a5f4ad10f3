//! Which fulls and segments retention keeps (docs/backup.md §9): the newest `keep_last` fulls,
//! plus the newest full of each of the newest `hourly` hours, `daily` days and `weekly` weeks
//! (UTC; weeks start on Monday) that have one. The newest sound full is always kept, and so is
//! every segment a kept full's chain needs (the segments after the oldest kept full). A pure
//! function over names: the caller decides what is sound and does the deleting.

use serde::Serialize;

use crate::layout::{DeltaName, FullName};

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
}

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// The newest full of each of the newest `count` periods (`period_of` numbers them).
fn per_period(
    newest_first: &[&FullName],
    count: usize,
    period_of: impl Fn(i64) -> i64,
) -> Vec<FullName> {
    let mut kept: Vec<FullName> = Vec::new();
    let mut last_period = None;
    for f in newest_first {
        if kept.len() >= count {
            break;
        }
        let p = period_of(f.taken_ms);
        if last_period != Some(p) {
            last_period = Some(p);
            kept.push((*f).clone());
        }
    }
    kept
}

/// Splits the store's fulls and segments into kept and removed. `sound` are the fulls known
/// good (manifest read and matching); the newest of them is always kept. With the policy off,
/// everything is kept.
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
    let mut keep: Vec<FullName> = if policy.is_off() {
        fulls.to_vec()
    } else {
        let mut k: Vec<FullName> = newest_first
            .iter()
            .take(policy.keep_last)
            .map(|f| (*f).clone())
            .collect();
        k.extend(per_period(&newest_first, policy.hourly, |t| {
            t.div_euclid(HOUR_MS)
        }));
        k.extend(per_period(&newest_first, policy.daily, |t| {
            t.div_euclid(DAY_MS)
        }));
        // 1970-01-01 was a Thursday: +3 days makes each week start on Monday.
        k.extend(per_period(&newest_first, policy.weekly, |t| {
            (t.div_euclid(DAY_MS) + 3).div_euclid(7)
        }));
        k
    };
    if let Some(newest_sound) = sound.iter().max_by_key(|f| (f.revision, f.taken_ms)) {
        keep.push(newest_sound.clone());
    }
    keep.sort();
    keep.dedup();
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(revision: i64, taken_ms: i64) -> FullName {
        FullName {
            revision,
            taken_ms,
            encrypted: false,
        }
    }

    fn seg(first: i64, last: i64) -> DeltaName {
        DeltaName {
            first_revision: first,
            last_revision: last,
        }
    }

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
}
