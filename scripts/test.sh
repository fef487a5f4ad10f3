#!/usr/bin/env bash
# Runs every test: unit, property and integration tests against real etcd 3.4, 3.5, 3.6 and 3.7
# on loopback (LIFEBOAT_ETCD_VERSIONS picks some).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# Once per etcd version: the full suite on the newest, the etcd tests on the others.
exec ./scripts/test-etcd-versions.sh "$@"
