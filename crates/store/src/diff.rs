//! What differs between two keyspaces (two snapshots, or a snapshot and a live cluster), from
//! per-key digests: what restoring A over B would bring back (only in A), lose (only in B) and
//! revert (changed). Memory is one small record per key, never the values.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::objects::KeyDigest;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Only in B (would be lost by restoring A).
    Added,
    /// Only in A (would come back by restoring A).
    Removed,
    /// In both, with a different value.
    Changed,
}

#[derive(Debug, Clone, Serialize)]
pub struct Side {
    pub mod_revision: i64,
    pub size: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct KeyChange {
    pub change: ChangeKind,
    pub key: String,
    pub a: Option<Side>,
    pub b: Option<Side>,
}

fn side(d: &KeyDigest) -> Side {
    Side {
        mod_revision: d.mod_revision,
        size: d.size,
    }
}

/// Keys that differ, in key order. Equal values at different revisions (rewritten with the same
/// bytes) count as unchanged: a restore would not alter what readers see.
pub fn diff(a: &BTreeMap<Vec<u8>, KeyDigest>, b: &BTreeMap<Vec<u8>, KeyDigest>) -> Vec<KeyChange> {
    let mut out = Vec::new();
    let (mut ia, mut ib) = (a.iter().peekable(), b.iter().peekable());
    loop {
        let next = match (ia.peek(), ib.peek()) {
            (None, None) => break,
            (Some((ka, _)), Some((kb, _))) => ka.cmp(kb),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
        };
        match next {
            std::cmp::Ordering::Less => {
                let Some((k, d)) = ia.next() else { break };
                out.push(KeyChange {
                    change: ChangeKind::Removed,
                    key: String::from_utf8_lossy(k).into_owned(),
                    a: Some(side(d)),
                    b: None,
                });
            }
            std::cmp::Ordering::Greater => {
                let Some((k, d)) = ib.next() else { break };
                out.push(KeyChange {
                    change: ChangeKind::Added,
                    key: String::from_utf8_lossy(k).into_owned(),
                    a: None,
                    b: Some(side(d)),
                });
            }
            std::cmp::Ordering::Equal => {
                let (Some((k, da)), Some((_, db))) = (ia.next(), ib.next()) else {
                    break;
                };
                if da.digest != db.digest || da.size != db.size {
                    out.push(KeyChange {
                        change: ChangeKind::Changed,
                        key: String::from_utf8_lossy(k).into_owned(),
                        a: Some(side(da)),
                        b: Some(side(db)),
                    });
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(rev: i64, digest: u64) -> KeyDigest {
        KeyDigest {
            create_revision: rev,
            mod_revision: rev,
            size: 1,
            digest,
        }
    }

    #[test]
    fn added_removed_changed_and_equal() {
        let a = BTreeMap::from([
            (b"a".to_vec(), d(1, 1)),
            (b"b".to_vec(), d(2, 2)),
            (b"c".to_vec(), d(3, 3)),
        ]);
        let b = BTreeMap::from([
            (b"b".to_vec(), d(5, 2)),
            (b"c".to_vec(), d(6, 9)),
            (b"d".to_vec(), d(7, 4)),
        ]);
        let got: Vec<(ChangeKind, String)> = diff(&a, &b)
            .into_iter()
            .map(|c| (c.change, c.key))
            .collect();
        assert_eq!(
            got,
            vec![
                (ChangeKind::Removed, "a".into()),
                (ChangeKind::Changed, "c".into()),
                (ChangeKind::Added, "d".into()),
            ]
        );
        assert!(diff(&a, &a).is_empty());
    }
}
