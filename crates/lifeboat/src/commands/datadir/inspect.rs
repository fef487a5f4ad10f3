//! `lifeboat datadir inspect DIR`: what one member's files say, with no etcd running.

use std::path::PathBuf;

use clap::Args;
use store::datadir::DataDirReport;
use store::wal::SegmentEnd;

use crate::context::Context;
use crate::exit::Exit;
use crate::output::human_bytes;
use crate::output::{self, Format};

#[derive(Debug, Clone, Args)]
pub struct InspectArgs {
    /// etcd data dir (holding member/), or the member dir itself
    pub dir: PathBuf,
}

pub fn run(ctx: &Context, args: &InspectArgs) -> anyhow::Result<Exit> {
    let r = store::datadir::inspect(&args.dir)?;
    match ctx.format {
        Format::Json => output::print_json(&r),
        Format::Table => output::print(&render(&r)),
    }
    Ok(exit_for(&r))
}

/// Critical when etcd would refuse to start on the dir, a warning for any other problem.
pub fn exit_for(r: &DataDirReport) -> Exit {
    if !r.start_blockers.is_empty() {
        Exit::Critical
    } else if r.problems.is_empty() {
        Exit::Ok
    } else {
        Exit::Warning
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |x| x.to_string())
}

pub fn render(r: &DataDirReport) -> String {
    let mut t = output::table(&["FIELD", "VALUE"]);
    let hs = r.hard_state.map_or("-".to_string(), |h| {
        format!("term {}, vote {:016x}, commit {}", h.term, h.vote, h.commit)
    });
    let last = r.last_entry.map_or("-".to_string(), |p| {
        format!("term {}, index {}", p.term, p.index)
    });
    let snaps = r
        .wal_snapshots
        .iter()
        .map(|s| format!("({},{})", s.index, s.term))
        .collect::<Vec<_>>()
        .join(" ");
    let files = r
        .snap_files
        .iter()
        .map(|s| format!("{}{}", s.name, if s.valid { "" } else { " (INVALID)" }))
        .collect::<Vec<_>>()
        .join(", ");
    let wal_end = r.wal.segments.last().map_or("-".to_string(), |s| {
        let end = segment_end(s);
        match s.trailing {
            Some(t) => format!(
                "{end}, then {} of data etcd never reads (from offset {})",
                human_bytes(t.bytes),
                t.offset
            ),
            None => end,
        }
    });
    let mut rows: Vec<(&str, String)> = vec![
        ("dir", r.dir.clone()),
        ("member id", opt(r.member_id.clone())),
        ("cluster id", opt(r.cluster_id.clone())),
        ("hard state", hs),
        ("last entry", last),
        (
            "committed",
            format!("{} (max of commit and consistent index)", r.committed),
        ),
        ("wal snapshots (index,term)", snaps),
        ("snap files", files),
        (
            "snapshot in use",
            r.snapshot.map_or("-".to_string(), |s| {
                format!("index {}, term {}", s.index, s.term)
            }),
        ),
    ];
    if let Some(db) = &r.db {
        rows.push(("db consistent index", opt(db.consistent_index)));
        rows.push(("db term", opt(db.term)));
        rows.push(("db revision", opt(db.revision)));
        rows.push(("db compact revision", opt(db.compact_revision)));
        rows.push((
            "db size",
            format!(
                "{} file, {} in use",
                human_bytes(db.file_size),
                human_bytes(db.total_size)
            ),
        ));
        let members = db
            .members
            .iter()
            .map(|m| format!("{} ({})", m.id, m.name))
            .collect::<Vec<_>>()
            .join(", ");
        rows.push(("db members", members));
        if !db.removed_members.is_empty() {
            rows.push(("db removed members", db.removed_members.join(", ")));
        }
    }
    rows.push((
        "wal",
        format!(
            "{} segment(s), {}, {} entries, crc chain {}, {}",
            r.wal.segments.len(),
            human_bytes(r.wal.total_size),
            r.wal.entries,
            if r.wal.crc_ok { "ok" } else { "BROKEN" },
            wal_end
        ),
    ));
    rows.push((
        "live",
        if r.live.locked {
            format!("YES, files are locked: {}", r.live.holders.join("; "))
        } else {
            "no lock held".to_string()
        },
    ));
    for (k, v) in rows {
        t.add_row([k.to_string(), v]);
    }
    let mut out = format!("{t}\n");
    if !r.conf_changes.is_empty() {
        let mut c = output::table(&["INDEX", "TERM", "CONF CHANGE", "NODE"]);
        for cc in &r.conf_changes {
            c.add_row([
                cc.index.to_string(),
                cc.term.to_string(),
                cc.change.clone(),
                cc.node_id.clone(),
            ]);
        }
        out.push_str(&format!("\n{c}\n"));
    }
    if !r.start_blockers.is_empty() {
        out.push_str("\netcd would refuse to start on this dir:\n");
        for p in &r.start_blockers {
            out.push_str(&format!("  - {p}\n"));
        }
    }
    let others: Vec<&String> = r
        .problems
        .iter()
        .filter(|p| !r.start_blockers.contains(p))
        .collect();
    if !others.is_empty() {
        out.push_str("\nProblems:\n");
        for p in others {
            out.push_str(&format!("  - {p}\n"));
        }
    }
    // An unreadable freelist is already listed as what keeps etcd from starting.
    let db_warnings =
        r.db.iter()
            .flat_map(|d| &d.warnings)
            .filter(|w| w.kind != "freelist_unreadable");
    let mut first = true;
    for w in db_warnings {
        if first {
            out.push_str("\nWarnings (the data stays readable):\n");
            first = false;
        }
        out.push_str(&format!("  - db: {}\n", w.detail));
    }
    out
}

/// How reading the last segment ended, for the table.
fn segment_end(s: &store::wal::Segment) -> String {
    match &s.end {
        SegmentEnd::Eof | SegmentEnd::Zeros { .. } => "clean".to_string(),
        SegmentEnd::TornTail { offset, what } => {
            format!("torn tail at {} offset {offset}: {what}", s.name)
        }
        SegmentEnd::Corrupt { offset, what } => {
            format!("CORRUPT at {} offset {offset}: {what}", s.name)
        }
        SegmentEnd::NotRead => "not read".to_string(),
    }
}
