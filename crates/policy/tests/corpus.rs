//! Every case of the np-guard corpus: our connectivity listing equals expected_connlist.txt.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

use std::path::Path;

const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/netpol-analyzer"
);

fn run_case(dir: &Path) -> Result<(), String> {
    let docs = policy::source::load_path(&dir.join("input"), inputs::Kind::INVENTORY)
        .map_err(|e| e.to_string())?;
    let parsed = policy::parse::policies_with(&docs, policy::parse::Names::Lenient);
    if !parsed.errors.is_empty() {
        return Err(format!("{:?}", parsed.errors));
    }
    let inv = policy::inventory::read::inventory(&docs).map_err(|e| format!("{e:?}"))?;
    let got = policy::connectivity::connectivity(&inv, &parsed.policies.network_policies);
    let mut got: Vec<String> = got.iter().map(|c| c.line()).collect();
    got.sort();
    let expected =
        std::fs::read_to_string(dir.join("expected_connlist.txt")).map_err(|e| e.to_string())?;
    let mut want: Vec<String> = expected
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    want.sort();
    if got == want {
        return Ok(());
    }
    let missing: Vec<&String> = want.iter().filter(|l| !got.contains(l)).take(8).collect();
    let extra: Vec<&String> = got.iter().filter(|l| !want.contains(l)).take(8).collect();
    Err(format!(
        "{} lines vs {} expected\nmissing: {missing:#?}\nextra: {extra:#?}",
        got.len(),
        want.len()
    ))
}

#[test]
fn np_guard_corpus_matches_expected_connlists() {
    let cases = Path::new(CORPUS).join("cases");
    let mut entries: Vec<_> = std::fs::read_dir(&cases)
        .expect("corpus present")
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    assert!(entries.len() >= 16, "corpus has {} cases", entries.len());
    let mut failures = Vec::new();
    for dir in &entries {
        if let Err(e) = run_case(dir) {
            failures.push(format!("== {}: {e}", dir.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        entries.len(),
        failures.join("\n")
    );
}
