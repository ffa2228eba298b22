# TFLint configuration for every module and environment under infra/
# (tools/iac/check.sh runs `tflint --recursive` with it).
#
# The Google ruleset (terraform-linters/tflint-ruleset-google) would be enabled with
#   plugin "google" { enabled = true }
# but the Go module proxy refuses that module (403, "This module version is not
# available"), and tflint cannot download plugins here; check.sh enables it only when
# a built plugin is present in tools/iac/bin/plugins/ (see tools/iac/README.md).
config {
  call_module_type = "local"
}

plugin "terraform" {
  enabled = true
  preset  = "all"
}
