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

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

generate() {
  local cp pp ep pid
  cp=$(free_port); pp=$(free_port); ep="http://127.0.0.1:$cp"
  etcd --name bench --data-dir "$WORK/etcd" \
    --listen-client-urls "$ep" --advertise-client-urls "$ep" \
    --listen-peer-urls "http://127.0.0.1:$pp" --initial-advertise-peer-urls "http://127.0.0.1:$pp" \
    --initial-cluster "bench=http://127.0.0.1:$pp" --quota-backend-bytes $((8 * 1024 * 1024 * 1024)) \
    --max-txn-ops 1024 --max-request-bytes $((8 * 1024 * 1024)) \
    >"$WORK/etcd.log" 2>&1 &
  pid=$!
  trap 'kill $pid 2>/dev/null || true' EXIT
  for _ in $(seq 100); do etcdctl --endpoints "$ep" endpoint health >/dev/null 2>&1 && break; sleep 0.2; done
  echo "bench-offline: writing ~${SIZE_MIB} MiB of Kubernetes-shaped objects to etcd ($ep)" >&2
  # Transactions of 1024 puts of about BENCH_VALUE bytes (1.5 KiB: a typical Kubernetes object): ConfigMaps as JSON, Secrets encrypted at rest (aescbc
  # prefix), Pods; 10% of the objects rewritten (history), 2% deleted, then a compaction.
  python3 - "$ep" "$SIZE_MIB" "$VALUE" <<'PY'
import base64, os, subprocess, sys
ep, size_mib, mean = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
target = size_mib * 1024 * 1024 * 85 // 100  # bbolt adds ~15% (page fill, branches)
kinds = [("configmaps", "{"), ("secrets", "k8s:enc:aescbc:v1:key1:"), ("pods", "{")]
def value(prefix, n):
    return prefix + base64.b64encode(os.urandom(n * 3 // 4)).decode()
def run(lines):
    subprocess.run(["etcdctl", "--endpoints", ep, "txn"], input="\n" + "\n".join(lines) + "\n\n\n",
                   text=True, check=True, stdout=subprocess.DEVNULL)
written, i, batch, keys = 0, 0, [], []
while written < target:
    kind, prefix = kinds[0 if i % 20 < 12 else 1 if i % 20 < 17 else 2]
    key = f"/registry/{kind}/ns-{i % 97:03d}/obj-{i:08d}"
    size = mean // 2 + (i * 7919) % (mean + 1)
    batch.append(f"put {key} {value(prefix, size)}")
    keys.append(key)
    written += size + len(key)
    i += 1
    if len(batch) == 1024:
        run(batch); batch = []
for j, key in enumerate(keys):
    if j % 10 == 3:
        batch.append(f"put {key} {value('{', mean)}")
    elif j % 50 == 7:
        batch.append(f"del {key}")
    else:
        continue
    if len(batch) == 1024:
        run(batch); batch = []
if batch:
    run(batch)
print(f"bench-offline: {len(keys)} objects written", file=sys.stderr)
PY
  local rev
  rev=$(etcdctl --endpoints "$ep" endpoint status -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["header"]["revision"])')
  etcdctl --endpoints "$ep" compact "$((rev * 9 / 10))" >/dev/null
  etcdctl --endpoints "$ep" snapshot save "$SNAP" >/dev/null 2>&1
  kill "$pid"; wait "$pid" 2>/dev/null || true
  trap - EXIT
  rm -rf "$WORK/etcd"
}

[ -f "$SNAP" ] || generate

# measure NAME CMD...: wall seconds and peak RSS (KiB) from /usr/bin/time -v.
measure() {
  local name=$1; shift
  /usr/bin/time -v "$@" >"$WORK/$name.out" 2>"$WORK/$name.time" || { cat "$WORK/$name.time" >&2; exit 1; }
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$WORK/$name.time")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/$name.time")
  printf '%s %s %s\n' "$name" "$wall" "$rss"
}

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
