#!/usr/bin/env bash
# Installs promtool, which checks and unit-tests the alert rules in deploy/prometheus/
# (crates/lifeboat/tests/alert_rules.rs). Debian's `prometheus` package ships it; only the
# tool is used (the package's server is stopped and disabled where systemd runs it).
# Safe to run again: it installs only when promtool is missing.
set -euo pipefail

if ! command -v promtool >/dev/null 2>&1; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup-promtool: apt-get not found; install promtool (Prometheus 2.x) by other means" >&2
    exit 1
  fi
  echo "setup-promtool: installing Debian's prometheus package for promtool" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
    systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
fi
command -v promtool >/dev/null 2>&1 || {
  echo "setup-promtool: promtool is not on PATH after the install" >&2
  exit 1
}
promtool --version 2>&1 | head -1 >&2
