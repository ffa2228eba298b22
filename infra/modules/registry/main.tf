# Docker repository for the API image (and, optionally, the ingest function's
# build images), with a cleanup policy so it does not grow without bound.
# KEEP policies win over DELETE policies in Artifact Registry, so the most
# recent versions survive whatever the DELETE conditions match.

resource "google_artifact_registry_repository" "this" {
  # checkov:skip=CKV_GCP_84: CMEK is opt-in through var.kms_key; the default is Google-managed encryption.
  project                = var.project_id
  location               = var.location
  repository_id          = "${var.prefix}-images"
  description            = "Tributary container images"
  format                 = "DOCKER"
  kms_key_name           = var.kms_key
  cleanup_policy_dry_run = var.cleanup.dry_run
  labels                 = var.labels

  cleanup_policies {
    id     = "keep-most-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = var.cleanup.keep_recent
    }
  }

  cleanup_policies {
    id     = "delete-untagged"
    action = "DELETE"
    condition {
      tag_state  = "UNTAGGED"
      older_than = "${var.cleanup.untagged_days}d"
    }
  }

  dynamic "cleanup_policies" {
    for_each = var.cleanup.max_age_days == null ? [] : [var.cleanup.max_age_days]
    content {
      id     = "delete-old"
      action = "DELETE"
      condition {
        tag_state  = "ANY"
        older_than = "${cleanup_policies.value}d"
      }
    }
  }
}
