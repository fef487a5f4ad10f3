#!/usr/bin/env bash
# Checks that crates/registry/src/schema/generated.rs is what its generator writes today: the
# generator reads two pinned crates (k8s-pb, k8s-openapi) from cargo's registry, which a scratch
# manifest fetches (no build). Exit 1 with a diff when they differ.
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/src"
: > "$scratch/src/lib.rs"
cat > "$scratch/Cargo.toml" <<'TOML'
[package]
name = "schema-sources"
version = "0.0.0"
edition = "2021"
publish = false
[dependencies]
k8s-pb = "=0.9.0"
k8s-openapi = "=0.29.0"
TOML
cargo fetch --quiet --manifest-path "$scratch/Cargo.toml"
python3 crates/registry/gen/schema.py > "$scratch/generated.rs" 2>/dev/null
if ! diff -u crates/registry/src/schema/generated.rs "$scratch/generated.rs" > "$scratch/diff"; then
  head -40 "$scratch/diff" >&2
  echo "check-generated: crates/registry/src/schema/generated.rs is not what crates/registry/gen/schema.py writes;" >&2
  echo "  regenerate: python3 crates/registry/gen/schema.py > crates/registry/src/schema/generated.rs" >&2
  exit 1
fi
echo "check-generated: crates/registry/src/schema/generated.rs matches its generator"
