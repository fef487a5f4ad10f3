#!/usr/bin/env bash
# Benchmark: `lifeboat status` vs `etcdctl endpoint status --cluster` + `etcdctl member list`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cargo build --locked --release -p lifeboat -p bench
LIFEBOAT_BIN=target/release/lifeboat ./target/release/bench-status
