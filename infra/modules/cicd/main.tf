# Continuous delivery: a Cloud Build trigger that runs cloudbuild.yaml on push,
# as a dedicated service account holding only the grants the pipeline needs.
#
# With a user-managed service account, Cloud Build requires the build config to
# choose where logs go: cloudbuild.yaml must set
# options.logging = CLOUD_LOGGING_ONLY (or a logs bucket).

resource "google_service_account" "this" {
  project      = var.project_id
  account_id   = "${var.prefix}-cloudbuild"
  display_name = "Tributary Cloud Build (build and deploy)"
}

resource "google_cloudbuild_trigger" "this" {
  project         = var.project_id
  location        = "global"
  name            = "${var.prefix}-deploy"
  description     = "Build and deploy Tributary on push"
  filename        = var.build_file
  service_account = google_service_account.this.id
  substitutions = merge(var.substitutions, {
    _REGION     = var.region
    _REPOSITORY = var.registry.name
    _SERVICE    = var.api_service_name
  })

  dynamic "github" {
    for_each = var.source_repository.github == null ? [] : [var.source_repository.github]
    content {
      owner = github.value.owner
      name  = github.value.name
      push {
        branch = var.source_repository.branch_regex
      }
    }
  }

  dynamic "repository_event_config" {
    for_each = var.source_repository.repository == null ? [] : [var.source_repository.repository]
    content {
      repository = repository_event_config.value
      push {
        branch = var.source_repository.branch_regex
      }
    }
  }

  dynamic "trigger_template" {
    for_each = var.source_repository.cloud_source_repository == null ? [] : [var.source_repository.cloud_source_repository]
    content {
      repo_name   = trigger_template.value
      branch_name = var.source_repository.branch_regex
    }
  }

  depends_on = [google_project_iam_member.log_writer]
}
