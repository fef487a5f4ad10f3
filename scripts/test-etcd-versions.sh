#!/usr/bin/env bash
# Runs the test suite once per etcd version (scripts/etcd-versions.sh makes the binaries):
# the whole workspace on the newest version, and on every other version the tests that start
# etcd or call etcdctl/etcdutl (every integration test of the lifeboat, testkit and ops crates:
# status, member verbs, snapshots, restore, datadir, recover, kube, drills, config).
#
#   LIFEBOAT_ETCD_VERSIONS="3.4 3.5 3.6 3.7"   which versions (default: all, newest gets the
#                                               full suite)
#   LIFEBOAT_ETCD_FULL=newest|all|none          which versions get the whole workspace suite
#                                               (default newest; none: only the etcd tests)
# Extra arguments go to every cargo test / cargo nextest run (e.g. a test name filter).
# Prints one line per version with its result and duration; exits non-zero if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."

read -r -a versions <<<"${LIFEBOAT_ETCD_VERSIONS:-$(./scripts/etcd-versions.sh list)}"
./scripts/etcd-versions.sh install "${versions[@]}" || exit 1
newest="$(printf '%s\n' "${versions[@]}" | sort -V | tail -1)"

nextest=0
cargo nextest --version >/dev/null 2>&1 && nextest=1

# The crates whose integration tests start etcd.
etcd_crates=(-p lifeboat -p testkit -p ops)

run_suite() {
  local scope="$1"
  shift
  if [ "$nextest" = 1 ]; then
    if [ "$scope" = full ]; then
      cargo nextest run --locked --workspace --no-fail-fast "$@"
    else
      cargo nextest run --locked "${etcd_crates[@]}" --no-fail-fast -E 'kind(test)' "$@"
    fi
  elif [ "$scope" = full ]; then
    cargo test --locked --workspace --no-fail-fast "$@"
  else
    cargo test --locked "${etcd_crates[@]}" --no-fail-fast --test '*' "$@"
  fi
}

summary=()
failed=0
passed_total=0
failed_total=0
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
for v in "${versions[@]}"; do
  scope=etcd
  case "${LIFEBOAT_ETCD_FULL:-newest}" in
    all) scope=full ;;
    none) ;;
    *) if [ "$v" = "$newest" ]; then scope=full; fi ;;
  esac
  env_lines="$(./scripts/etcd-versions.sh env "$v")" || exit 1
  echo "=== etcd $v ($scope suite)" >&2
  start=$(date +%s)
  (eval "$env_lines" && run_suite "$scope" "$@") 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  # nextest's closing line: "Summary [ 229.8s] 432 tests run: 430 passed, 2 failed, ..."
  line="$(grep -E 'tests? run:' "$log" | tail -1)"
  p=$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+' || echo 0)
  f=$(grep -oE '[0-9]+ failed' <<<"$line" | grep -oE '[0-9]+' || echo 0)
  passed_total=$((passed_total + ${p:-0}))
  failed_total=$((failed_total + ${f:-0}))
  took=$(($(date +%s) - start))
  result=pass
  if [ "$rc" -ne 0 ]; then result=FAIL; failed=1; fi
  summary+=("etcd $v ($scope): $result in ${took}s")
done
printf '%s\n' "${summary[@]}" >&2
# One closing line over every version's run.
echo "tests: $passed_total passed, $failed_total failed"
exit "$failed"
