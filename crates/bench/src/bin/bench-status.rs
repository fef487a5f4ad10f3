//! `lifeboat status` against `etcdctl endpoint status --cluster` plus `etcdctl member list`, on
//! the same clusters in the same run. Prints markdown rows for BENCHMARKS.md.
//!
//! Run: `./scripts/bench-status.sh` (builds release binaries first).

use std::time::Duration;

use bench::{lifeboat_bin, median_of, ms};
use testkit::{LocalClusterSpec, TestCluster};

const RUNS: usize = 21;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let lifeboat = lifeboat_bin().display().to_string();
    println!(
        "| case | lifeboat status | etcdctl endpoint status --cluster + member list | ratio (etcdctl / lifeboat) |"
    );
    println!("|---|---|---|---|");

    // Healthy 3-member TLS cluster.
    let tc = TestCluster::tls(3).await;
    let args = tc.cli_args();
    let mut lb = vec!["status".to_string(), "-o".into(), "json".into()];
    lb.extend(args.clone());
    let mut st = args.clone();
    st.extend(["endpoint", "status", "--cluster", "-w", "json"].map(String::from));
    let mut ml = args.clone();
    ml.extend(["member", "list", "-w", "json"].map(String::from));
    let _ = median_of(3, &[(&lifeboat, lb.clone())]);
    let ours = median_of(RUNS, &[(&lifeboat, lb.clone())]);
    let theirs = median_of(RUNS, &[("etcdctl", st), ("etcdctl", ml)]);
    row("healthy 3-member TLS, median of 21", ours, theirs);
    drop(tc);

    // Five members, two killed: dead ports refuse at once.
    let mut tc = TestCluster::start(LocalClusterSpec {
        members: 5,
        ..LocalClusterSpec::default()
    })
    .await;
    tc.cluster.kill(3);
    tc.cluster.kill(4);
    tc.wait_leader(Duration::from_secs(60)).await;
    let dead = five_member_case(&tc, &lifeboat);
    row(
        "5 members, 2 killed, median of 5 (dial-timeout 2s)",
        dead.0,
        dead.1,
    );

    // Five members, two frozen (SIGSTOP): they accept TCP and never answer.
    tc.cluster.restart(3).ok();
    tc.cluster.restart(4).ok();
    tc.wait_leader(Duration::from_secs(60)).await;
    tc.cluster.pause(3);
    tc.cluster.pause(4);
    tc.wait_leader(Duration::from_secs(60)).await;
    let frozen = five_member_case(&tc, &lifeboat);
    row(
        "5 members, 2 frozen by SIGSTOP, median of 5 (dial 2s + command 5s)",
        frozen.0,
        frozen.1,
    );
    tc.cluster.resume(3);
    tc.cluster.resume(4);
}

fn five_member_case(tc: &TestCluster, lifeboat: &str) -> (Duration, Duration) {
    let args = tc.cli_args();
    let mut lb = vec!["status".to_string(), "-o".into(), "json".into()];
    lb.extend(args.clone());
    let mut st = args.clone();
    st.extend(
        [
            "--dial-timeout=2s",
            "endpoint",
            "status",
            "--cluster",
            "-w",
            "json",
        ]
        .map(String::from),
    );
    let mut ml = args;
    ml.extend(["--dial-timeout=2s", "member", "list", "-w", "json"].map(String::from));
    let ours = median_of(5, &[(lifeboat, lb)]);
    let theirs = median_of(5, &[("etcdctl", st), ("etcdctl", ml)]);
    (ours, theirs)
}

fn row(case: &str, ours: Duration, theirs: Duration) {
    let ratio = theirs.as_secs_f64() / ours.as_secs_f64().max(1e-9);
    println!("| {case} | {} | {} | {ratio:.2}x |", ms(ours), ms(theirs));
}
