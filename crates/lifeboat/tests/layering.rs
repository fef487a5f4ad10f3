#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test
//! The binary's one-way layering: a command module (`src/commands/<name>/…` or
//! `src/commands/<name>.rs`) uses the shared modules at the crate's top level (`context`,
//! `confirm`, `flags`, `source`, `render`, `runtime`, …) and the libraries, never another
//! command and never the command tree in `cli` that dispatches to it. Shared pieces that live
//! in whichever command had them first grow an import circle; this test names each such edge.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// One reference from a command module to something outside its own command.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Edge {
    /// Path below `src/commands`, `/`-separated.
    file: String,
    /// The other command, or `cli`.
    target: String,
    line: usize,
}

fn commands_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/commands")
}

/// The commands: every `src/commands/<name>.rs` and `src/commands/<name>/` but `mod.rs`.
fn command_names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            let stem = p.file_stem()?.to_str()?.to_owned();
            (p.is_dir() || (p.extension()? == "rs" && stem != "mod")).then_some(stem)
        })
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The module path of a file below `src/commands`, from `commands` down: `commands/kube/mod.rs`
/// is `[commands, kube]`, `commands/kube/get.rs` is `[commands, kube, get]`.
fn module_path(rel: &str) -> Vec<String> {
    let mut parts: Vec<String> = std::iter::once("commands".to_owned())
        .chain(rel.split('/').map(str::to_owned))
        .collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" {
        parts.push(stem.to_owned());
    }
    parts
}

/// Code without `//` comments (doc comments included), so prose naming a path is no edge.
fn code_of(line: &str) -> &str {
    line.split_once("//").map_or(line, |(code, _)| code)
}

/// The path segments right after each `prefix` in `code`: `crate::commands::` in
/// `crate::commands::kube::Source` gives `kube`.
fn after<'a>(code: &'a str, prefix: &str) -> Vec<&'a str> {
    code.match_indices(prefix)
        .map(|(i, _)| {
            let rest = &code[i + prefix.len()..];
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .collect()
}

/// Every command (or `cli`) other than its own that the file at `rel` reaches.
fn edges_of(rel: &str, text: &str, commands: &BTreeSet<String>) -> Vec<Edge> {
    let module = module_path(rel);
    let own = module.get(1).cloned().unwrap_or_default();
    let mut targets: Vec<(String, usize)> = Vec::new();
    let mut in_group = false;
    for (n, raw) in text.lines().enumerate() {
        let code = code_of(raw);
        let line = n + 1;
        for name in after(code, "crate::commands::") {
            targets.push((name.to_owned(), line));
        }
        if code.contains("crate::cli") {
            targets.push(("cli".to_owned(), line));
        }
        // `use crate::{cli::Context, commands::kube::Source};`, on one line or several.
        if code.contains("use crate::{") {
            in_group = true;
        }
        if in_group {
            let group = code.split_once("use crate::{").map_or(code, |(_, g)| g);
            for name in after(group, "commands::") {
                targets.push((name.to_owned(), line));
            }
            if group
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .any(|w| w == "cli")
            {
                targets.push(("cli".to_owned(), line));
            }
            if code.contains("};") {
                in_group = false;
            }
        }
        // `super::super::kube` from `commands/policy/x.rs` is `commands::kube`.
        for (i, _) in code.match_indices("super::") {
            if i > 0 && code[..i].ends_with("super::") {
                continue; // counted from the first `super::` of the chain
            }
            let mut rest = &code[i..];
            let mut at = module.len();
            while let Some(r) = rest.strip_prefix("super::") {
                rest = r;
                at = at.saturating_sub(1);
            }
            if at == 1 {
                let end = rest
                    .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                targets.push((rest[..end].to_owned(), line));
            }
        }
    }
    targets
        .into_iter()
        .filter(|(t, _)| t == "cli" || (commands.contains(t) && *t != own))
        .map(|(target, line)| Edge {
            file: rel.to_owned(),
            target,
            line,
        })
        .collect()
}

fn all_edges() -> Vec<Edge> {
    let dir = commands_dir();
    let commands = command_names(&dir);
    let mut files = Vec::new();
    rust_files(&dir, &mut files);
    let mut edges = Vec::new();
    for f in files {
        let rel = f
            .strip_prefix(&dir)
            .unwrap()
            .to_str()
            .unwrap()
            .replace('\\', "/");
        let text = std::fs::read_to_string(&f).unwrap();
        edges.extend(edges_of(&rel, &text, &commands));
    }
    edges.sort();
    edges
}

#[test]
fn no_command_reaches_another_command_or_the_command_tree() {
    let bad: Vec<String> = all_edges()
        .iter()
        .map(|e| format!("src/commands/{}:{} uses `{}`", e.file, e.line, e.target))
        .collect();
    assert!(
        bad.is_empty(),
        "command modules reach other commands (move the shared piece to a top-level module: \
         context, confirm, flags, source, render, runtime, ...):\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_scan_sees_every_spelling_of_an_edge() {
    let commands: BTreeSet<String> = ["kube", "member", "snapshot", "status"]
        .map(str::to_owned)
        .into();
    let seen = |rel: &str, text: &str| -> Vec<String> {
        edges_of(rel, text, &commands)
            .into_iter()
            .map(|e| e.target)
            .collect()
    };
    assert_eq!(seen("kube/put.rs", "use crate::cli::Context;"), ["cli"]);
    assert_eq!(
        seen(
            "kube/put.rs",
            "    crate::commands::member::confirm(args.yes, what)?;"
        ),
        ["member"]
    );
    assert_eq!(
        seen(
            "kube/put.rs",
            "use crate::{\n    cli::Context,\n    commands::snapshot::identities,\n};"
        ),
        ["cli", "snapshot"]
    );
    assert_eq!(
        seen("kube/put.rs", "let rt = super::super::status::render(s);"),
        ["status"]
    );
    assert_eq!(
        seen("status.rs", "super::member::confirm(true, \"x\")"),
        ["member"]
    );
    // Its own command, shared modules, comments and deeper `super` chains are no edge.
    assert!(seen("kube/put.rs", "use super::{Source, not_found};").is_empty());
    assert!(seen("kube/put.rs", "use crate::commands::kube::Source;").is_empty());
    assert!(seen("kube/put.rs", "use crate::context::Context;").is_empty());
    assert!(seen("kube/put.rs", "// was crate::commands::member::confirm").is_empty());
    assert!(seen("kube/x/y.rs", "super::super::not_found()").is_empty());
}
