#!/usr/bin/env bash
# The etcd releases lifeboat is tested against, one directory per exact version with `etcd`,
# `etcdctl` and (3.5 on) `etcdutl`, `bbolt` (3.6 on), never installed over the system's etcd:
#   3.4  Debian bookworm's etcd-server/etcd-client, /usr/bin (scripts/setup.sh installs them)
#   3.5  Debian trixie's etcd-server/etcd-client .debs, downloaded with a private apt state and
#        unpacked with dpkg -x, not installed
#   3.6, 3.7  built with `go build` from the Go module proxy; the pinned versions and go.sum
#        are in scripts/etcd/v3.N/ (bump: go get -tool go.etcd.io/etcd/server/v3@vX ...)
# Everything lands under $LIFEBOAT_ETCD_CACHE (default ~/.cache/lifeboat/etcd)/vX.Y.Z and is
# made only when missing, so running it again is cheap.
#
#   etcd-versions.sh install [3.4 3.5 3.6 3.7]   make what is missing (default: all)
#   etcd-versions.sh dir 3.6                      print the directory of that version
#   etcd-versions.sh env 3.6                      print `export` lines for a test run
#   etcd-versions.sh list                         print the short versions, oldest first
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
cache="${LIFEBOAT_ETCD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lifeboat/etcd}"
all_versions=(3.4 3.5 3.6 3.7)
# Debian's 3.5: trixie (stable) does not move under us; sid has newer 3.5 patch releases.
deb35_suite="${LIFEBOAT_ETCD35_SUITE:-trixie}"
deb35_version="${LIFEBOAT_ETCD35_DEB:-3.5.16-4}"

log() { echo "etcd-versions: $*" >&2; }
die() { log "$*"; exit 1; }

# The exact version behind a short one.
exact() {
  case "$1" in
    3.4) echo 3.4.23 ;;
    3.5) echo "${deb35_version%%-*}" ;;
    3.6 | 3.7)
      local mod="$here/etcd/v$1/go.mod" v
      [ -f "$mod" ] || die "no $mod: the pinned module for etcd $1 is missing from the checkout"
      v="$(awk '$1 == "go.etcd.io/etcd/server/v3" && $2 ~ /^v/ { print $2 }' "$mod")"
      [ -n "$v" ] || die "$mod pins no go.etcd.io/etcd/server/v3"
      echo "${v#v}"
      ;;
    *) die "unknown etcd version '$1'; known: ${all_versions[*]}" ;;
  esac
}

dir_of() { echo "$cache/v$(exact "$1")"; }

complete() {
  local d="$1"
  shift
  for b in "$@"; do [ -x "$d/$b" ] || return 1; done
}

# A staging dir inside this run's own scratch dir, which goes when the run ends however it ends.
scratch=""
stage() {
  if [ -z "$scratch" ]; then
    die "internal: no scratch dir"
  fi
  mktemp -d "$scratch/vXXXXXX"
}

# Publishes a finished staging dir in one rename, so a crash never leaves a half version.
# Another run that published the same version meanwhile wins; ours is dropped with the scratch.
publish() {
  local staging="$1" final="$2"
  if [ -e "$final" ]; then mv -T "$final" "$final.old.$$"; fi
  if ! mv -T "$staging" "$final" 2>/dev/null; then
    complete "$final" etcd etcdctl || die "cannot put the new $final in place"
  fi
  rm -rf "$final.old.$$"
}

install_34() {
  local d
  d="$(dir_of 3.4)"
  complete "$d" etcd etcdctl && return 0
  local etcd=/usr/bin/etcd ctl=/usr/bin/etcdctl got
  [ -x "$etcd" ] && [ -x "$ctl" ] ||
    die "etcd 3.4 is not in /usr/bin; run scripts/setup.sh (Debian bookworm etcd-server etcd-client)"
  got="$("$etcd" --version | awk '/^etcd Version:/ { print $3 }')"
  [ "$got" = "$(exact 3.4)" ] || die "/usr/bin/etcd is $got, expected $(exact 3.4) (Debian bookworm)"
  local tmp
  tmp="$(stage)"
  ln -s "$etcd" "$tmp/etcd"
  ln -s "$ctl" "$tmp/etcdctl"
  chmod 755 "$tmp"
  publish "$tmp" "$d"
}

install_35() {
  local d
  d="$(dir_of 3.5)"
  complete "$d" etcd etcdctl etcdutl && return 0
  command -v apt-get >/dev/null || die "etcd 3.5 comes from Debian's .debs and needs apt-get"
  # Private apt state: the system's sources, lists and preferences stay as they are.
  local apt="$cache/.apt-$deb35_suite"
  mkdir -p "$apt/lists/partial" "$apt/archives/partial" "$apt/prefs"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $deb35_suite main" \
    >"$apt/sources.list"
  local opts=(
    -o "Dir::Etc::SourceList=$apt/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt" -o "Dir::Cache::Archives=$apt/archives"
    -o "Dir::Etc::Preferences=/dev/null" -o "Dir::Etc::PreferencesParts=$apt/prefs"
    -o "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false"
    -o "Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false"
    -o "Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false"
    -o "Acquire::IndexTargets::deb::CNF::DefaultEnabled=false"
    -o "APT::Sandbox::User=root"
  )
  log "downloading Debian $deb35_suite etcd-server/etcd-client $deb35_version"
  apt-get -qq "${opts[@]}" update >&2
  local tmp
  tmp="$(stage)"
  (cd "$tmp" && apt-get -qq "${opts[@]}" download \
    "etcd-server=$deb35_version" "etcd-client=$deb35_version" >&2)
  for deb in "$tmp"/*.deb; do dpkg -x "$deb" "$tmp/root"; done
  for b in etcd etcdctl etcdutl; do
    [ -x "$tmp/root/usr/bin/$b" ] || die "the $deb35_version .debs hold no usr/bin/$b"
    mv "$tmp/root/usr/bin/$b" "$tmp/$b"
  done
  rm -rf "$tmp/root" "$tmp"/*.deb
  chmod 755 "$tmp"
  publish "$tmp" "$d"
}

# 3.6 on: upstream's own main packages, built from the module proxy with the committed go.sum.
install_go() {
  local short="$1" d
  d="$(dir_of "$short")"
  complete "$d" etcd etcdctl etcdutl bbolt && return 0
  command -v go >/dev/null || die "etcd $short is built from source and needs Go (go.dev/dl)"
  local tmp
  tmp="$(stage)"
  log "building etcd $(exact "$short") (etcd, etcdctl, etcdutl, bbolt) with $(go version | cut -d' ' -f3)"
  (cd "$here/etcd/v$short" &&
    CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=readonly nice go build -trimpath -o "$tmp/" \
      go.etcd.io/etcd/server/v3 go.etcd.io/etcd/etcdctl/v3 go.etcd.io/etcd/etcdutl/v3 \
      go.etcd.io/bbolt/cmd/bbolt)
  # go build names a binary after its package path: etcd's is go.etcd.io/etcd/server/v3.
  mv "$tmp/server" "$tmp/etcd"
  chmod 755 "$tmp"
  publish "$tmp" "$d"
}

install_one() {
  case "$1" in
    3.4) install_34 ;;
    3.5) install_35 ;;
    3.6 | 3.7) install_go "$1" ;;
    *) exact "$1" >/dev/null ;;
  esac
  local d got
  d="$(dir_of "$1")"
  got="$("$d/etcd" --version | awk '/^etcd Version:/ { print $3 }')"
  [ "$got" = "$(exact "$1")" ] || die "$d/etcd says it is $got, expected $(exact "$1")"
}

cmd="${1:-install}"
shift || true
case "$cmd" in
  install)
    mkdir -p "$cache"
    scratch="$(mktemp -d "$cache/.staging-XXXXXX")"
    trap 'rm -rf "$scratch"' EXIT
    [ $# -gt 0 ] || set -- "${all_versions[@]}"
    for v in "$@"; do install_one "$v"; done
    ;;
  dir) dir_of "${1:?which version}" ;;
  env)
    d="$(dir_of "${1:?which version}")"
    complete "$d" etcd etcdctl || die "etcd $1 is not installed; run $0 install $1"
    echo "export LIFEBOAT_ETCD_VERSION=$(exact "$1")"
    echo "export LIFEBOAT_ETCD_BIN=$d/etcd"
    echo "export LIFEBOAT_ETCDCTL_BIN=$d/etcdctl"
    # 3.4 has no etcdutl: its etcdctl still does snapshot restore/status.
    if [ -x "$d/etcdutl" ]; then echo "export LIFEBOAT_ETCDUTL_BIN=$d/etcdutl"; else echo "unset LIFEBOAT_ETCDUTL_BIN"; fi
    # Tests that run plain `etcd`/`etcdctl` find this version first.
    echo "export PATH=$d:\$PATH"
    ;;
  list) echo "${all_versions[*]}" ;;
  *) die "usage: $0 install [VERSION...] | dir VERSION | env VERSION | list" ;;
esac
