#!/usr/bin/env bash
# Runs every check and test: formatting, clippy (warnings are errors), the generated protobuf
# schema against its generator, then unit, property and integration tests against real etcd
# 3.4, 3.5, 3.6 and 3.7 on loopback (LIFEBOAT_ETCD_VERSIONS picks some). LIFEBOAT_QUICK=1 skips
# the three checks (for a quick local rerun).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
if [ "${LIFEBOAT_QUICK:-0}" != 1 ]; then
  echo "test: cargo fmt --check" >&2
  cargo fmt --all -- --check
  echo "test: cargo clippy -D warnings" >&2
  cargo clippy --locked --workspace --all-targets --quiet -- -D warnings
  ./scripts/check-generated.sh
fi
# Once per etcd version: the full suite on the newest, the etcd tests on the others.
exec ./scripts/test-etcd-versions.sh "$@"
