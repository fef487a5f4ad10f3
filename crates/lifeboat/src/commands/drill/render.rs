//! The people's view of a drill report.

use lab::DrillReport;
use lab::total_loss::TotalLossReport;

use crate::output;

pub(super) fn render(r: &DrillReport) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "DRILL {:?}: {} members, {} lost\n\n",
        r.scenario,
        r.members,
        r.lost_members.len()
    ));
    out.push_str("BEFORE THE DISASTER\n");
    out.push_str(&crate::render::status::render(&r.status_before, None));
    out.push_str(&format!("\nAFTER LOSING {}\n", r.lost_members.join(", ")));
    out.push_str(&crate::render::status::render(&r.status_after, None));
    if let Some(p) = &r.plan {
        out.push_str(&format!(
            "\nRECOVERY PLAN  seed {}: {}\n",
            p.seed, p.seed_reason
        ));
        for w in &p.warnings {
            out.push_str(&format!("  warning: {w}\n"));
        }
    }
    if let Some(f) = &r.status_final {
        out.push_str("\nAFTER RECOVERY\n");
        out.push_str(&crate::render::status::render(f, None));
    }
    out.push_str(&format!(
        "\nKEYS  {} acknowledged before, {} after, {} lost\n",
        r.keys_before, r.keys_after, r.lost
    ));
    if let Some(rt) = &r.recovery {
        out.push_str(&format!(
            "RECOVERY  {:.1}s, {:.1}x its floor of {:.1}s (seed start {:.1}s + one member receiving the data {:.1}s)\n",
            rt.recovery_seconds, rt.ratio, rt.floor_seconds, rt.seed_start_seconds, rt.member_receive_seconds
        ));
    }
    if let Some(tl) = &r.total_loss {
        out.push_str(&total_loss(tl));
    }
    let mut t = output::table(&["STEP", "SECONDS"]);
    for s in &r.steps {
        t.add_row(vec![s.name.clone(), format!("{:.2}", s.seconds)]);
    }
    out.push_str(&format!(
        "\nTIMELINE\n{t}\n\nVERDICT  {}: {}\n",
        r.verdict.to_uppercase(),
        r.verdict_reason
    ));
    out
}

/// The people's view of the RPO, RTO and agent figures.
fn total_loss(r: &TotalLossReport) -> String {
    let w = &r.writes;
    let mut out = format!(
        "\nWRITE LOAD  {}/s asked, {} acknowledged in {:.1}s, {} failed (after the kill)\n",
        w.rate_per_second, w.acknowledged, w.seconds, w.failed
    );
    if let Some(b) = &r.backup {
        out.push_str(&format!(
            "BACKUP  {}: full at revision {} + {} segments ({} events) -> restored revision {}\n",
            b.store, b.full_revision, b.segments, b.events, b.restored_revision
        ));
    }
    if let Some(p) = &r.rpo {
        out.push_str(&format!(
            "RPO  {:.3}s ({} the {}s objective): {} acknowledged writes lost (last acknowledged revision {}, last acknowledged {}, newest restored {})\n",
            p.seconds,
            if p.within_objective { "within" } else { "OVER" },
            p.objective_seconds,
            p.lost_writes,
            p.last_acknowledged_revision,
            p.last_acknowledged_at.as_deref().unwrap_or("-"),
            p.newest_restored_at.as_deref().unwrap_or("-"),
        ));
    }
    let mut t = output::table(&["RTO STEP", "SECONDS"]);
    if let Some(rto) = &r.rto {
        for (name, s) in [
            ("detect", rto.detect_seconds),
            ("fetch", rto.fetch_seconds),
            ("rebuild", rto.rebuild_seconds),
            ("restore", rto.restore_seconds),
            ("start", rto.start_seconds),
            ("total", rto.total_seconds),
        ] {
            t.add_row(vec![name.to_string(), format!("{s:.2}")]);
        }
        out.push_str(&format!("{t}\n"));
    }
    let a = &r.agent;
    let opt = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x}"));
    out.push_str(&format!(
        "AGENT  peak RSS {}, delta lag {} revisions / {}s at the last scrape\n",
        a.peak_rss_bytes.map_or("-".into(), output::human_bytes),
        opt(a.lag_revisions),
        opt(a.lag_seconds)
    ));
    out
}
