#!/usr/bin/env bash
# Policy benchmarks (issue 6), same input, same run:
#   1. `lifeboat policy connectivity` vs IBM network-config-analyzer (`nca --connectivity -r DIR`)
#      on every np-guard corpus case and on generated inputs of 300 pods / 20 namespaces /
#      60 NetworkPolicies; lifeboat alone at 10x (3,000 pods, 200 namespaces, 600 policies) and
#      100x (30,000 pods, 6,000 policies; namespaces stay at 200 because the listing is
#      quadratic in workloads); nca did not finish at 2,000 pods / 500 policies.
#   2. `lifeboat policy check` on a generated cluster of 5,000 nodes, 150,000 pods in 2,000
#      namespaces and 10,000 policies: wall time and peak RSS.
# Times are medians of BENCH_RUNS runs (default 5; nca 3). Prints a Markdown table; the
# results go to the "Policy" section of BENCHMARKS.md by hand.
#
#   scripts/bench-policy.sh
#   LIFEBOAT_BIN=target/release/lifeboat NCA_BIN=/tmp/nca-venv/bin/nca scripts/bench-policy.sh
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${BENCH_RUNS:-5}
WORK=${BENCH_DIR:-$(mktemp -d /tmp/lifeboat-bench-policy.XXXXXX)}
CORPUS=fixtures/netpol-analyzer/cases
LIFEBOAT=${LIFEBOAT_BIN:-target/release/lifeboat}
NCA=${NCA_BIN:-/tmp/nca-venv/bin/nca}
TARGET=${CARGO_TARGET_DIR:-target}

for tool in python3 /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench-policy: $tool is missing" >&2; exit 3; }
done
if [ -z "${LIFEBOAT_BIN:-}" ]; then
  cargo build --locked --release -p lifeboat
fi
cargo build --locked --release -p policy --example gen_cluster
GEN="$TARGET/release/examples/gen_cluster"
if [ ! -x "$NCA" ]; then
  # PyPI through pip, into a venv under /tmp (issue 6).
  python3 -m venv /tmp/nca-venv
  /tmp/nca-venv/bin/pip install --quiet network-config-analyzer
  NCA=/tmp/nca-venv/bin/nca
fi

# median_time RUNS CMD...: median wall seconds of RUNS runs (output discarded).
median_time() {
  local n=$1; shift
  python3 - "$n" "$@" <<'PY'
import subprocess, sys, time, statistics
n = int(sys.argv[1]); cmd = sys.argv[2:]
times = []
for _ in range(n):
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    times.append(time.perf_counter() - t)
print(f"{statistics.median(times):.4f}")
PY
}

ratio() { python3 -c "print(f'{float($1)/float($2):.0f}x')"; }

echo "| input | connections listed | lifeboat (s) | nca (s) | nca / lifeboat |"
echo "|---|---|---|---|---|"
for dir in "$CORPUS"/*/; do
  case_name=$(basename "$dir")
  lb=$(median_time "$RUNS" "$LIFEBOAT" policy connectivity --dir "$dir/input")
  nc=$(median_time 3 "$NCA" --connectivity -r "$dir/input")
  lines=$("$LIFEBOAT" policy connectivity --dir "$dir/input" | wc -l)
  echo "| corpus $case_name | $lines | $lb | $nc | $(ratio "$nc" "$lb") |"
done

gen() { # DIR NAMESPACES PODS POLICIES
  [ -f "$1/pods.yaml" ] || "$GEN" connectivity "$1" "$2" "$3" "$4"
}
gen "$WORK/gen-1x" 20 300 60
gen "$WORK/gen-10x" 200 3000 600
gen "$WORK/gen-100x" 200 30000 6000
lb=$(median_time "$RUNS" "$LIFEBOAT" policy connectivity --dir "$WORK/gen-1x")
nc=$(median_time 3 "$NCA" --connectivity -r "$WORK/gen-1x")
lines=$("$LIFEBOAT" policy connectivity --dir "$WORK/gen-1x" | wc -l)
echo "| generated 1x: 300 pods, 20 ns, 60 policies | $lines | $lb | $nc | $(ratio "$nc" "$lb") |"
for size in 10x 100x; do
  lb=$(median_time 3 "$LIFEBOAT" policy connectivity --dir "$WORK/gen-$size")
  lines=$("$LIFEBOAT" policy connectivity --dir "$WORK/gen-$size" | wc -l)
  pods=$(grep -c '^- apiVersion: v1$' "$WORK/gen-$size/pods.yaml")
  pols=$(grep -c '^kind: NetworkPolicy' "$WORK/gen-$size/netpols.yaml")
  echo "| generated $size: $pods pods, $pols policies | $lines | $lb | not run | - |"
done
/usr/bin/time -f "  100x: %e s wall, %M KiB peak RSS" "$LIFEBOAT" policy connectivity --dir "$WORK/gen-100x" >/dev/null

echo
echo "policy check, 5,000 nodes / 150,000 pods / 2,000 namespaces / 10,000 policies:"
[ -f "$WORK/big/cluster/pods.yaml" ] || "$GEN" cluster "$WORK/big" 5000 2000 150000 10000
du -sh "$WORK/big/cluster" "$WORK/big/policies" | sed 's/^/  input /'
for _ in 1 2 3; do
  /usr/bin/time -f "  %e s wall, %M KiB peak RSS" "$LIFEBOAT" policy check -f "$WORK/big/policies" \
    --cluster "$WORK/big/cluster" -o json >/dev/null || true
done
echo "work dir: $WORK"
