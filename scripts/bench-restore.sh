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

# The same Kubernetes-shaped data as scripts/bench-offline.sh (see there for the mix).
generate() {
  local cp pp ep pid
  cp=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  pp=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  ep="http://127.0.0.1:$cp"
  etcd --name bench --data-dir "$WORK/etcd" \
    --listen-client-urls "$ep" --advertise-client-urls "$ep" \
    --listen-peer-urls "http://127.0.0.1:$pp" --initial-advertise-peer-urls "http://127.0.0.1:$pp" \
    --initial-cluster "bench=http://127.0.0.1:$pp" --quota-backend-bytes $((8 * 1024 * 1024 * 1024)) \
    --max-txn-ops 1024 --max-request-bytes $((8 * 1024 * 1024)) \
    >"$WORK/etcd.log" 2>&1 &
  pid=$!
  trap 'kill $pid 2>/dev/null || true' EXIT
  for _ in $(seq 100); do etcdctl --endpoints "$ep" endpoint health >/dev/null 2>&1 && break; sleep 0.2; done
  echo "bench-restore: writing ~${SIZE_MIB} MiB of Kubernetes-shaped objects to etcd ($ep)" >&2
  python3 - "$ep" "$SIZE_MIB" "$VALUE" <<'PY'
import base64, os, subprocess, sys
ep, size_mib, mean = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
target = size_mib * 1024 * 1024 * 85 // 100
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
print(f"bench-restore: {len(keys)} objects written", file=sys.stderr)
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

# measure NAME CMD...: wall seconds and peak RSS (KiB).
measure() {
  local name=$1; shift
  /usr/bin/time -v "$@" >"$WORK/$name.out" 2>"$WORK/$name.time" || { cat "$WORK/$name.time" >&2; exit 1; }
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$WORK/$name.time")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/$name.time")
  printf '%s %s %s\n' "$name" "$wall" "$rss"
}

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
