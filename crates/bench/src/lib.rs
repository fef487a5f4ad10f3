//! Benchmark helpers: run a command many times, take the median, print a comparison.
//!
//! # Layout
//! - this file: timing of external commands and a markdown row printer.
//! - `src/bin/bench-status.rs`: `lifeboat status` against `etcdctl endpoint status` + `member list`.
//!
//! Benchmarks are binaries, not tests: they never run in CI and they print figures, not verdicts.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The release binary under test: `LIFEBOAT_BIN`, else `target/release/lifeboat`.
pub fn lifeboat_bin() -> PathBuf {
    std::env::var_os("LIFEBOAT_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/release/lifeboat"))
}

/// Wall time of one run of `program args`, output discarded; the exit code does not matter
/// (status exits non-zero on a broken cluster, which is what some runs measure).
pub fn time_once(program: &str, args: &[String]) -> Duration {
    let start = Instant::now();
    let _ = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    start.elapsed()
}

/// Median wall time of `runs` runs of a sequence of commands (their times added per run).
pub fn median_of(runs: usize, commands: &[(&str, Vec<String>)]) -> Duration {
    let mut samples: Vec<Duration> = (0..runs.max(1))
        .map(|_| commands.iter().map(|(p, a)| time_once(p, a)).sum())
        .collect();
    samples.sort();
    samples[samples.len() / 2]
}

pub fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}
