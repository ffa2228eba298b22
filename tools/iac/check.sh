#!/usr/bin/env bash
# Offline checks of the infrastructure code, the container and the build config:
#
#   tofu fmt -check -recursive infra            formatting (OpenTofu, built with Go)
#   tflint --recursive (infra/.tflint.hcl)       terraform ruleset, preset "all"
#   checkov (terraform + dockerfile)             zero failed checks; skips are inline
#   hadolint Dockerfile
#   check-jsonschema --builtin-schema vendor.cloudbuild cloudbuild.yaml
#   tofu validate, tofu test                     tools/iac/validate.sh: every module and the
#                 example environment, against the Google provider built from the Go module
#                 proxy into a filesystem mirror (cold build ~6-7 min on 2 cores, then
#                 cached; skip with --no-validate or VALIDATE=0)
#
# Installs what it needs, idempotently: tofu and tflint via tools/iac/build.sh (Go module
# proxy, Go caches reused), the PyPI tools into tools/iac/.venv (gitignored) from
# tools/iac/requirements.txt. Runs every check, then exits non-zero if any failed.
# Usage: tools/iac/check.sh [--no-validate]
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
iac="$root/tools/iac"
cd "$root"
validate="${VALIDATE:-1}"
for arg in "$@"; do
  case "$arg" in
    --validate) validate=1 ;;
    --no-validate) validate=0 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "check.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done
started=$(date +%s)
step() { echo "--- check.sh: $* ($(( $(date +%s) - started ))s)"; }

step "tools: tofu, tflint (tools/iac/build.sh)"
bash "$iac/build.sh" tofu tflint || { echo "check.sh: building tofu/tflint failed" >&2; exit 1; }

step "tools: PyPI checkers (tools/iac/.venv)"
venv="$iac/.venv"
want="$( { python3 --version; cat "$iac/requirements.txt"; } | sha256sum | cut -d' ' -f1)"
if [ ! -x "$venv/bin/checkov" ] || [ "$(cat "$venv/.stamp" 2>/dev/null)" != "$want" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv" \
    && "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$iac/requirements.txt" \
    && echo "$want" > "$venv/.stamp" \
    || { echo "check.sh: installing $iac/requirements.txt failed" >&2; exit 1; }
else
  echo "check.sh: venv is up to date (skipped)"
fi

export PATH="$iac/bin:$venv/bin:$PATH"
# No CLI config is needed for these checks (validate.sh writes its own).
export TF_CLI_CONFIG_FILE=/dev/null
failed=()
run() { # name command...
  local name="$1"; shift
  step "$name"
  if "$@"; then echo "check.sh: $name: ok"; else echo "check.sh: $name: FAILED" >&2; failed+=("$name"); fi
}

run "tofu fmt" tofu fmt -check -recursive -diff infra
# The Google ruleset is used when a built plugin is present (the Go module proxy
# refuses it today: see infra/.tflint.hcl).
tflint_config="$root/infra/.tflint.hcl"
if [ -x "$iac/bin/plugins/tflint-ruleset-google" ]; then
  export TFLINT_PLUGIN_DIR="$iac/bin/plugins"
  tflint_config="$root/.tmp/tflint-google.hcl"
  mkdir -p "$root/.tmp"
  { cat "$root/infra/.tflint.hcl"; printf '\nplugin "google" {\n  enabled = true\n}\n'; } > "$tflint_config"
else
  echo "check.sh: tflint Google ruleset not built; running the terraform ruleset only"
fi
run "tflint" bash -c "cd infra && tflint --recursive --config '$tflint_config' --minimum-failure-severity=notice --format compact"
run "checkov" checkov --directory . --framework terraform dockerfile \
  --skip-path node_modules --skip-path dist --skip-path .tmp --skip-path tools \
  --skip-download --compact --quiet
run "hadolint" hadolint Dockerfile
run "check-jsonschema" check-jsonschema --builtin-schema vendor.cloudbuild cloudbuild.yaml
if [ "$validate" = 1 ]; then
  run "tofu validate" bash "$iac/validate.sh"
fi

step "done"
if [ ${#failed[@]} -gt 0 ]; then
  echo "check.sh: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "check.sh: all checks passed"
