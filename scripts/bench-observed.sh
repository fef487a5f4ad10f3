#!/usr/bin/env bash
# `policy check --observed` on a large Hubble flow export: time and peak RSS of the release
# binary (target: 1,000,000 lines under 10 s). Usage: scripts/bench-observed.sh [LINES]
set -euo pipefail
cd "$(dirname "$0")/.."
lines="${1:-1000000}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo build --release --locked --quiet -p lifeboat
python3 scripts/lib/gen_observed.py "$work/flows.jsonl" "$lines"
echo "bench-observed: $lines lines, $(du -h "$work/flows.jsonl" | cut -f1)"
for run in 1 2 3; do
  /usr/bin/time -f "run $run: %e s wall, %U s user, %M KiB peak RSS" \
    target/release/lifeboat policy check -f crates/policy/tests/fixtures/lockout-ccnp.yaml \
    --observed "$work/flows.jsonl" -o json > "$work/out.json" || true
done
python3 -c 'import json,sys; o=json.load(open(sys.argv[1]))["observed"]; print("bench-observed: keys", sorted(o)[:8])' "$work/out.json"
