#!/usr/bin/env bash
# The main job: build lifeboat and rehearse a disaster on a throwaway local etcd cluster.
# Extra arguments go to `lifeboat drill` (e.g. --members 5, -o json).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cargo build --locked --release -p lifeboat
exec ./target/release/lifeboat drill "$@"
