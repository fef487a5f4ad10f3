//! The command line under random input: random commands, flags and files (random bytes,
//! mutated snapshots, devices, FIFOs, folders, missing paths). Whatever comes in, lifeboat must
//! end on its own with one of its exit codes, never panic, stay within a memory bound, and under
//! `-o json` print JSON. Cases: `LIFEBOAT_FUZZ_CASES` (default 120). The seed is fixed so that a
//! CI run is repeatable; `LIFEBOAT_FUZZ_SEED=N` explores elsewhere (the closing notes report the
//! larger runs).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// Address space a run may take: a reader that slurps `/dev/zero` hits this long before the
/// machine notices, and the allocation failure aborts the process, which the test sees.
const MEMORY_LIMIT: u64 = 3 << 30;
/// A run that takes longer than this has hung: every network step is bounded by 1 s + 2 s.
const DEADLINE: Duration = Duration::from_secs(30);

/// The files a flag may be given: built once, shared by every case.
struct Pool {
    dir: tempfile::TempDir,
    files: Vec<PathBuf>,
}

impl Pool {
    fn new() -> Pool {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let fixture =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/etcd-3.4.23/snapshot.db");
        let snapshot = std::fs::read(&fixture).unwrap();
        let write = |name: &str, bytes: &[u8]| {
            let p = root.join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        };
        let mut files = vec![
            write("empty", b""),
            write("snapshot.db", &snapshot),
            write("truncated.db", &snapshot[..snapshot.len() / 2]),
            write("appended.db", &[snapshot.as_slice(), b"garbage"].concat()),
            write(
                "yaml.yaml",
                b"kind: CiliumClusterwideNetworkPolicy\nspec: [1, {a: }\n",
            ),
            write("scalar.yaml", b"42\n"),
            write(
                "json.json",
                b"{\"kind\": \"Pod\", \"metadata\": {\"name\": 1}}",
            ),
            write(
                "pem.pem",
                b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            ),
            PathBuf::from("/dev/zero"),
            PathBuf::from("/dev/null"),
            root.join("missing"),
        ];
        let folder = root.join("folder");
        std::fs::create_dir(&folder).unwrap();
        std::os::unix::fs::symlink(&folder, folder.join("loop")).unwrap();
        files.push(folder);
        let fifo = root.join("fifo");
        if Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .is_ok_and(|s| s.success())
        {
            files.push(fifo);
        }
        Pool { dir, files }
    }

    fn case_file(&self, case: usize, bytes: &[u8]) -> PathBuf {
        let p = self.dir.path().join(format!("random-{case}"));
        std::fs::write(&p, bytes).unwrap();
        p
    }
}

/// Commands that read input and change nothing outside the case's own temp folder.
fn command(which: usize, a: &str, b: &str, out: &str) -> Vec<String> {
    let words: &[&str] = match which % 17 {
        0 => &["snapshot", "verify", a],
        1 => &["snapshot", "inspect", a],
        2 => &["snapshot", "diff", a, b],
        3 => &["snapshot", "restore", a, "--data-dir", out],
        4 => &["datadir", "inspect", a],
        5 => &["datadir", "rank", a, b],
        6 => &["policy", "check", "-f", a],
        7 => &["policy", "lint", "-f", a],
        8 => &["policy", "connectivity", "-f", a],
        9 => &["policy", "diff", a, b],
        10 => &["kube", "list", "--snapshot", a],
        11 => &["kube", "get", "cm", "x", "--snapshot", a],
        12 => &["kube", "put", "-f", a, "--snapshot", b, "--out", out],
        13 => &["status"],
        14 => &["member", "list"],
        15 => &["recover", "plan", "--datadir-report", a],
        _ => &["policy", "check", "-f", a, "--cluster", b],
    };
    words.iter().map(|w| w.to_string()).collect()
}

/// An extra flag, maybe nonsense, maybe pointing at a file of the pool.
fn extra(which: usize, file: &str) -> Vec<String> {
    let words: &[&str] = match which % 13 {
        0 => &["--cacert", file],
        1 => &["--cert", file, "--key", file],
        2 => &["--identity", file],
        3 => &["--cilium-config", file],
        4 => &["--flows", file],
        5 => &["-o", "table"],
        6 => &["--no-such-flag"],
        7 => &["-o", "yaml"],
        8 => &["--encrypt-to", file],
        9 => &["-n", ""],
        10 => &["--dial-timeout", "nonsense"],
        11 => &["--observed", file],
        _ => &[],
    };
    words.iter().map(|w| w.to_string()).collect()
}

struct Run {
    code: Option<i32>,
    signal: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
    hung: bool,
}

fn run(args: &[String]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lifeboat"));
    cmd.args(args)
        .args(["--endpoints", "http://127.0.0.1:1", "--dial-timeout", "1s"])
        .args(["--command-timeout", "2s"])
        .env_remove("LIFEBOAT_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for var in [
        "ETCDCTL_ENDPOINTS",
        "ETCDCTL_CACERT",
        "ETCDCTL_CERT",
        "ETCDCTL_KEY",
    ] {
        cmd.env_remove(var);
    }
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: MEMORY_LIMIT,
                rlim_max: MEMORY_LIMIT,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let read_out = std::thread::spawn(move || read_all(stdout));
    let read_err = std::thread::spawn(move || read_all(stderr));
    let start = Instant::now();
    let mut hung = false;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > DEADLINE {
            hung = true;
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    use std::os::unix::process::ExitStatusExt;
    Run {
        code: status.code(),
        signal: status.signal(),
        stdout: read_out.join().unwrap(),
        stderr: String::from_utf8_lossy(&read_err.join().unwrap()).into_owned(),
        hung,
    }
}

fn read_all(mut r: impl std::io::Read) -> Vec<u8> {
    let mut buf = Vec::new();
    let _ = r.read_to_end(&mut buf);
    buf
}

fn check(args: &[String], json: bool, r: &Run) -> Result<(), String> {
    let line = args.join(" ");
    if r.hung {
        return Err(format!("hung past {DEADLINE:?}: {line}"));
    }
    if r.stderr.contains("panicked") || r.stderr.contains("memory allocation of") {
        return Err(format!(
            "panicked or ran out of memory: {line}\n{}",
            r.stderr
        ));
    }
    match (r.code, r.signal) {
        (Some(0 | 1 | 2 | 3 | 64), _) => {}
        (code, signal) => {
            return Err(format!(
                "exit {code:?} signal {signal:?}: {line}\n{}",
                r.stderr
            ));
        }
    }
    if json {
        serde_json::from_slice::<serde_json::Value>(&r.stdout).map_err(|e| {
            format!(
                "-o json printed no JSON ({e}): {line}\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&r.stdout),
                r.stderr
            )
        })?;
    }
    Ok(())
}

#[test]
fn random_command_lines_end_cleanly() {
    let cases: u32 = std::env::var("LIFEBOAT_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    let pool = Pool::new();
    let seed: u64 = std::env::var("LIFEBOAT_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2026);
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes);
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases,
            failure_persistence: None,
            // A failing case may be a hang of a minute; a few shrink steps find the short form.
            max_shrink_iters: 16,
            ..Config::default()
        },
        rng,
    );
    let strategy = (
        any::<usize>(),
        any::<usize>(),
        any::<usize>(),
        proptest::collection::vec(any::<usize>(), 0..3),
        any::<bool>(),
        proptest::collection::vec(any::<u8>(), 0..4096),
    );
    let counter = std::sync::atomic::AtomicUsize::new(0);
    let result = runner.run(&strategy, |(which, a, b, extras, json, bytes)| {
        let case = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let random = pool.case_file(case, &bytes);
        let pick = |i: usize| -> String {
            // One pick in four is the case's random bytes, the rest files of the pool.
            if i.is_multiple_of(4) {
                random.display().to_string()
            } else {
                pool.files[i % pool.files.len()].display().to_string()
            }
        };
        let out = pool.dir.path().join(format!("out-{case}"));
        let mut args = command(which, &pick(a), &pick(b), &out.display().to_string());
        for e in &extras {
            args.extend(extra(*e, &pick(e / 13)));
        }
        if json {
            args.extend(["-o".to_string(), "json".to_string()]);
        }
        let r = run(&args);
        check(&args, json, &r).map_err(TestCaseError::fail)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
