#!/usr/bin/env bash
# Benchmark of the native restore: `lifeboat snapshot restore --all` writing three member dirs
# from one snapshot, against three `etcdctl snapshot restore` runs (etcd 3.4.23) on the same
# file in the same run. Wall time and peak RSS from /usr/bin/time -v. Results go to
# BENCHMARKS.md by hand.
#
#   scripts/bench-restore.sh                          # ~1 GiB snapshot, generated here
#   BENCH_SIZE_MIB=128 scripts/bench-restore.sh        # smaller
#   BENCH_SNAPSHOT=/path/to/snapshot.db scripts/bench-restore.sh   # an existing snapshot
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE_MIB=${BENCH_SIZE_MIB:-1024}
VALUE=${BENCH_VALUE:-1536}
WORK=${BENCH_DIR:-$(mktemp -d /tmp/lifeboat-bench-restore.XXXXXX)}
SNAP=${BENCH_SNAPSHOT:-$WORK/snapshot-${SIZE_MIB}m-${VALUE}b.db}
LIFEBOAT=${LIFEBOAT_BIN:-target/release/lifeboat}
export ETCDCTL_API=3
CLUSTER="r1=http://127.0.0.1:41001,r2=http://127.0.0.1:41002,r3=http://127.0.0.1:41003"
TOKEN=bench-restore

for tool in etcd etcdctl python3 /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench-restore: $tool is missing (run scripts/setup.sh)" >&2; exit 3; }
done
if [ -z "${LIFEBOAT_BIN:-}" ]; then
  cargo build --locked --release -p lifeboat
fi

BENCH_NAME=bench-restore
. scripts/lib/bench.sh

[ -f "$SNAP" ] || generate

size=$(stat -c %s "$SNAP")
echo "file: $SNAP ($size bytes)"
OUT=$WORK/out
rm -rf "$OUT"; mkdir -p "$OUT"
{
  cat "$SNAP" >/dev/null  # warm page cache for both tools
  for n in 1 2 3; do
    measure "etcdctl-restore-r$n" etcdctl snapshot restore "$SNAP" --name "r$n" \
      --initial-cluster "$CLUSTER" --initial-cluster-token "$TOKEN" \
      --initial-advertise-peer-urls "http://127.0.0.1:4100$n" --data-dir "$OUT/etcdctl/r$n"
  done
  sync
  measure lifeboat-restore-all "$LIFEBOAT" snapshot restore -o json "$SNAP" --all \
    --output-root "$OUT/lifeboat" --initial-cluster "$CLUSTER" --initial-cluster-token "$TOKEN"
  sync
} | tee "$WORK/results.txt"

python3 - "$WORK" <<'PY'
import json, sys
work = sys.argv[1]
r = {l.split()[0]: (float(l.split()[1]), int(l.split()[2])) for l in open(f"{work}/results.txt")}
e = [v for k, v in r.items() if k.startswith("etcdctl-restore")]
et, er = sum(t for t, _ in e), max(m for _, m in e)
lt, lr = r["lifeboat-restore-all"]
out = json.load(open(f"{work}/lifeboat-restore-all.out"))
print(f"etcdctl snapshot restore x3: {et:6.2f} s, peak RSS {er/1024:7.1f} MiB")
print(f"lifeboat restore --all (3):  {lt:6.2f} s, peak RSS {lr/1024:7.1f} MiB  ({out['revision_note'][:60]}...)")
print(f"speed-up {et/max(lt,1e-3):.2f}x (goal >= 2), lifeboat peak RSS {lr/1024:.1f} MiB (goal <= 256)")
PY
