#!/usr/bin/env bash
# `lifeboat webhook serve` review latency and memory (issue 16): the webhook started on a
# generated cluster of NODES nodes, PODS pods and POLICIES policies in force (the generator of
# scripts/bench-policy.sh, crates/policy/examples/gen_cluster.rs), then REVIEWS AdmissionReviews
# (CREATE of a NetworkPolicy, a CiliumNetworkPolicy and a host CCNP, and UPDATE of the
# generator's host policy `host-baseline` to the field incident's policy, which is refused; in
# turn, one keep-alive HTTPS connection) timed at the client; p50/p99 latency, the time to the first answer (the
# baseline check) and the peak RSS of the webhook (VmHWM). Goal: p99 < 50 ms, RSS < 1 GiB.
#
#   scripts/bench-webhook.sh [NODES NAMESPACES PODS POLICIES REVIEWS]   # default 5000 2000 150000 10000 300
#   LIFEBOAT_BIN=target/release/lifeboat GEN_BIN=target/release/examples/gen_cluster scripts/bench-webhook.sh
# The judge alone, in process (no HTTPS): crates/webhook/examples/review_latency.rs (BENCHMARKS.md).
#
# BENCH_FROM_ETCD=1: the cluster is written into a throwaway etcd first (the etcd of
# `scripts/etcd-versions.sh env 3.7`, or LIFEBOAT_ETCD_BIN; crates/webhook/examples/load_etcd.rs,
# LOAD_BIN to reuse a built one) and the webhook reads it with `--from-etcd` and follows it with
# a watch, as in a cluster; its RSS then holds the kept conversions beside the baseline.
set -euo pipefail
cd "$(dirname "$0")/.."
nodes=${1:-5000}; namespaces=${2:-2000}; pods=${3:-150000}; policies=${4:-10000}; reviews=${5:-300}
LIFEBOAT=${LIFEBOAT_BIN:-target/release/lifeboat}
TARGET=${CARGO_TARGET_DIR:-target}
work=$(mktemp -d /tmp/lifeboat-bench-webhook.XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
if [ -z "${LIFEBOAT_BIN:-}" ]; then
  cargo build --locked --release -p lifeboat
fi
if [ -z "${GEN_BIN:-}" ]; then
  cargo build --locked --release -p policy --example gen_cluster
fi
"${GEN_BIN:-$TARGET/release/examples/gen_cluster}" cluster "$work/gen" "$nodes" "$namespaces" "$pods" "$policies"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
inventory=(--cluster "$work/gen")
if [ "${BENCH_FROM_ETCD:-0}" = 1 ]; then
  if [ -z "${LIFEBOAT_ETCD_BIN:-}" ]; then eval "$(scripts/etcd-versions.sh env 3.7)"; fi
  if [ -z "${LOAD_BIN:-}" ]; then cargo build --locked --release -p webhook --example load_etcd; fi
  free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
  cp=$(free_port); pp=$(free_port); ep="http://127.0.0.1:$cp"
  "$LIFEBOAT_ETCD_BIN" --name bench --data-dir "$work/etcd" \
    --listen-client-urls "$ep" --advertise-client-urls "$ep" \
    --listen-peer-urls "http://127.0.0.1:$pp" --initial-advertise-peer-urls "http://127.0.0.1:$pp" \
    --initial-cluster "bench=http://127.0.0.1:$pp" --quota-backend-bytes $((8 * 1024 * 1024 * 1024)) \
    > "$work/etcd.log" 2>&1 &
  etcd_pid=$!
  trap 'kill "$etcd_pid" 2>/dev/null; cleanup' EXIT
  for _ in $(seq 100); do
    "$LIFEBOAT_ETCDCTL_BIN" --endpoints "$ep" endpoint health >/dev/null 2>&1 && break
    sleep 0.2
  done
  "${LOAD_BIN:-$TARGET/release/examples/load_etcd}" "$work/gen" "$ep"
  inventory=(--from-etcd --endpoints "$ep")
fi
start=$(date +%s.%N)
"$LIFEBOAT" webhook serve --listen 127.0.0.1:0 --tls-cert "$work/cert.pem" --tls-key "$work/key.pem" \
  "${inventory[@]}" 2> "$work/stderr" &
pid=$!
for _ in $(seq 1 1200); do
  grep -q "serving https://" "$work/stderr" && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/stderr" >&2; exit 1; }
  sleep 0.5
done
ready=$(date +%s.%N)
addr=$(grep -o "serving https://[^/]*" "$work/stderr" | head -1 | sed 's|serving https://||')
echo "bench-webhook: $nodes nodes, $pods pods, $policies policies; ready in $(python3 -c "print(f'{$ready-$start:.1f}')") s (inventory read + baseline check)"
grep "serving https://" "$work/stderr"
python3 - "$addr" "$work/cert.pem" "$reviews" <<'PY'
import http.client, json, ssl, statistics, sys, time
addr, ca, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
host, port = addr.rsplit(":", 1)
ctx = ssl.create_default_context(cafile=ca)
conn = http.client.HTTPSConnection("localhost", int(port), context=ctx, timeout=60)
objs = [
    ("NetworkPolicy", "networking.k8s.io", "ns-7", {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
      "metadata": {"name": "bench", "namespace": "ns-7"}, "spec": {"podSelector": {}, "policyTypes": ["Egress"]}}),
    ("CiliumNetworkPolicy", "cilium.io", "ns-11", {"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy",
      "metadata": {"name": "bench", "namespace": "ns-11"}, "spec": {"endpointSelector": {}, "egress": [{"toEntities": ["world"]}]}}),
    ("CiliumClusterwideNetworkPolicy", "cilium.io", None, {"apiVersion": "cilium.io/v2", "kind": "CiliumClusterwideNetworkPolicy",
      "metadata": {"name": "bench-host"}, "spec": {"nodeSelector": {"matchLabels": {}}, "ingress": [{"fromEntities": ["cluster"], "toPorts": [{"ports": [{"port": "9100", "protocol": "TCP"}]}]}]}}),
    # The field incident's policy in place of the host policy in force: refused.
    ("CiliumClusterwideNetworkPolicy", "cilium.io", None, {"apiVersion": "cilium.io/v2", "kind": "CiliumClusterwideNetworkPolicy",
      "metadata": {"name": "host-baseline"}, "spec": {"nodeSelector": {"matchLabels": {}}, "ingress": [
        {"fromCIDR": ["103.10.20.30/32"], "toPorts": [{"ports": [{"port": "9100", "protocol": "TCP"}]}]},
        {"fromEntities": ["cluster"], "toPorts": [{"ports": [{"port": "9100", "protocol": "TCP"}]}]}]}}),
]
times, refused_times, verdicts = [], [], {}
for i in range(n):
    kind, group, ns, obj = objs[i % len(objs)]
    update = obj["metadata"]["name"] == "host-baseline"
    review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": f"bench-{i}", "kind": {"group": group, "version": "v1", "kind": kind},
        "namespace": ns, "name": obj["metadata"]["name"], "operation": "UPDATE" if update else "CREATE",
        "object": obj, "oldObject": obj if update else None}}
    body = json.dumps(review)
    t = time.perf_counter()
    conn.request("POST", "/validate", body, {"content-type": "application/json"})
    answer = json.loads(conn.getresponse().read())
    times.append(time.perf_counter() - t)
    if update:
        refused_times.append(times[-1])
    key = (obj["metadata"]["name"], answer["response"]["allowed"])
    verdicts[key] = verdicts.get(key, 0) + 1
times.sort()
p = lambda q: times[min(len(times) - 1, int(q * len(times)))] * 1000
print(f"bench-webhook: {n} reviews: p50 {p(0.50):.1f} ms, p99 {p(0.99):.1f} ms, max {times[-1]*1000:.1f} ms")
refused_times.sort()
q = lambda xs, f: xs[min(len(xs) - 1, int(f * len(xs)))] * 1000
if refused_times:
    print(f"bench-webhook: the incident's policy in place of host-baseline, {len(refused_times)} reviews: p50 {q(refused_times, 0.5):.1f} ms, p99 {q(refused_times, 0.99):.1f} ms, max {refused_times[-1]*1000:.1f} ms")
print("bench-webhook: answers", {f"{k} allowed={a}": c for (k, a), c in sorted(verdicts.items())})
PY
echo "bench-webhook: webhook $(grep -E 'VmHWM|VmRSS' /proc/$pid/status | tr -s ' \n' ' ')"
echo "bench-webhook: load average $(cut -d' ' -f1-3 /proc/loadavg)"
