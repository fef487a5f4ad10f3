#!/usr/bin/env bash
# Benchmark of the offline reader, on a ~1 GiB snapshot written by a real etcd 3.4 here:
#   `lifeboat snapshot inspect`  vs `etcdctl snapshot status` (time and peak RSS)
#   `lifeboat snapshot verify`   vs `openssl dgst -sha256`     (time and peak RSS)
# Same file, same run, warm page cache; prints the ratios. Results go to BENCHMARKS.md by hand.
#
#   scripts/bench-offline.sh                 # ~1 GiB
#   BENCH_SIZE_MIB=256 scripts/bench-offline.sh
#   BENCH_DIR=/var/tmp/lb scripts/bench-offline.sh   # reuse a generated snapshot
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE_MIB=${BENCH_SIZE_MIB:-1024}
# Mean value size in bytes (values are spread from half to one and a half times this).
VALUE=${BENCH_VALUE:-1536}
WORK=${BENCH_DIR:-$(mktemp -d /tmp/lifeboat-bench-offline.XXXXXX)}
SNAP=$WORK/snapshot-${SIZE_MIB}m-${VALUE}b.db
LIFEBOAT=${LIFEBOAT_BIN:-target/release/lifeboat}
export ETCDCTL_API=3

for tool in etcd etcdctl openssl python3 /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench-offline: $tool is missing (run scripts/setup.sh)" >&2; exit 3; }
done
if [ -z "${LIFEBOAT_BIN:-}" ]; then
  cargo build --locked --release -p lifeboat
fi

BENCH_NAME=bench-offline
. scripts/lib/bench.sh

[ -f "$SNAP" ] || generate

# Drop the file from the page cache (only this file; needs no root), for the cold runs.
evict() { python3 -c 'import os,sys; fd=os.open(sys.argv[1], os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)' "$1"; }

size=$(stat -c %s "$SNAP")
echo "file: $SNAP ($size bytes)"
{
  cat "$SNAP" >/dev/null  # warm: every tool reads from memory
  measure etcdctl-status etcdctl snapshot status -w json "$SNAP"
  measure lifeboat-inspect "$LIFEBOAT" snapshot inspect -o json "$SNAP"
  measure openssl-sha256 openssl dgst -sha256 "$SNAP"
  measure lifeboat-verify "$LIFEBOAT" snapshot verify -o json "$SNAP"
  # cold: as for a backup that has not been read since it was written
  evict "$SNAP"; measure cold-etcdctl-status etcdctl snapshot status -w json "$SNAP"
  evict "$SNAP"; measure cold-lifeboat-inspect "$LIFEBOAT" snapshot inspect -o json "$SNAP"
  evict "$SNAP"; measure cold-openssl-sha256 openssl dgst -sha256 "$SNAP"
  evict "$SNAP"; measure cold-lifeboat-verify "$LIFEBOAT" snapshot verify -o json "$SNAP"
} | tee "$WORK/results.txt"

python3 - "$WORK" <<'PY'
import json, sys
work = sys.argv[1]
r = {l.split()[0]: (float(l.split()[1]), int(l.split()[2])) for l in open(f"{work}/results.txt")}
e = json.load(open(f"{work}/etcdctl-status.out"))
l = json.load(open(f"{work}/lifeboat-inspect.out"))
same = all(e[k] == l[k] for k in ("hash", "revision", "totalKey", "totalSize"))
print(f"status fields identical: {same}  ({ {k: e[k] for k in ('hash','revision','totalKey','totalSize')} }, live keys {l['live_keys']})")
def row(a, b):
    (ta, ra), (tb, rb) = r[a], r[b]
    print(f"{b:>22} {tb:7.2f} s {rb/1024:8.1f} MiB  vs {a:<20} {ta:7.2f} s {ra/1024:8.1f} MiB  time ratio {ta/max(tb,1e-3):5.1f}x")
for p in ("", "cold-"):
    row(p + "etcdctl-status", p + "lifeboat-inspect")
    row(p + "openssl-sha256", p + "lifeboat-verify")
for p in ("", "cold-"):
    print(f"{p or 'warm-'}verify / openssl: {r[p+'lifeboat-verify'][0]/max(r[p+'openssl-sha256'][0],1e-3):.2f} (goal <= 2)")
print(f"inspect peak RSS: {max(r['lifeboat-inspect'][1], r['cold-lifeboat-inspect'][1])/1024:.1f} MiB (goal <= 128)")
sys.exit(0 if same else 1)
PY
