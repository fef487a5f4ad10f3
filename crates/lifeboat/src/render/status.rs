//! A cluster's status for people: shared by `status`, `member list` and `drill`.

use ops::SettingsSource;
use ops::status::{ClusterStatus, Quorum, QuorumState, Severity};

use crate::output;

/// The people's view: members, endpoints, quorum, alarms, then findings with their fixes.
pub fn render(s: &ClusterStatus, source: Option<&SettingsSource>) -> String {
    let mut out = String::new();
    if let Some(src) = source {
        out.push_str(&format!("Endpoints from {src}\n\n"));
    }

    let members = members_table_with(&s.members, &s.unexamined_members);
    if !s.members.is_empty() {
        out.push_str(&format!("MEMBERS\n{members}\n\n"));
    }

    let mut eps = output::table(&[
        "ENDPOINT", "MEMBER", "VERSION", "DB SIZE", "IN USE", "LEADER", "TERM", "INDEX", "APPLIED",
        "LATENCY", "ERRORS",
    ]);
    let dash = || "-".to_string();
    for e in &s.endpoints {
        let leader = match (&e.leader_id, e.is_leader) {
            (_, true) => "self".to_string(),
            (Some(l), false) => l.clone(),
            (None, false) if e.reachable => "NONE".to_string(),
            (None, false) => dash(),
        };
        eps.add_row(vec![
            e.endpoint.clone(),
            e.member_id.clone().unwrap_or_else(dash),
            e.version.clone().unwrap_or_else(dash),
            e.db_size.map(output::human_bytes).unwrap_or_else(dash),
            e.db_size_in_use
                .map(output::human_bytes)
                .unwrap_or_else(dash),
            leader,
            e.raft_term.map(|v| v.to_string()).unwrap_or_else(dash),
            e.raft_index.map(|v| v.to_string()).unwrap_or_else(dash),
            e.raft_applied_index
                .map(|v| v.to_string())
                .unwrap_or_else(dash),
            e.latency_ms
                .map(|v| format!("{v:.1} ms"))
                .unwrap_or_else(dash),
            e.errors.join("; "),
        ]);
    }
    out.push_str(&format!("ENDPOINTS\n{eps}\n\n"));

    if s.clusters.len() > 1 {
        out.push_str("CLUSTERS  the endpoints answer for several clusters; none is judged\n");
        for g in &s.clusters {
            out.push_str(&format!(
                "  {}  {}  {}\n",
                g.cluster_id,
                g.endpoints.join(","),
                quorum_line(&g.quorum)
            ));
        }
    } else {
        out.push_str(&format!("QUORUM  {}\n", quorum_line(&s.quorum)));
    }
    if s.alarms.is_empty() {
        out.push_str("ALARMS  none\n");
    } else {
        let list: Vec<String> = s
            .alarms
            .iter()
            .map(|a| format!("{} on {}", a.alarm, a.member_id))
            .collect();
        out.push_str(&format!("ALARMS  {}\n", list.join(", ")));
    }

    out.push_str("\nFINDINGS\n");
    for f in &s.findings {
        let sev = match f.severity {
            Severity::Ok => "OK",
            Severity::Warning => "WARNING",
            Severity::Critical => "CRITICAL",
        };
        out.push_str(&format!("{sev:<8}  {}  {}\n", f.code, f.message));
        if let Some(fix) = &f.fix {
            out.push_str(&format!("{:<8}  fix: {fix}\n", ""));
        }
    }
    out
}

/// What the quorum block proves, in one line: unknown is said, never shown as lost.
fn quorum_line(q: &Quorum) -> String {
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let leader = match (&q.leader_id, q.leader_agreed) {
        (Some(l), true) => format!("{l} (all agree)"),
        (Some(l), false) => format!("{l} (not all members agree)"),
        (None, _) if q.state == QuorumState::Unknown => "not confirmed".to_string(),
        (None, _) => "NONE".to_string(),
    };
    let verdict = match q.state {
        QuorumState::Held => format!(
            "quorum held, tolerates {} more failure{}",
            q.failures_tolerated,
            plural(q.failures_tolerated)
        ),
        QuorumState::Lost => "QUORUM LOST".to_string(),
        QuorumState::Unknown => "quorum NOT KNOWN (see PARTIAL_EVIDENCE)".to_string(),
    };
    let not_asked = match q.unexamined_voters {
        0 => String::new(),
        n => format!(", {n} not asked"),
    };
    format!(
        "{} of {} voting members answer{not_asked}, quorum is {}: {verdict}; leader {leader}",
        q.reachable_voters, q.voting_members, q.quorum_size
    )
}

/// Members with their role and state; shared by `status` and `member list`.
pub fn members_table(rows: &[ops::status::MemberRow]) -> comfy_table::Table {
    members_table_with(rows, &[])
}

/// As [`members_table`], with the members nobody asked shown as such rather than unreachable.
pub fn members_table_with(
    rows: &[ops::status::MemberRow],
    not_asked: &[String],
) -> comfy_table::Table {
    let mut t = output::table(&["ID", "NAME", "PEER URLS", "CLIENT URLS", "ROLE", "STATE"]);
    for m in rows {
        let role = if m.is_leader {
            "leader"
        } else if m.is_learner {
            "learner"
        } else {
            "voter"
        };
        let state = match (m.started, m.reachable) {
            (false, _) => "never started",
            (true, true) => "answers",
            (true, false) if not_asked.contains(&m.id) => "not asked",
            (true, false) => "UNREACHABLE",
        };
        let name = if m.name.is_empty() {
            "-"
        } else {
            m.name.as_str()
        };
        t.add_row(vec![
            m.id.clone(),
            name.to_string(),
            m.peer_urls.join(","),
            m.client_urls.join(","),
            role.to_string(),
            state.to_string(),
        ]);
    }
    t
}
