#!/usr/bin/env bash
# Benchmark: `lifeboat snapshot save` against `etcdctl snapshot save` from the same member, in the
# same run, alternating. Needs a snapshot to serve: SNAP=path (e.g. the one scripts/bench-restore.sh
# generates under /tmp/lb-bench-restore/). Prints wall time and peak RSS per run.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
: "${SNAP:?set SNAP to a snapshot file (scripts/bench-restore.sh makes one)}"
RUNS="${RUNS:-2}"
cargo build --locked --release -p lifeboat >/dev/null
B="$(mktemp -d /tmp/lb-bench-save.XXXXXX)"
trap 'kill "$ETCD" 2>/dev/null || true; rm -rf "$B"' EXIT
./target/release/lifeboat snapshot restore "$SNAP" --name s1 --no-bump \
  --initial-cluster s1=http://127.0.0.1:31380 --initial-advertise-peer-urls http://127.0.0.1:31380 \
  --data-dir "$B/s1" >/dev/null
etcd --name s1 --data-dir "$B/s1" --listen-client-urls http://127.0.0.1:31379 \
  --advertise-client-urls http://127.0.0.1:31379 --listen-peer-urls http://127.0.0.1:31380 \
  --initial-advertise-peer-urls http://127.0.0.1:31380 --initial-cluster s1=http://127.0.0.1:31380 \
  >"$B/etcd.log" 2>&1 &
ETCD=$!
until etcdctl --endpoints http://127.0.0.1:31379 endpoint health >/dev/null 2>&1; do sleep 0.5; done
# Each save starts on a clean slate: the previous file is removed and `sync` has flushed
# everything, so neither tool pays for the other's writeback. The order alternates per run.
etcdctl_save() {
  rm -f "$B"/*.db "$B"/*.db.json; sync
  /usr/bin/time -f "etcdctl snapshot save   %e s  %M KiB" \
    etcdctl --endpoints http://127.0.0.1:31379 snapshot save "$B/e.db" >/dev/null
}
lifeboat_save() {
  rm -f "$B"/*.db "$B"/*.db.json; sync
  /usr/bin/time -f "lifeboat snapshot save  %e s  %M KiB" \
    ./target/release/lifeboat snapshot save --endpoints http://127.0.0.1:31379 "$B/l.db" >/dev/null
}
for i in $(seq "$RUNS"); do
  if [ $((i % 2)) -eq 1 ]; then etcdctl_save; lifeboat_save; else lifeboat_save; etcdctl_save; fi
done
rm -f "$B"/*.db "$B"/*.db.json
