//! Quorum math for a membership change, before and after. Pure.

use serde::Serialize;

use crate::status::ClusterStatus;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct QuorumMath {
    pub voters: usize,
    pub healthy_voters: usize,
    pub quorum: usize,
    /// Healthy voters beyond the quorum: how many more may fail.
    pub failures_tolerated: usize,
    pub has_quorum: bool,
}

impl QuorumMath {
    pub fn new(voters: usize, healthy_voters: usize) -> QuorumMath {
        let quorum = voters / 2 + 1;
        QuorumMath {
            voters,
            healthy_voters,
            quorum: if voters == 0 { 0 } else { quorum },
            failures_tolerated: healthy_voters.saturating_sub(quorum),
            has_quorum: voters > 0 && healthy_voters >= quorum,
        }
    }

    pub fn of(status: &ClusterStatus) -> QuorumMath {
        let voters = status.members.iter().filter(|m| !m.is_learner).count();
        let healthy = status
            .members
            .iter()
            .filter(|m| !m.is_learner && m.reachable)
            .count();
        QuorumMath::new(voters, healthy)
    }

    pub fn describe(&self) -> String {
        format!(
            "{} voters, {} healthy, quorum {}, tolerates {} more failure{}",
            self.voters,
            self.healthy_voters,
            self.quorum,
            self.failures_tolerated,
            if self.failures_tolerated == 1 {
                ""
            } else {
                "s"
            }
        )
    }
}

/// A proposed change and the guard's verdict on it.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub action: String,
    pub before: QuorumMath,
    pub after: QuorumMath,
    pub allowed: bool,
    /// Why the guard refuses (present when `allowed` is false).
    pub refusal: Option<String>,
}

impl Change {
    fn judge(action: String, before: QuorumMath, after: QuorumMath) -> Change {
        let refusal = if after.voters == 0 {
            Some("it would remove the last voting member: the cluster would be gone".to_string())
        } else if !after.has_quorum {
            Some(format!(
                "afterwards {} healthy voter{} would face a quorum of {}: the cluster would stop \
                 accepting writes",
                after.healthy_voters,
                if after.healthy_voters == 1 { "" } else { "s" },
                after.quorum
            ))
        } else {
            None
        };
        Change {
            action,
            before,
            after,
            allowed: refusal.is_none(),
            refusal,
        }
    }

    /// Removing member `id` (hex).
    pub fn remove(status: &ClusterStatus, id: &str) -> Change {
        let before = QuorumMath::of(status);
        let target = status.members.iter().find(|m| m.id == id);
        let (voter, healthy) = target
            .map(|m| (!m.is_learner, m.reachable))
            .unwrap_or((false, false));
        let after = QuorumMath::new(
            before.voters - usize::from(voter),
            before.healthy_voters - usize::from(voter && healthy),
        );
        Change::judge(format!("remove member {id}"), before, after)
    }

    /// Adding a member that has not started yet, as a learner or as a voter.
    pub fn add(status: &ClusterStatus, learner: bool) -> Change {
        let before = QuorumMath::of(status);
        let after = if learner {
            before
        } else {
            // A new voter counts at once but answers only once it runs and catches up.
            QuorumMath::new(before.voters + 1, before.healthy_voters)
        };
        let what = if learner { "learner" } else { "voter" };
        Change::judge(format!("add a {what}"), before, after)
    }

    /// Promoting learner `id` (hex) to voter.
    pub fn promote(status: &ClusterStatus, id: &str) -> Change {
        let before = QuorumMath::of(status);
        let healthy = status.members.iter().any(|m| m.id == id && m.reachable);
        let after = QuorumMath::new(
            before.voters + 1,
            before.healthy_voters + usize::from(healthy),
        );
        Change::judge(format!("promote member {id}"), before, after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn math() {
        let q = QuorumMath::new(3, 3);
        assert_eq!((q.quorum, q.failures_tolerated, q.has_quorum), (2, 1, true));
        let q = QuorumMath::new(4, 2);
        assert_eq!(
            (q.quorum, q.failures_tolerated, q.has_quorum),
            (3, 0, false)
        );
        let q = QuorumMath::new(0, 0);
        assert!(!q.has_quorum);
    }

    #[test]
    fn the_guard_refuses_what_breaks_quorum() {
        // 3 voters, one down: adding a voter makes 4 with 2 healthy -> quorum 3 -> refused.
        let before = QuorumMath::new(3, 2);
        let c = Change::judge("add".into(), before, QuorumMath::new(4, 2));
        assert!(!c.allowed);
        // Removing the dead one: 2 voters, 2 healthy -> fine.
        assert!(Change::judge("rm".into(), before, QuorumMath::new(2, 2)).allowed);
        // Removing a healthy one: 2 voters, 1 healthy -> refused.
        assert!(!Change::judge("rm".into(), before, QuorumMath::new(2, 1)).allowed);
        // The last voter.
        let c = Change::judge("rm".into(), QuorumMath::new(1, 1), QuorumMath::new(0, 0));
        assert!(c.refusal.unwrap().contains("last voting member"));
    }
}
