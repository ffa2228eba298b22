#!/usr/bin/env bash
# `tofu validate` of every module and of the example environment, then `tofu test`
# where a tests/ directory exists (plans with a mocked provider), fully offline:
# builds the hashicorp/google provider from the Go module proxy into a filesystem
# mirror (tools/iac/bin/mirror, by tools/iac/build.sh provider; idempotent, Go caches
# reused) and points OpenTofu at that mirror only. See tools/iac/README.md for build
# times. Usage: tools/iac/validate.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
iac="$root/tools/iac"
bash "$iac/build.sh" tofu provider

export PATH="$iac/bin:$PATH"
export TF_CLI_CONFIG_FILE="$iac/bin/tofurc"
export TF_IN_AUTOMATION=1 TF_INPUT=0
cat > "$TF_CLI_CONFIG_FILE" <<RC
provider_installation {
  filesystem_mirror {
    path    = "$iac/bin/mirror"
    include = ["registry.opentofu.org/hashicorp/google"]
  }
}
RC

status=0
for dir in "$root"/infra/modules/* "$root"/infra/environments/*; do
  [ -d "$dir" ] || continue
  name="${dir#"$root"/}"
  # Keep .terraform/ out of the source tree.
  export TF_DATA_DIR="$root/.tmp/tofu/${name//\//_}"
  if ! out="$(cd "$dir" && tofu init -backend=false -input=false -no-color 2>&1)"; then
    echo "$out" >&2; echo "validate.sh: tofu init failed in $name" >&2; status=1; continue
  fi
  echo "validate.sh: $name"
  if (cd "$dir" && tofu validate -no-color); then :; else
    echo "validate.sh: tofu validate failed in $name" >&2; status=1
  fi
  if [ -d "$dir/tests" ]; then
    echo "validate.sh: tofu test in $name"
    varfile=(); [ -f "$dir/terraform.tfvars.example" ] && varfile=(-var-file=terraform.tfvars.example)
    if (cd "$dir" && tofu test -no-color "${varfile[@]}"); then :; else
      echo "validate.sh: tofu test failed in $name" >&2; status=1
    fi
  fi
done
exit $status
