//! Output: a table for people, JSON for scripts, the same data in both. Everything goes through
//! here so a closed pipe (`lifeboat status | head -3`) ends the program quietly instead of
//! panicking in `println!`.

use std::io::{self, Write};

use clap::ValueEnum;
use comfy_table::{ContentArrangement, Table, presets};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    #[default]
    Table,
    Json,
}

/// What `-o` asked for. `txt` and `dot` exist for `policy connectivity` (np-guard's listing and a
/// graph); every other command knows only a table or JSON, and refuses them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum OutputArg {
    #[default]
    Table,
    Json,
    Txt,
    Dot,
    Yaml,
}

impl OutputArg {
    pub fn format(self) -> Format {
        match self {
            OutputArg::Json => Format::Json,
            _ => Format::Table,
        }
    }
}

/// Writes `text` to stdout; on a broken pipe, exits 0 at once (the reader has all it wanted).
pub fn print(text: &str) {
    let mut out = io::stdout().lock();
    let res = out.write_all(text.as_bytes()).and_then(|_| out.flush());
    if let Err(e) = res {
        if e.kind() == io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        // Nothing sensible to tell the user on a failing stdout; stderr may still work.
        let _ = writeln!(io::stderr(), "lifeboat: cannot write output: {e}");
        std::process::exit(3);
    }
}

/// Pretty JSON with a trailing newline.
pub fn print_json<T: Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(s) => print(&format!("{s}\n")),
        Err(e) => {
            let _ = writeln!(io::stderr(), "lifeboat: cannot encode JSON: {e}");
            std::process::exit(3);
        }
    }
}

/// A table in the house style: light borders, wrapped to the terminal when there is one.
pub fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.iter().copied());
    t
}

/// Progress and notes for people go to stderr, so stdout stays clean for pipes.
pub fn note(text: &str) {
    let _ = writeln!(io::stderr(), "{text}");
}

/// `1.5 MiB`: sizes for people; JSON always carries plain byte counts.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}
