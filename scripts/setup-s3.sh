#!/usr/bin/env bash
# Installs the S3-compatible server the backup tests start on 127.0.0.1 (crates/lifeboat/tests/
# backup_store.rs): moto's standalone server (`moto_server`, PyPI `moto[server]`, pinned).
# Safe to run again: it installs only when moto_server is missing or another version.
set -euo pipefail

MOTO_VERSION=5.2.1
have=""
if command -v moto_server >/dev/null 2>&1; then
  have=$(python3 -m pip show moto 2>/dev/null | sed -n 's/^Version: //p' || true)
fi
if [ "$have" != "$MOTO_VERSION" ]; then
  if ! command -v python3 >/dev/null 2>&1; then
    echo "setup-s3: python3 not found; install python3 and pip first" >&2
    exit 1
  fi
  echo "setup-s3: installing moto[server]==$MOTO_VERSION (the tests' S3-compatible server)" >&2
  python3 -m pip install --quiet "moto[server]==$MOTO_VERSION"
fi
command -v moto_server >/dev/null 2>&1 || {
  echo "setup-s3: moto_server is not on PATH after the install; add pip's script directory to PATH" >&2
  exit 1
}
