#!/usr/bin/env bash
# Benchmark of `snapshot save --encrypt-to` against a plain `snapshot save` and
# `etcdctl snapshot save`, from the same member in the same run. The member is started on a
# data dir restored (with lifeboat) from an existing snapshot, e.g. the one bench-restore.sh
# generated. Wall time and peak RSS from /usr/bin/time -v.
#
#   BENCH_SNAPSHOT=/tmp/lb-bench-restore/snapshot-1024m-1536b.db scripts/bench-encrypt.sh
set -euo pipefail
cd "$(dirname "$0")/.."

SNAP=${BENCH_SNAPSHOT:?set BENCH_SNAPSHOT to a snapshot file (scripts/bench-restore.sh makes one)}
WORK=${BENCH_DIR:-$(mktemp -d /tmp/lifeboat-bench-encrypt.XXXXXX)}
LIFEBOAT=${LIFEBOAT_BIN:-target/release/lifeboat}
export ETCDCTL_API=3
if [ -z "${LIFEBOAT_BIN:-}" ]; then
  cargo build --locked --release -p lifeboat
fi
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cp=$(port); pp=$(port); ep="http://127.0.0.1:$cp"; peer="http://127.0.0.1:$pp"

rm -rf "$WORK/member" "$WORK"/saved-*
"$LIFEBOAT" snapshot restore "$SNAP" --no-bump --name m --data-dir "$WORK/member" \
  --initial-cluster "m=$peer" --initial-advertise-peer-urls "$peer" >/dev/null
etcd --name m --data-dir "$WORK/member" --listen-client-urls "$ep" --advertise-client-urls "$ep" \
  --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" --initial-cluster "m=$peer" \
  --quota-backend-bytes $((8 * 1024 * 1024 * 1024)) >"$WORK/etcd.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 300); do etcdctl --endpoints "$ep" endpoint health >/dev/null 2>&1 && break; sleep 0.2; done

measure() {
  local name=$1; shift
  # Flush the previous save first: no tool pays for another's writeback.
  sync
  /usr/bin/time -v "$@" >"$WORK/$name.out" 2>"$WORK/$name.time" || { cat "$WORK/$name.time" >&2; exit 1; }
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$WORK/$name.time")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/$name.time")
  printf '%s %s %s\n' "$name" "$wall" "$rss"
}

# Any age recipient: only the cost of encrypting is measured (default: the test suite's).
RECIPIENT=${BENCH_RECIPIENT:-age1vxte58wq5tq4trlj4vaxrwdx68h402v2veh35hcdpx6dgvucx9aqq5wuzq}
{
  measure etcdctl-save etcdctl --endpoints "$ep" snapshot save "$WORK/saved-etcdctl.db"
  measure lifeboat-save "$LIFEBOAT" snapshot save --endpoints "$ep" "$WORK/saved-plain.db"
  measure lifeboat-save-encrypted "$LIFEBOAT" snapshot save --endpoints "$ep" \
    --encrypt-to "$RECIPIENT" "$WORK/saved-enc.db"
} | tee "$WORK/results.txt"
ls -l "$WORK"/saved-*
python3 - "$WORK" <<'PY'
import sys
r = {l.split()[0]: (float(l.split()[1]), int(l.split()[2])) for l in open(f"{sys.argv[1]}/results.txt")}
for k, (t, m) in r.items():
    print(f"{k:>26} {t:7.2f} s {m/1024:8.1f} MiB")
print(f"plain save vs etcdctl: {r['etcdctl-save'][0]/r['lifeboat-save'][0]:.2f}x (goal >= 1.0)")
print(f"encrypted / plain save: {r['lifeboat-save-encrypted'][0]/r['lifeboat-save'][0]:.2f} (goal <= 1.3)")
PY
