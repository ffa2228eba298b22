# The Tributary HTTP API on Cloud Run and its service account; with
# exposure = "public", also the Secret Manager secret that holds its API keys.
#
# exposure = "iam" (default): only var.invokers may call the service (Cloud Run
#   checks their Google identity token); no API keys are needed (the caller sets
#   TRIBUTARY_ALLOW_UNAUTHENTICATED=true in environment_variables).
# exposure = "public": allUsers may call the service; the app checks API keys
#   (the keys JSON of docs/auth.md, from the secret, in the env var named by
#   var.api_keys_env) on every request but /healthz, /readyz and the OpenAPI docs.
#
# The API keys never pass through Terraform (so they never land in state):
# Terraform creates the empty secret; you add the value with
#   gcloud secrets versions add SECRET --data-file=keys.json
# before the first deployment of the service (docs/deploy.md).

locals {
  name     = "${var.prefix}-api"
  public   = var.exposure == "public"
  invokers = local.public ? ["allUsers"] : var.invokers
}

resource "google_service_account" "this" {
  project      = var.project_id
  account_id   = "${local.name}-run"
  display_name = "Tributary API (Cloud Run runtime)"
}

resource "google_secret_manager_secret" "api_keys" {
  count = local.public ? 1 : 0
  # checkov:skip=CKV_GCP_128: CMEK for one small secret is not required here; Google-managed encryption applies.
  project   = var.project_id
  secret_id = "${local.name}-keys"
  labels    = var.labels
  replication {
    auto {}
  }
}

resource "google_cloud_run_v2_service" "this" {
  project             = var.project_id
  location            = var.region
  name                = local.name
  description         = "Tributary HTTP API"
  ingress             = var.service.ingress
  deletion_protection = var.deletion_protection
  labels              = var.labels

  template {
    service_account                  = google_service_account.this.email
    timeout                          = "${var.service.timeout_seconds}s"
    max_instance_request_concurrency = var.service.concurrency

    scaling {
      min_instance_count = var.service.min_instances
      max_instance_count = var.service.max_instances
    }

    containers {
      # Terraform deploys var.image once (a placeholder is fine); after that
      # Cloud Build deploys each build by digest (see lifecycle below).
      image = var.image

      # Cloud Run injects PORT (8080 here); the app reads it.
      ports {
        container_port = 8080
      }

      resources {
        limits = {
          cpu    = var.service.cpu
          memory = var.service.memory
        }
        cpu_idle = true
      }

      dynamic "env" {
        for_each = var.environment_variables
        content {
          name  = env.key
          value = env.value
        }
      }

      dynamic "env" {
        for_each = google_secret_manager_secret.api_keys
        content {
          name = var.api_keys_env
          value_source {
            secret_key_ref {
              secret  = env.value.secret_id
              version = "latest"
            }
          }
        }
      }

      startup_probe {
        http_get {
          path = "/readyz"
        }
        initial_delay_seconds = 0
        period_seconds        = 2
        timeout_seconds       = 2
        failure_threshold     = 30
      }

      liveness_probe {
        http_get {
          path = "/healthz"
        }
        period_seconds    = 30
        timeout_seconds   = 5
        failure_threshold = 3
      }
    }
  }

  lifecycle {
    # Cloud Build deploys new images by digest (cloudbuild.yaml, step
    # deploy-api); gcloud also stamps client fields. Terraform owns the rest.
    ignore_changes = [
      template[0].containers[0].image,
      client,
      client_version,
    ]
  }

  # The revision cannot start before the runtime identity may read the secret.
  depends_on = [google_secret_manager_secret_iam_member.api_keys_accessor]
}
