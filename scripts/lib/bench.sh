# Shared by the snapshot benchmarks (sourced, not run): a throwaway etcd filled with
# Kubernetes-shaped data and saved as $SNAP, and `measure` for wall time and peak RSS.
# The caller sets BENCH_NAME, WORK, SIZE_MIB, VALUE and SNAP.
# shellcheck shell=bash

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
  echo "${BENCH_NAME}: writing ~${SIZE_MIB} MiB of Kubernetes-shaped objects to etcd ($ep)" >&2
  # Transactions of 1024 puts of about BENCH_VALUE bytes (1.5 KiB: a typical Kubernetes object): ConfigMaps as JSON, Secrets encrypted at rest (aescbc
  # prefix), Pods; 10% of the objects rewritten (history), 2% deleted, then a compaction.
  python3 - "$ep" "$SIZE_MIB" "$VALUE" "$BENCH_NAME" <<'PY'
import base64, os, subprocess, sys
ep, size_mib, mean, name = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
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
# A transaction may not touch a key twice: flush the last puts before rewriting any of them.
if batch:
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
print(f"{name}: {len(keys)} objects written", file=sys.stderr)
PY
  local rev
  rev=$(etcdctl --endpoints "$ep" endpoint status -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["header"]["revision"])')
  etcdctl --endpoints "$ep" compact "$((rev * 9 / 10))" >/dev/null
  etcdctl --endpoints "$ep" snapshot save "$SNAP" >/dev/null 2>&1
  kill "$pid"; wait "$pid" 2>/dev/null || true
  trap - EXIT
  rm -rf "$WORK/etcd"
}


# measure NAME CMD...: wall seconds and peak RSS (KiB) from /usr/bin/time -v.
measure() {
  local name=$1; shift
  /usr/bin/time -v "$@" >"$WORK/$name.out" 2>"$WORK/$name.time" || { cat "$WORK/$name.time" >&2; exit 1; }
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$WORK/$name.time")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/$name.time")
  printf '%s %s %s\n' "$name" "$wall" "$rss"
}
