#!/usr/bin/env bash
# `lifeboat snapshot inspect -o json FILE` against the same version's
# `etcdutl snapshot status -w json FILE`, per etcd version (issue 13): warm and cold wall time
# (medians) and peak RSS, on a snapshot written by a throwaway etcd of that version. Neither
# tool hashes the image (inspect's SHA-256 check is `--check-sha256`, or `snapshot verify`).
#
#   scripts/bench-inspect.sh                        # 3.5 3.6 3.7, ~600 MiB each, 5 runs
#   BENCH_INSPECT_MB=100 scripts/bench-inspect.sh 3.7
#   BENCH_RUNS=9 BENCH_VALUE=100 scripts/bench-inspect.sh 3.5
#   BENCH_DIR=/var/tmp/lb scripts/bench-inspect.sh  # keep (and reuse) the generated snapshots
#
# Each run alternates the two tools, so load from other work on the machine hits both alike.
# Cold runs evict the file from the page cache first (posix_fadvise DONTNEED on this file only:
# needs no root and leaves everyone else's cache alone); the script checks with fincore that the
# eviction took. Peak RSS is the child's ru_maxrss (what /usr/bin/time -v reports).
# Goal: warm >= 1.5x and cold >= 5x faster than etcdutl, lifeboat peak RSS < 128 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."

FILE_MB=${BENCH_INSPECT_MB:-600}
# generate() writes SIZE_MIB of values; bbolt's pages (half-full leaves, history, compaction
# leftovers) make the file about 1.5 times that, so this aims the file itself at FILE_MB.
SIZE_MIB=$((FILE_MB * 2 / 3))
VALUE=${BENCH_VALUE:-1536}
RUNS=${BENCH_RUNS:-5}
LIFEBOAT=${LIFEBOAT_BIN:-target/release/lifeboat}
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(3.5 3.6 3.7)

keep=${BENCH_DIR:+1}
ROOT=${BENCH_DIR:-$(mktemp -d /tmp/lifeboat-bench-inspect.XXXXXX)}
mkdir -p "$ROOT"
cleanup() {
  if [ -z "$keep" ]; then rm -rf "$ROOT"; fi
}
trap cleanup EXIT

for tool in python3 fincore; do
  command -v "$tool" >/dev/null || { echo "bench-inspect: $tool is missing (run scripts/setup.sh)" >&2; exit 3; }
done
if [ -z "${LIFEBOAT_BIN:-}" ]; then
  cargo build --locked --release --quiet -p lifeboat
fi

BENCH_NAME=bench-inspect
. scripts/lib/bench.sh

for v in "${versions[@]}"; do
  dir=$(scripts/etcd-versions.sh dir "$v")
  [ -x "$dir/etcdutl" ] || { echo "bench-inspect: no etcdutl for $v in $dir (scripts/etcd-versions.sh install $v)" >&2; exit 3; }
  WORK=$ROOT/v$v
  SNAP=$WORK/snapshot-${FILE_MB}m-${VALUE}b.db
  mkdir -p "$WORK"
  # generate() uses the etcd and etcdctl on PATH; in a subshell its traps stay its own.
  [ -f "$SNAP" ] || (PATH="$dir:$PATH" generate)
  echo "bench-inspect: etcd $v: $SNAP ($(stat -c %s "$SNAP") bytes)" >&2
  python3 scripts/lib/bench_inspect.py "$v" "$RUNS" "$LIFEBOAT" "$dir/etcdutl" "$SNAP"
done | tee "$ROOT/results.txt"

python3 - "$ROOT/results.txt" "$FILE_MB" "$VALUE" "$RUNS" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
size_mib, value, runs = sys.argv[2:5]
loads = ", ".join(f"{r['load_before']:.1f}" for r in rows)
print(f"\nBENCH_INSPECT_MB={size_mib} BENCH_VALUE={value} BENCH_RUNS={runs}; medians, "
      f"ratio = etcdutl / lifeboat (higher is better); CPU = user + system seconds of a warm run; "
      f"load average before each row: {loads}\n")
print("| etcd | file | warm lifeboat | warm etcdutl | warm ratio | cold lifeboat | cold etcdutl "
      "| cold ratio | CPU lifeboat | CPU etcdutl | peak RSS lifeboat | peak RSS etcdutl |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
ok = True
for r in rows:
    w, c = r["warm"], r["cold"]
    wr, cr = w["etcdutl"] / w["lifeboat"], c["etcdutl"] / c["lifeboat"]
    print(f"| {r['version']} | {r['bytes'] / 1e6:.0f} MB | {w['lifeboat']:.2f} s | {w['etcdutl']:.2f} s "
          f"| {wr:.2f}x | {c['lifeboat']:.2f} s | {c['etcdutl']:.2f} s | {cr:.2f}x "
          f"| {r['cpu']['lifeboat']:.2f} s | {r['cpu']['etcdutl']:.2f} s "
          f"| {r['rss_lifeboat'] / 1024:.0f} MiB | {r['rss_etcdutl'] / 1024:.0f} MiB |")
    goal = wr >= 1.5 and cr >= 5 and r["rss_lifeboat"] < 128 * 1024
    ok = ok and r["same"]
    print(f"  etcd {r['version']}: fields identical: {r['same']}; goal (warm >= 1.5x, cold >= 5x, "
          f"RSS < 128 MiB) {'met' if goal else 'NOT met'}", file=sys.stderr)
sys.exit(0 if ok else 1)
PY
