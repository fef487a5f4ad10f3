//! What `snapshot restore` tells the operator: what was written and checked, what happened
//! to the revision, how to start each member (flags and env-file lines), and with Kubernetes
//! data the order of things around the restore.

use serde::Serialize;
use store::restore::{Outcome, RestoredMember};

/// How to start one restored member on its node.
#[derive(Debug, Serialize)]
pub struct Start {
    pub name: String,
    pub id: String,
    pub flags: Vec<String>,
    pub env: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    #[serde(flatten)]
    pub outcome: Outcome,
    /// One sentence on the revision: bumped (and why), or not (and how to).
    pub revision_note: String,
    pub start: Vec<Start>,
    /// Empty unless the snapshot holds Kubernetes data.
    pub checklist: Vec<String>,
}

fn start(m: &RestoredMember, o: &Outcome) -> Start {
    let urls = m.peer_urls.join(",");
    let dir = m.data_dir.display().to_string();
    let pairs = [
        ("name", m.name.clone()),
        ("data-dir", dir),
        ("initial-advertise-peer-urls", urls.clone()),
        ("listen-peer-urls", urls),
        ("initial-cluster", o.initial_cluster.clone()),
        ("initial-cluster-token", o.token.clone()),
        ("initial-cluster-state", "new".to_string()),
    ];
    Start {
        name: m.name.clone(),
        id: m.id.clone(),
        flags: pairs.iter().map(|(k, v)| format!("--{k}={v}")).collect(),
        env: pairs
            .iter()
            .map(|(k, v)| format!("ETCD_{}={v}", k.replace('-', "_").to_uppercase()))
            .collect(),
    }
}

fn revision_note(o: &Outcome, no_bump: bool) -> String {
    match (&o.db.bump, o.db.kubernetes, no_bump) {
        (Some(b), _, _) if b.automatic => format!(
            "Revision bumped by {} to {} and everything older marked compacted, because the \
             snapshot holds Kubernetes data (informers re-list instead of going back in time); \
             --no-bump turns this off",
            b.amount, b.revision
        ),
        (Some(b), _, _) => format!(
            "Revision bumped by {} to {} (--bump-revision) and everything older marked compacted",
            b.amount, b.revision
        ),
        (None, true, true) => format!(
            "Revision NOT bumped (--no-bump): it stays {}. Kubernetes watchers that saw a newer \
             revision will not notice the restore; restart every kube component",
            o.db.revision
        ),
        (None, _, _) => format!(
            "Revision not bumped: it stays {} (no Kubernetes data; --bump-revision N \
             --mark-compacted to bump)",
            o.db.revision
        ),
    }
}

fn checklist(o: &Outcome) -> Vec<String> {
    if !o.db.kubernetes {
        return Vec::new();
    }
    vec![
        "Before starting etcd: stop every kube-apiserver (move its static pod manifest out of \
         /etc/kubernetes/manifests, or stop its service), so nothing writes to the old cluster \
         or caches revisions from it"
            .into(),
        format!(
            "Restore every member from this one file with the same --initial-cluster and \
             --initial-cluster-token (cluster ID {}); never mix snapshots",
            o.cluster_id
        ),
        "Start every etcd member with the flags below, then check: lifeboat status".into(),
        "Start the kube-apiservers again, then restart kube-controller-manager, \
         kube-scheduler and every kubelet so no component keeps state from before the restore"
            .into(),
    ]
}

impl Report {
    pub fn new(outcome: Outcome, no_bump: bool) -> Report {
        let start = outcome
            .restored
            .iter()
            .map(|m| start(m, &outcome))
            .collect();
        Report {
            revision_note: revision_note(&outcome, no_bump),
            checklist: checklist(&outcome),
            start,
            outcome,
        }
    }

    pub fn text(&self) -> String {
        let o = &self.outcome;
        let hash = match o.hash_check {
            "verified" => format!("SHA-256 {} verified", o.sha256.as_deref().unwrap_or("")),
            "skipped" => "SHA-256 check skipped (--skip-hash-check)".into(),
            _ => "no SHA-256 trailer (raw db), hash check skipped".into(),
        };
        let mut s = format!(
            "Restored {} ({hash}; bbolt structure checked while copying)\n\
             Data at revision {}, db {}; old membership trimmed ({} entries removed)\n\
             Written for etcd {}\n{}\n\n\
             New cluster {} (token {}):\n",
            o.snapshot.display(),
            o.db.revision,
            super::super::human_bytes(o.db.size),
            o.db.trimmed_members,
            o.etcd.describe(),
            self.revision_note,
            o.cluster_id,
            o.token,
        );
        let mut t = crate::output::table(&["MEMBER", "ID", "PEER URLS", "DATA DIR"]);
        for m in &o.members {
            let dir = o
                .restored
                .iter()
                .find(|r| r.name == m.name)
                .map(|r| r.data_dir.display().to_string())
                .unwrap_or_else(|| "(restore on its own node)".into());
            t.add_row([m.name.clone(), m.id.clone(), m.peer_urls.join(","), dir]);
        }
        s.push_str(&format!("{t}\n"));
        if let Some(installed) = &o.etcd.installed_differs {
            s.push_str(&format!(
                "The etcd installed here is {installed}, not {}: start these dirs with etcd {} \
                 (another release may log schema warnings or refuse them)\n",
                o.etcd.version, o.etcd.version
            ));
        }
        if o.db.alarms > 0 {
            s.push_str(&format!(
                "The snapshot carries {} alarm(s), kept as etcd keeps them: after start, run \
                 `etcdctl alarm list` and `etcdctl alarm disarm` (a NOSPACE alarm blocks writes)\n",
                o.db.alarms
            ));
        }
        for p in &o.removed_leftovers {
            s.push_str(&format!(
                "Removed {}, left by a restore that was killed (its process is gone)\n",
                p.display()
            ));
        }
        for (from, to) in &o.moved_aside {
            s.push_str(&format!(
                "The old {} was moved aside to {}\n",
                from.display(),
                to.display()
            ));
        }
        if !self.checklist.is_empty() {
            s.push_str("\nKubernetes checklist:\n");
            for (i, c) in self.checklist.iter().enumerate() {
                s.push_str(&format!("  {}. {c}\n", i + 1));
            }
        }
        for st in &self.start {
            s.push_str(&format!(
                "\nStart member {} ({}) with (plus its client URLs and TLS flags):\n  etcd {}\n\
                 or in its env file:\n",
                st.name,
                st.id,
                st.flags.join(" \\\n    ")
            ));
            for e in &st.env {
                s.push_str(&format!("  {e}\n"));
            }
        }
        s
    }
}
