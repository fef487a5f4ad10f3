//! The people's view of a drill report.

use super::DrillReport;
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
    out.push_str(&crate::commands::status::render(&r.status_before, None));
    out.push_str(&format!("\nAFTER LOSING {}\n", r.lost_members.join(", ")));
    out.push_str(&crate::commands::status::render(&r.status_after, None));
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
        out.push_str(&crate::commands::status::render(f, None));
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
        out.push_str(&super::total_loss::render(tl));
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
