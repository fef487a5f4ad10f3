//! `cargo run --release -p store --example offline -- inspect|verify|analyze|check|sha FILE`: the library
//! calls behind `lifeboat snapshot inspect/verify`, for profiling without the binary.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(cmd), Some(file)) = (args.next(), args.next()) else {
        return Err("usage: offline inspect|verify|analyze|check|sha FILE".into());
    };
    let file = PathBuf::from(file);
    let json = match cmd.as_str() {
        "inspect" => serde_json::to_string_pretty(&store::report::inspect(&file)?)?,
        "analyze" => {
            let snap = store::snapshot::SnapshotFile::open(&file)?;
            let db = snap.db()?;
            serde_json::to_string_pretty(&store::analyze::analyze(&db).status)?
        }
        "check" => {
            let snap = store::snapshot::SnapshotFile::open(&file)?;
            format!("{:?}", snap.db()?.check().stats)
        }
        "sha" => {
            let snap = store::snapshot::SnapshotFile::open(&file)?;
            format!("{:?}", snap.sha_status()?)
        }
        "verify" => serde_json::to_string_pretty(&store::report::verify(&file)?)?,
        other => return Err(format!("unknown command {other}").into()),
    };
    println!("{json}");
    Ok(())
}
