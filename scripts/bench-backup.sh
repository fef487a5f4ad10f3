#!/usr/bin/env bash
# Benchmarks of the continuous backup (issue 15), release build, results for BENCHMARKS.md
# ("Continuous backup"). Three parts, all by default:
#
#   scripts/bench-backup.sh lag       # a: delta lag and agent peak RSS at the fastest write load
#   scripts/bench-backup.sh restore   # b: backup restore --latest (full + delta events) vs
#                                     #    a plain snapshot restore of the same full
#   scripts/bench-backup.sh rpo       # c: RPO and RTO over 10 runs of drill --scenario total-loss
#
# Knobs: BENCH_SECONDS (60: each load phase of `lag`), BENCH_CONCURRENCY (64 writers),
# BENCH_SIZE_MIB (1024: the full of `restore`), BENCH_EVENTS (1000000 delta events),
# BENCH_RUNS (10 drills), BENCH_REPEAT (1: pairs of backup restore and snapshot restore timed
# by `restore`, medians reported), BENCH_ETCDUTL (reference restore; default from PATH or the test
# kit's cache), BENCH_DIR (work dir, default a new /tmp dir, removed at the end
# unless BENCH_KEEP=1; `restore` with BENCH_KEEP=1 keeps its store there and a second run with
# the same BENCH_DIR only re-times it), LIFEBOAT_BIN / BENCH_BIN_DIR (prebuilt release binaries).
set -euo pipefail
cd "$(dirname "$0")/.."

PARTS=${*:-lag restore rpo}
SECONDS_LOAD=${BENCH_SECONDS:-60}
CONCURRENCY=${BENCH_CONCURRENCY:-64}
SIZE_MIB=${BENCH_SIZE_MIB:-1024}
VALUE=${BENCH_VALUE:-1536}
EVENTS=${BENCH_EVENTS:-1000000}
RUNS=${BENCH_RUNS:-10}
REPEAT=${BENCH_REPEAT:-1}
WORK=${BENCH_DIR:-$(mktemp -d /tmp/lifeboat-bench-backup.XXXXXX)}
LIFEBOAT=${LIFEBOAT_BIN:-target/release/lifeboat}
BIN_DIR=${BENCH_BIN_DIR:-target/release}
LOAD="$BIN_DIR/bench-put-load"
# etcdutl for the reference restore (etcd 3.5 on; 3.4 has none): PATH, else the test kit's cache.
ETCDUTL=${BENCH_ETCDUTL:-$(command -v etcdutl || ls -d "$HOME"/.cache/lifeboat/etcd/v3.*/etcdutl 2>/dev/null | tail -1 || true)}
SNAP=${BENCH_SNAPSHOT:-$WORK/snapshot-${SIZE_MIB}m-${VALUE}b.db}
mkdir -p "$WORK"

for tool in etcd etcdctl python3 /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench-backup: $tool is missing (run scripts/setup.sh)" >&2; exit 3; }
done
if [ -z "${LIFEBOAT_BIN:-}" ]; then
  cargo build --locked --release -p lifeboat -p bench --bin lifeboat --bin bench-put-load
fi

BENCH_NAME=bench-backup
. scripts/lib/bench.sh

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT

# start_etcd NAME DATA_DIR: a one-member plain-http etcd; sets EP and ETCD_PID.
start_etcd() {
  local name=$1 dir=$2 cp pp
  cp=$(free_port); pp=$(free_port); EP="http://127.0.0.1:$cp"
  etcd --name "$name" --data-dir "$dir" \
    --listen-client-urls "$EP" --advertise-client-urls "$EP" \
    --listen-peer-urls "http://127.0.0.1:$pp" --initial-advertise-peer-urls "http://127.0.0.1:$pp" \
    --initial-cluster "$name=http://127.0.0.1:$pp" --quota-backend-bytes $((8 * 1024 * 1024 * 1024)) \
    --max-txn-ops 1024 --max-request-bytes $((8 * 1024 * 1024)) \
    >"$WORK/$name.log" 2>&1 &
  ETCD_PID=$!
  PIDS+=("$ETCD_PID")
  for _ in $(seq 150); do etcdctl --endpoints "$EP" endpoint health >/dev/null 2>&1 && return; sleep 0.2; done
  echo "bench-backup: etcd $name did not start (see $WORK/$name.log)" >&2; exit 1
}

# start_agent STORE_DIR: `lifeboat agent` on $EP with metrics; sets AGENT_PID and METRICS.
start_agent() {
  local store=$1 mp
  mp=$(free_port); METRICS="127.0.0.1:$mp"
  mkdir -p "$store" "$WORK/agent-work"
  "$LIFEBOAT" agent --store "file://$store" --work-dir "$WORK/agent-work" \
    --metrics-listen "$METRICS" --endpoints "$EP" >"$WORK/agent.log" 2>&1 &
  AGENT_PID=$!
  PIDS+=("$AGENT_PID")
}

metric() { curl -s "http://$METRICS/metrics" | awk -v m="$1" '$1 == m {print $2}'; }

# wait_metric NAME MIN: until the agent's gauge NAME is >= MIN (10 min bound).
wait_metric() {
  for _ in $(seq 3000); do
    v=$(metric "$1" || true)
    if [ -n "$v" ] && python3 -c "import sys; sys.exit(0 if float('$v') >= float('$2') else 1)"; then return; fi
    sleep 0.2
  done
  echo "bench-backup: agent gauge $1 never reached $2 (see $WORK/agent.log)" >&2; exit 1
}

stop_agent() {
  kill -TERM "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null || true
}

part_lag() {
  echo "## a. delta lag at the fastest write load (${SECONDS_LOAD}s per phase, $CONCURRENCY writers)"
  start_etcd lag "$WORK/etcd-lag"
  "$LOAD" --endpoints "$EP" --concurrency "$CONCURRENCY" --seconds "$SECONDS_LOAD" --prefix /bench/alone/ >"$WORK/alone.json"
  start_agent "$WORK/store-lag"
  wait_metric lifeboat_backup_full_revision 1
  # Sample the lag gauges every 100 ms while the same load runs with the agent shipping it.
  python3 - "$METRICS" "$WORK/lag-samples.txt" <<'PY' &
import sys, time, urllib.request
url, out = f"http://{sys.argv[1]}/metrics", open(sys.argv[2], "w")
while True:
    try:
        text = urllib.request.urlopen(url, timeout=2).read().decode()
        g = {l.split()[0]: float(l.split()[1]) for l in text.splitlines() if l and not l.startswith("#") and len(l.split()) == 2}
        out.write(f"{time.time():.3f} {g.get('lifeboat_backup_delta_lag_revisions', -1)} {g.get('lifeboat_backup_delta_lag_seconds', -1)}\n"); out.flush()
    except Exception:
        pass
    time.sleep(0.1)
PY
  SAMPLER=$!
  PIDS+=("$SAMPLER")
  "$LOAD" --endpoints "$EP" --concurrency "$CONCURRENCY" --seconds "$SECONDS_LOAD" --prefix /bench/with-agent/ >"$WORK/with-agent.json"
  local last t0
  last=$(python3 -c "import json; print(json.load(open('$WORK/with-agent.json'))['last_revision'])")
  t0=$(date +%s.%N)
  wait_metric lifeboat_backup_delta_revision "$last"
  local caught_up
  caught_up=$(python3 -c "print(round($(date +%s.%N) - $t0, 3))")
  kill "$SAMPLER" 2>/dev/null || true
  local hwm
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/$AGENT_PID/status")
  stop_agent
  kill "$ETCD_PID"; wait "$ETCD_PID" 2>/dev/null || true
  python3 - "$WORK" "$hwm" "$caught_up" <<'PY'
import json, sys
work, hwm_kib, caught = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
alone, withagent = json.load(open(f"{work}/alone.json")), json.load(open(f"{work}/with-agent.json"))
s = [l.split() for l in open(f"{work}/lag-samples.txt")]
revs = sorted(float(x[1]) for x in s if float(x[1]) >= 0)
secs = sorted(float(x[2]) for x in s if float(x[2]) >= 0)
pct = lambda v, p: v[min(len(v) - 1, int(len(v) * p))] if v else float("nan")
print(f"| etcd alone: acknowledged puts/s | {alone['events_per_second']:.0f} ({alone['acked_events']} in {alone['seconds']} s, {alone['errors']} errors) |")
print(f"| with the agent shipping: puts/s | {withagent['events_per_second']:.0f} ({withagent['acked_events']} in {withagent['seconds']} s) |")
# The gauges are set by the agent right after each flush, so they read ~0 whenever uploads
# keep up; the segments themselves (below) show the lag between flushes.
print(f"| /metrics delta lag gauges, seconds / revisions, max of {len(secs)} scrapes (set only at each flush) | {max(secs or [float('nan')]):.3f} / {max(revs or [float('nan')]):.0f} |")
print(f"| last write stored, after the load stopped | {caught:.3f} s (includes the 200 ms poll) |")
print(f"| agent peak RSS (VmHWM) | {hwm_kib/1024:.1f} MiB (goal < 64 MiB) |")
PY
  python3 - "$WORK/store-lag/delta" <<'PY'
# Per segment (format: docs/backup.md section 2): its oldest event's observed time (when the
# agent's watch got it, just after etcd acknowledged the write) against the time the segment
# was stored (file mtime in the file:// store): how long a write waited to be backed up.
import os, struct, sys
d, rows = sys.argv[1], []
for name in sorted(os.listdir(d)):
    if not name.endswith(".seg"): continue
    p = os.path.join(d, name)
    with open(p, "rb") as f:
        h = f.read(64 + 37 + 8)
    first, last = struct.unpack(">qq", h[32:48])
    created = struct.unpack(">q", h[56:64])[0]
    observed = struct.unpack(">q", h[101:109])[0]
    mtime = os.stat(p).st_mtime_ns / 1e6
    rows.append((mtime - observed, last - first + 1, mtime - created))
lag = sorted(r[0] for r in rows); revs = sorted(r[1] for r in rows); up = sorted(r[2] for r in rows)
pct = lambda v, p: v[min(len(v) - 1, int(len(v) * p))]
print(f"| delta lag, seconds (oldest event of a segment, observed -> stored), {len(rows)} segments: p50 / p99 / max | {pct(lag,.5)/1000:.3f} / {pct(lag,.99)/1000:.3f} / {lag[-1]/1000:.3f} |")
print(f"| delta lag, revisions (revisions waiting in one segment): p50 / p99 / max | {pct(revs,.5)} / {pct(revs,.99)} / {revs[-1]} |")
print(f"| one segment upload (sealed -> stored): p50 / max | {pct(up,.5)/1000:.3f} / {up[-1]/1000:.3f} s |")
PY
  rm -rf "$WORK/store-lag" "$WORK/etcd-lag"
}

part_restore() {
  echo "## b. backup restore --latest (full ~${SIZE_MIB} MiB + $EVENTS delta events) vs snapshot restore of the full"
  # With BENCH_KEEP=1 the store and the full stay in BENCH_DIR: a second run re-times them.
  if [ -f "$WORK/full.db" ] && [ -d "$WORK/store-restore/delta" ]; then
    echo "bench-backup: re-timing the store kept in $WORK" >&2
  else
    restore_prepare
  fi
  time_restore
  [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$WORK/store-restore" "$WORK/full.db"
}

# restore_prepare: a store with a full of ~SIZE_MIB and EVENTS delta events after it, and
# the full hard-linked out of it as $WORK/full.db.
restore_prepare() {
  # generate's own trap replaces ours: put it back, or WORK would stay behind.
  [ -f "$SNAP" ] || { generate; trap cleanup EXIT; }
  local pp
  pp=$(free_port)
  "$LIFEBOAT" snapshot restore "$SNAP" --name src --initial-cluster "src=http://127.0.0.1:$pp" --initial-advertise-peer-urls "http://127.0.0.1:$pp" \
    --data-dir "$WORK/etcd-src" >/dev/null
  [ -n "${BENCH_SNAPSHOT:-}" ] || rm -f "$SNAP"
  start_etcd src "$WORK/etcd-src"
  start_agent "$WORK/store-restore"
  wait_metric lifeboat_backup_full_revision 1
  "$LOAD" --endpoints "$EP" --events "$EVENTS" --txn-ops 100 --concurrency 8 --value-bytes 200 \
    --prefix /registry/events/bench/ev- >"$WORK/events.json"
  local last
  last=$(python3 -c "import json; print(json.load(open('$WORK/events.json'))['last_revision'])")
  wait_metric lifeboat_backup_delta_revision "$last"
  stop_agent
  kill "$ETCD_PID"; wait "$ETCD_PID" 2>/dev/null || true
  rm -rf "$WORK/etcd-src" "$WORK/agent-work"
  # A hard link without the store's manifest beside it: `snapshot restore` would read the
  # backup manifest (`FULL.db.json`) as a `snapshot save` manifest and refuse the file.
  ln "$(ls "$WORK"/store-restore/full/*.db)" "$WORK/full.db"
}

time_restore() {
  local full=$WORK/full.db pp
  pp=$(free_port)
  sync
  cat "$full" >/dev/null
  {
    # Each pair alternates (backup restore, then snapshot restore) so that a load that comes
    # and goes on a shared machine weighs on both; the table takes the medians.
    for n in $(seq "$REPEAT"); do
      rm -rf "$WORK/restored.db" "$WORK/plain"
      measure "backup-restore-$n" "$LIFEBOAT" backup restore -o json --store "file://$WORK/store-restore" \
        --latest --out "$WORK/restored.db"
      sync
      measure "snapshot-restore-full-$n" "$LIFEBOAT" snapshot restore -o json "$full" --name b1 \
        --initial-cluster "b1=http://127.0.0.1:$pp" --initial-advertise-peer-urls "http://127.0.0.1:$pp" --data-dir "$WORK/plain/b1"
      sync
    done
    if [ -n "$ETCDUTL" ]; then
      measure etcdutl-restore-full "$ETCDUTL" snapshot restore "$full" --name b1 \
        --initial-cluster "b1=http://127.0.0.1:$pp" --initial-advertise-peer-urls "http://127.0.0.1:$pp" --data-dir "$WORK/etcdutl/b1"
      sync
      rm -rf "$WORK/etcdutl"
    fi
    measure snapshot-restore-rebuilt "$LIFEBOAT" snapshot restore -o json "$WORK/restored.db" --name b1 \
      --initial-cluster "b1=http://127.0.0.1:$pp" --initial-advertise-peer-urls "http://127.0.0.1:$pp" --data-dir "$WORK/rebuilt/b1"
    sync
  } | tee "$WORK/restore-results.txt"
  python3 - "$WORK" "$full" <<'PY'
import json, os, sys
work, full = sys.argv[1], sys.argv[2]
r = {l.split()[0]: (float(l.split()[1]), int(l.split()[2])) for l in open(f"{work}/restore-results.txt")}
rep = json.load(open(f"{work}/backup-restore-1.out"))
def median(name):
    runs = sorted(v for k, v in r.items() if k.rsplit("-", 1)[0] == name)
    return runs[len(runs) // 2], [v[0] for v in runs]
(b, bs), (s, ss) = median("backup-restore"), median("snapshot-restore-full")
t = r["snapshot-restore-rebuilt"]
if len(bs) > 1:
    runs = range(1, len(bs) + 1)
    bt = [r["backup-restore-%d" % n][0] for n in runs]
    st = [r["snapshot-restore-full-%d" % n][0] for n in runs]
    pairs = [x / max(y, 1e-3) for x, y in zip(bt, st)]
    print("| runs in order, backup restore / snapshot restore (s) | %s / %s |" % (" ".join("%.2f" % x for x in bt), " ".join("%.2f" % x for x in st)))
    print(f"| ratio of each pair (median) | {' '.join(f'{x:.2f}' for x in pairs)} ({sorted(pairs)[len(pairs) // 2]:.2f}) |")
print(f"| full | {os.path.getsize(full):,} B at revision {rep['full_revision']} |")
print(f"| delta | {rep['segments']} segments, {rep['events']:,} events -> revision {rep['revision']}, {rep['size']:,} B out |")
print(f"| `backup restore --latest` | {b[0]:.2f} s, peak RSS {b[1]/1024:.1f} MiB |")
print(f"| `snapshot restore` of the full (1 member) | {s[0]:.2f} s, peak RSS {s[1]/1024:.1f} MiB |")
print(f"| ratio backup restore / snapshot restore | **{b[0]/max(s[0],1e-3):.2f}x** (goal <= 2) |")
print(f"| then `snapshot restore` of the rebuilt file | {t[0]:.2f} s |")
if "etcdutl-restore-full" in r:
    e = r["etcdutl-restore-full"]
    print(f"| `etcdutl snapshot restore` of the full (reference) | {e[0]:.2f} s, peak RSS {e[1]/1024:.1f} MiB; backup restore / etcdutl: {b[0]/max(e[0],1e-3):.2f}x |")
PY
  rm -rf "$WORK/plain" "$WORK/rebuilt" "$WORK/restored.db"
}

part_rpo() {
  echo "## c. drill --scenario total-loss x $RUNS (3 TLS members, 1000 objects, 200 writes/s, 5 s of load)"
  for n in $(seq "$RUNS"); do
    "$LIFEBOAT" drill --scenario total-loss -o json --keys 1000 --write-rate 200 --load-seconds 5 \
      >"$WORK/drill-$n.json" 2>"$WORK/drill-$n.err" || true
  done
  python3 - "$WORK" "$RUNS" <<'PY'
import json, sys
work, runs = sys.argv[1], int(sys.argv[2])
print("| run | verdict | acknowledged | lost | RPO s | detect | fetch | rebuild | restore | start | RTO s | agent RSS MiB |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
rpos, rtos = [], []
for n in range(1, runs + 1):
    try:
        j = json.load(open(f"{work}/drill-{n}.json"))
    except Exception as e:
        print(f"| {n} | no report ({e}) |"); continue
    t = j["total_loss"]; p = t.get("rpo") or {}; r = t.get("rto") or {}
    rss = (t["agent"].get("peak_rss_bytes") or 0) / 2**20
    rpos.append(p.get("seconds", float("nan"))); rtos.append(r.get("total_seconds", float("nan")))
    print(f"| {n} | {j['verdict']} | {t['writes']['acknowledged']} | {p.get('lost_writes')} | {p.get('seconds')} | "
          f"{r.get('detect_seconds')} | {r.get('fetch_seconds')} | {r.get('rebuild_seconds')} | {r.get('restore_seconds')} | "
          f"{r.get('start_seconds')} | {r.get('total_seconds')} | {rss:.1f} |")
if rpos:
    print(f"\nRPO max {max(rpos):.3f} s, mean {sum(rpos)/len(rpos):.3f} s (goal <= 1 s); RTO max {max(rtos):.2f} s, mean {sum(rtos)/len(rtos):.2f} s")
PY
}

for part in $PARTS; do
  case $part in
    lag) part_lag ;;
    restore) part_restore ;;
    rpo) part_rpo ;;
    *) echo "bench-backup: unknown part $part (lag, restore, rpo)" >&2; exit 64 ;;
  esac
done
