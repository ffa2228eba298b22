#!/usr/bin/env bash
# Builds the offline IaC tools from the Go module proxy into tools/iac/bin/ (gitignored):
#
#   bin/tofu              OpenTofu            (version pinned in go/tofu/go.mod)
#   bin/tflint            TFLint              (version pinned in go/tflint/go.mod)
#   bin/mirror/...        hashicorp/google provider in a filesystem-mirror layout
#                         (commit pinned in go/provider-google/go.mod; only with `provider`)
#
# Idempotent: a tool is rebuilt only when the files that pin it (go.mod, go.sum, the Go
# version) changed since it was built; the fingerprint is kept in bin/.<name>.stamp.
# Uses the default Go caches (GOMODCACHE, GOCACHE), so a warm machine is fast.
#
# Usage: tools/iac/build.sh [--force] [tofu|tflint|provider]...   (default: tofu tflint)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="$here/bin"
# The release the pinned provider commit belongs to (its CHANGELOG's top entry); the
# mirror directory and infra/**/versions.tf must agree on it.
PROVIDER_VERSION="${PROVIDER_VERSION:-8.0.0}"
force=0
targets=()
for arg in "$@"; do
  case "$arg" in
    --force|-f) force=1 ;;
    tofu|tflint|provider) targets+=("$arg") ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(tofu tflint)

command -v go >/dev/null 2>&1 || { echo "build.sh: 'go' not found on PATH (need Go >= 1.26)" >&2; exit 1; }
mkdir -p "$bin"
export CGO_ENABLED=0
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=readonly"

fingerprint() { # dir -> sha256 of the files that pin the build, plus the Go version
  { go version; cat "$1/go.mod" "$1/go.sum"; } | sha256sum | cut -d' ' -f1
}

build_one() { # name
  local name="$1" dir pkg ldflags out stamp fp start v
  case "$name" in
    tofu)
      dir="$here/go/tofu"; out="$bin/tofu"; pkg="github.com/opentofu/opentofu/cmd/tofu"
      v="$(cd "$dir" && go list -m -f '{{.Version}}' github.com/opentofu/opentofu)"
      ldflags="-s -w -X github.com/opentofu/opentofu/version.dev=no -X github.com/opentofu/opentofu/version.rawVersion=${v#v}"
      ;;
    tflint)
      dir="$here/go/tflint"; out="$bin/tflint"; pkg="github.com/terraform-linters/tflint"
      ldflags="-s -w"
      ;;
    provider)
      dir="$here/go/provider-google"; pkg="github.com/hashicorp/terraform-provider-google"
      out="$bin/mirror/registry.opentofu.org/hashicorp/google/$PROVIDER_VERSION/linux_amd64/terraform-provider-google_v$PROVIDER_VERSION"
      ldflags="-s -w -X github.com/hashicorp/terraform-provider-google/version.ProviderVersion=$PROVIDER_VERSION"
      ;;
  esac
  stamp="$bin/.$name.stamp"
  fp="$(fingerprint "$dir")"
  if [ "$force" = 0 ] && [ -x "$out" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$fp" ]; then
    echo "build.sh: $name is up to date (skipped)"
    return 0
  fi
  echo "build.sh: building $name ..."
  start=$(date +%s)
  mkdir -p "$(dirname "$out")"
  # Build to a temporary name, then rename, so an interrupted build never leaves a
  # binary that looks up to date.
  (cd "$dir" && go build -trimpath -ldflags "$ldflags" -o "$out.tmp.$$" "$pkg")
  mv -f "$out.tmp.$$" "$out"
  echo "$fp" > "$stamp"
  echo "build.sh: built $name in $(($(date +%s) - start))s"
}

for t in "${targets[@]}"; do build_one "$t"; done
