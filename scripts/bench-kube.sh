#!/usr/bin/env bash
# Benchmarks of the rescue-through-etcd issue, each against the reference in the same run:
#  1. `lifeboat kube list RESOURCE --snapshot FILE` over >= 100,000 objects, against what one
#     does without lifeboat: `etcdctl snapshot restore`, start etcd, `etcdctl get --prefix
#     --keys-only` (timed: the get alone, and restore + start + get).
#  2. `lifeboat snapshot diff A B` of two ~1 GiB snapshots (B = A with one object deleted,
#     written by `lifeboat kube delete --snapshot`), against etcdctl's only offline
#     reading of a snapshot, `etcdctl snapshot status` of A and of B.
# Wall time and peak RSS from /usr/bin/time -v. Results go to BENCHMARKS.md by hand.
#
#   scripts/bench-kube.sh                                   # both, data generated here
#   BENCH_PART=list scripts/bench-kube.sh                   # only part 1
#   BENCH_LIST_SNAPSHOT=/path/list.db BENCH_PART=list ...   # part 1 on an existing snapshot
#   BENCH_KEEP=1 ...                                        # keep part 1's generated snapshot
#   BENCH_DIFF_SNAPSHOT=/path/big.db scripts/bench-kube.sh  # part 2 on an existing snapshot
set -euo pipefail
cd "$(dirname "$0")/.."

PART=${BENCH_PART:-all}
LIFEBOAT=${LIFEBOAT_BIN:-target/release/lifeboat}
export ETCDCTL_API=3
for tool in etcd etcdctl python3 /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench-kube: $tool is missing (run scripts/setup.sh)" >&2; exit 3; }
done
if [ -z "${LIFEBOAT_BIN:-}" ]; then
  cargo build --locked --release -p lifeboat
fi
BENCH_NAME=bench-kube
. scripts/lib/bench.sh

if [ "$PART" = all ] || [ "$PART" = list ]; then
  WORK=$(mktemp -d /tmp/lifeboat-bench-kube-list.XXXXXX)
  SIZE_MIB=${BENCH_LIST_MIB:-112}; VALUE=512; SNAP=${BENCH_LIST_SNAPSHOT:-$WORK/list.db}
  [ -f "$SNAP" ] || generate
  n=$("$LIFEBOAT" kube list configmaps --snapshot "$SNAP" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])')
  echo "kube list: $n configmaps in $(stat -c %s "$SNAP") bytes"
  cat "$SNAP" >/dev/null
  for run in 1 2 3; do
    measure "lifeboat-list-$run" "$LIFEBOAT" kube list configmaps --snapshot "$SNAP" -o json
  done
  # The reference: a restored, running etcd, then a keys-only listing.
  cp=$(free_port); pp=$(free_port); ep="http://127.0.0.1:$cp"
  t0=$(date +%s.%N)
  etcdctl snapshot restore "$SNAP" --data-dir "$WORK/ref" --name ref \
    --initial-cluster "ref=http://127.0.0.1:$pp" --initial-advertise-peer-urls "http://127.0.0.1:$pp" >/dev/null 2>&1
  etcd --name ref --data-dir "$WORK/ref" --listen-client-urls "$ep" --advertise-client-urls "$ep" \
    --listen-peer-urls "http://127.0.0.1:$pp" --initial-advertise-peer-urls "http://127.0.0.1:$pp" \
    --initial-cluster "ref=http://127.0.0.1:$pp" >"$WORK/ref.log" 2>&1 &
  pid=$!
  trap 'kill $pid 2>/dev/null || true' EXIT
  for _ in $(seq 200); do etcdctl --endpoints "$ep" endpoint health >/dev/null 2>&1 && break; sleep 0.05; done
  t1=$(date +%s.%N)
  for run in 1 2 3; do
    measure "etcdctl-get-$run" etcdctl --endpoints "$ep" get /registry/configmaps/ --prefix --keys-only
  done
  echo "etcdctl restore + start before the get: $(python3 -c "print(round($t1 - $t0, 2))") s"
  kill $pid; wait $pid 2>/dev/null || true
  trap - EXIT
  if [ -n "${BENCH_KEEP:-}" ]; then echo "kept $SNAP"; else rm -rf "$WORK"; fi
fi

if [ "$PART" = all ] || [ "$PART" = diff ]; then
  WORK=$(mktemp -d /tmp/lifeboat-bench-kube-diff.XXXXXX)
  SIZE_MIB=${BENCH_DIFF_MIB:-1024}; VALUE=1536
  SNAP=${BENCH_DIFF_SNAPSHOT:-$WORK/a.db}
  [ -f "$SNAP" ] || generate
  A=$SNAP; B=$WORK/b.db
  "$LIFEBOAT" kube delete configmaps obj-00000000 -n ns-000 --snapshot "$A" --out "$B" --backup-dir "$WORK/bk" --yes >/dev/null
  echo "diff: A $(stat -c %s "$A") bytes, B $(stat -c %s "$B") bytes"
  cat "$A" "$B" >/dev/null
  for run in 1 2 3; do
    # diff exits 1 when the files differ, as they do here; 2 or more is a failure.
    measure "lifeboat-diff-$run" sh -c '"$0" snapshot diff "$1" "$2" -o json; [ $? -le 1 ]' "$LIFEBOAT" "$A" "$B"
    measure "etcdctl-status-a-$run" etcdctl snapshot status "$A"
    measure "etcdctl-status-b-$run" etcdctl snapshot status "$B"
  done
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("diff result:", r["added"], "added,", r["removed"], "removed,", r["changed"], "changed")' "$WORK/lifeboat-diff-1.out"
  [ -n "${BENCH_DIFF_SNAPSHOT:-}" ] || rm -f "$A"
  rm -rf "$WORK"
fi
