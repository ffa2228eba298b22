#!/usr/bin/env bash
# Builds the Google Cloud emulators used by Tributary's tests into tools/emulators/bin/:
#
#   bin/bigquery-emulator  github.com/goccy/bigquery-emulator (version pinned in bigquery/go.mod)
#   bin/pstest             pstest/main.go around cloud.google.com/go/pubsub/v2/pstest
#                          (version pinned in pstest/go.mod)
#
# Idempotent: a binary is rebuilt only when it is missing or when the inputs that pin it
# (go.mod, go.sum, main.go, build flags, Go version) changed since it was built; the fingerprint of
# those inputs is kept next to the binary in bin/.<name>.stamp.
# Uses the default Go caches (GOMODCACHE, GOCACHE), so a warm machine is fast.
#
# Usage: tools/emulators/build.sh [--force] [bigquery|pstest]...   (default: both)
# See docs/emulators.md for build times, how the tests use the emulators and how they differ
# from Google Cloud.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="$here/bin"
force=0
targets=()
for arg in "$@"; do
  case "$arg" in
    --force|-f) force=1 ;;
    bigquery|pstest) targets+=("$arg") ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(pstest bigquery)

command -v go >/dev/null 2>&1 || { echo "build.sh: 'go' not found on PATH (need Go >= 1.26)" >&2; exit 1; }
mkdir -p "$bin"

# Both emulators are pure Go; no C toolchain needed. -mod=readonly: go.sum is the pin,
# never edited by a build.
export CGO_ENABLED=0
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=readonly"

fingerprint() { # dir flags -> sha256 of the files that pin the build, the flags and the Go version
  local dir="$1" flags="$2"
  { go version; echo "$flags"; cat "$dir/go.mod" "$dir/go.sum"; [ ! -f "$dir/main.go" ] || cat "$dir/main.go"; } \
    | sha256sum | cut -d' ' -f1
}

build_one() { # name
  local name="$1" dir pkg ldflags gcflags="" out stamp fp start end
  case "$name" in
    bigquery)
      dir="$here/bigquery"; out="$bin/bigquery-emulator"
      pkg="github.com/goccy/bigquery-emulator/cmd/bigquery-emulator"
      local v
      v="$(cd "$dir" && go list -m -f '{{.Version}}' github.com/goccy/bigquery-emulator)"
      ldflags="-s -w -X main.version=${v#v} -X main.revision=$v"
      # Without optimisation: the generated GoogleSQL packages (go-googlesql, googlesqlwasm2go)
      # then compile in about 200 s instead of about 465 s on 2 cores, and the tests run as
      # fast (measured: contract and end-to-end suites 14.2-14.5 s vs 15.0-15.5 s).
      gcflags="all=-N -l"
      ;;
    pstest)
      dir="$here/pstest"; out="$bin/pstest"; pkg="."; ldflags="-s -w"
      ;;
  esac
  stamp="$bin/.$(basename "$out").stamp"
  fp="$(fingerprint "$dir" "$gcflags $ldflags")"
  if [ "$force" = 0 ] && [ -x "$out" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$fp" ]; then
    echo "build.sh: $(basename "$out") is up to date (skipped)"
    return 0
  fi
  echo "build.sh: building $(basename "$out") ..."
  start=$(date +%s)
  # Build to a temporary name, then rename, so an interrupted build never leaves a
  # binary that looks up to date.
  (cd "$dir" && go build -trimpath -gcflags="$gcflags" -ldflags "$ldflags" -o "$out.tmp.$$" "$pkg")
  mv -f "$out.tmp.$$" "$out"
  echo "$fp" > "$stamp"
  end=$(date +%s)
  echo "build.sh: built $(basename "$out") in $((end - start))s"
}

trap 'rm -f "$bin"/*.tmp.$$' EXIT
for t in "${targets[@]}"; do build_one "$t"; done
