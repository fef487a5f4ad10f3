#!/usr/bin/env bash
# Installs what lifeboat's build, tests and drills need and the machine lacks:
# etcd 3.4 server and client (Debian etcd-server, etcd-client), protoc (etcd-client's build),
# nftables and iproute2 (network-namespace test hosts), GNU time (benchmarks), age (the
# encrypted-snapshot tests cross-check lifeboat's decryption with the age CLI), and the test
# runner cargo-nextest (built once from crates.io, pinned; kept in ~/.cargo/bin).
# Safe to run again: it installs only what is missing.
set -euo pipefail

need=()
command -v etcd >/dev/null 2>&1 || need+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || need+=(etcd-client)
command -v protoc >/dev/null 2>&1 || need+=(protobuf-compiler)
command -v nft >/dev/null 2>&1 || need+=(nftables)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
[ -x /usr/bin/time ] || need+=(time)
command -v age >/dev/null 2>&1 || need+=(age)

if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}" >&2
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
      echo "setup: need root (or sudo) to apt-get install ${need[*]}" >&2; exit 1
    fi
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found; install the Rust toolchain (rustup) first" >&2
  exit 1
fi

# nextest runs each test in its own process with a per-test timeout and one retry (.config/).
NEXTEST_VERSION=0.9.128
if ! cargo nextest --version 2>/dev/null | grep -q "cargo-nextest $NEXTEST_VERSION"; then
  echo "setup: building cargo-nextest $NEXTEST_VERSION (once; a few minutes)" >&2
  cargo install --locked --quiet "cargo-nextest@$NEXTEST_VERSION"
fi
for component in rustfmt clippy; do
  if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
    rustup component add "$component" >&2
  fi
done

# Every etcd release the suite runs against (3.4 3.5 3.6 3.7 unless LIFEBOAT_ETCD_VERSIONS says),
# cached per version beside the system's etcd: see scripts/etcd-versions.sh.
read -r -a etcd_versions <<<"${LIFEBOAT_ETCD_VERSIONS:-}"
"$(dirname "$0")/etcd-versions.sh" install "${etcd_versions[@]}"

# An S3-compatible server for the backup store tests (moto, from PyPI).
"$(dirname "$0")/setup-s3.sh"

# Prometheus' promtool checks and unit-tests the shipped alert rules (deploy/prometheus/).
"$(dirname "$0")/setup-promtool.sh"
