"""One etcd version's row of scripts/bench-inspect.sh: alternating warm and cold runs of
`lifeboat snapshot inspect -o json` and `etcdutl snapshot status -w json` on one file.

Usage: bench_inspect.py VERSION RUNS LIFEBOAT ETCDUTL FILE. Prints progress to stderr and one
JSON line (medians in seconds, peak RSS in KiB, whether the status fields agree) to stdout.
"""

import json
import os
import statistics
import subprocess
import sys
import time

version, runs, lifeboat, etcdutl, snap = sys.argv[1], int(sys.argv[2]), *sys.argv[3:6]
COMMANDS = {
    "lifeboat": [lifeboat, "snapshot", "inspect", "-o", "json", snap],
    "etcdutl": [etcdutl, "snapshot", "status", "-w", "json", snap],
}


def evict(path):
    """Drop this file's pages from the page cache (no root needed, nobody else's cache)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def cached_pages(path):
    out = subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES", path],
                         capture_output=True, text=True, check=True).stdout
    return int(out.split()[0])


def warm(path):
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def timed(name):
    # fork + wait4 rather than subprocess: the rusage of this one child is its peak RSS.
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        fd = os.open(os.devnull, os.O_WRONLY)
        out = os.open(f"{snap}.{name}.out", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(out, 1)
        os.dup2(fd, 2)
        os.execv(COMMANDS[name][0], COMMANDS[name])
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    # lifeboat exits 1 for a file with warnings; anything past that is a failure.
    if code not in (0, 1) or (name == "etcdutl" and code != 0):
        sys.exit(f"bench-inspect: {' '.join(COMMANDS[name])} exited {code}")
    return wall, usage.ru_maxrss, usage.ru_utime + usage.ru_stime


def fields(name):
    with open(f"{snap}.{name}.out") as f:
        return json.load(f)


times = {(m, n): [] for m in ("warm", "cold") for n in COMMANDS}
rss = {n: 0 for n in COMMANDS}
# CPU seconds (user + system) of the warm runs: what the work costs, whatever else the cores run.
cpu_times = {n: [] for n in COMMANDS}
load = os.getloadavg()[0]
for i in range(runs):
    for name in COMMANDS:
        warm(snap)
        wall, peak, cpu = timed(name)
        times["warm", name].append(wall)
        cpu_times[name].append(cpu)
        rss[name] = max(rss[name], peak)
    for name in COMMANDS:
        evict(snap)
        left = cached_pages(snap)
        if left > os.path.getsize(snap) // 100:
            sys.exit(f"bench-inspect: eviction did not take ({left} bytes still cached)")
        wall, peak, _ = timed(name)
        times["cold", name].append(wall)
        rss[name] = max(rss[name], peak)
    print(f"bench-inspect: etcd {version} run {i + 1}/{runs}: " + ", ".join(
        f"{m} {n} {times[m, n][-1]:.2f} s" for (m, n) in times), file=sys.stderr)

e, l = fields("etcdutl"), fields("lifeboat")
# etcdutl 3.6 on counts distinct live keys in totalKey (lifeboat's live_keys).
total = "totalKey" if version in ("3.4", "3.5") else "live_keys"
same = all(e[k] == l[k] for k in ("hash", "revision", "totalSize")) and e["totalKey"] == l[total]
if not same:
    print(f"bench-inspect: etcd {version}: fields differ: etcdutl {e}, lifeboat "
          f"{ {k: l.get(k) for k in ('hash', 'revision', 'totalKey', 'live_keys', 'totalSize')} }",
          file=sys.stderr)
for name in COMMANDS:
    os.remove(f"{snap}.{name}.out")
print(json.dumps({
    "version": version,
    "bytes": os.path.getsize(snap),
    "warm": {n: statistics.median(times["warm", n]) for n in COMMANDS},
    "cold": {n: statistics.median(times["cold", n]) for n in COMMANDS},
    "cpu": {n: statistics.median(cpu_times[n]) for n in COMMANDS},
    "rss_lifeboat": rss["lifeboat"],
    "rss_etcdutl": rss["etcdutl"],
    "load_before": load,
    "same": same,
}))
