# The ingest Cloud Function (gen2) for one stream and the Pub/Sub push
# subscription that feeds it.
#
# Two delivery modes (var.delivery.trigger):
#
# "pubsub_push" (default): why a push subscription we own instead of `event_trigger`:
# an `event_trigger` makes Eventarc create the Pub/Sub subscription
# ("eventarc-REGION-..."). That subscription is output-only in the Eventarc and
# Cloud Functions APIs, so Terraform cannot give it a dead_letter_policy (open
# provider requests: hashicorp/terraform-provider-google issues 17697 and
# 25069); `event_trigger.retry_policy` only toggles retries, it has no max
# delivery attempts and no dead-letter topic. Patching the Eventarc-owned
# subscription with gcloud would be drift outside Terraform. So this module
# deploys the function without a trigger and a push subscription we own, with
# OIDC authentication, a dead_letter_policy (max_delivery_attempts) and a
# retry_policy (exponential backoff). The push goes to the HTTP function
# (entry_points.push), which reads the push body {"message": {...},
# "subscription": "..."} itself: the Functions Framework's conversion of a push
# body for a CloudEvent function (functions-framework-nodejs
# src/pubsub_middleware.ts) keeps only data and attributes, so it would drop
# orderingKey, and it does not recognise a message without data. The push
# endpoint ends in /projects/P/topics/T so the function knows the topic, hence
# the stream. A 2xx response acks; any other status nacks and the message is
# retried with backoff, then dead-lettered.
#
# "eventarc": an Eventarc Pub/Sub `event_trigger` with retry_policy
# RETRY_POLICY_RETRY. Retries then last up to the topic's retention (no max
# delivery attempts), and a dead-letter topic can only be set on the
# Eventarc-owned subscription outside Terraform (docs/deploy.md shows the gcloud
# command). Use it if you prefer the managed trigger over the DLQ guarantee.

locals {
  stream_h   = replace(var.stream, "_", "-")
  name       = "${var.prefix}-${local.stream_h}-ingest"
  sa_stem    = trimsuffix(substr("${var.prefix}-${local.stream_h}", 0, 24), "-")
  bucket     = trimsuffix(substr("${var.project_id}-${var.prefix}-${local.stream_h}-src", 0, 63), "-")
  source_md5 = filemd5(var.source_zip)
  registry = var.docker_repository == null ? null : {
    project  = regex("^projects/([^/]+)/", var.docker_repository)[0]
    location = regex("/locations/([^/]+)/", var.docker_repository)[0]
    name     = regex("/repositories/([^/]+)$", var.docker_repository)[0]
  }
  push        = var.delivery.trigger == "pubsub_push"
  entry_point = local.push ? var.entry_points.push : var.entry_points.cloudevent
  topic       = regex("^projects/([^/]+)/topics/([^/]+)$", var.topic_id)
}

# --- service accounts: one identity per job --------------------------------

resource "google_service_account" "runtime" {
  project      = var.project_id
  account_id   = "${local.sa_stem}-fn"
  display_name = "Tributary ingest ${var.stream} (function runtime)"
}

resource "google_service_account" "build" {
  project      = var.project_id
  account_id   = "${local.sa_stem}-bld"
  display_name = "Tributary ingest ${var.stream} (function build)"
}

# The identity Pub/Sub puts in the OIDC token of each push request; it is the
# only principal allowed to invoke the function.
resource "google_service_account" "push" {
  project      = var.project_id
  account_id   = "${local.sa_stem}-push"
  display_name = "Tributary ingest ${var.stream} (Pub/Sub push invoker)"
}

# --- source ------------------------------------------------------------------

resource "google_storage_bucket" "source" {
  # checkov:skip=CKV_GCP_62: access logs for a bucket that only holds deployment zips would log Terraform's own uploads; Cloud Audit Logs already record who changed objects.
  project                     = var.project_id
  name                        = local.bucket
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = !var.deletion_protection
  labels                      = var.labels

  versioning {
    enabled = true
  }

  # Keep the three previous versions of each source zip, drop older ones.
  lifecycle_rule {
    condition {
      num_newer_versions = 3
      with_state         = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }
}

# The object name carries the zip's MD5 so a new build triggers a redeploy.
resource "google_storage_bucket_object" "source" {
  bucket = google_storage_bucket.source.name
  name   = "ingest-${local.source_md5}.zip"
  source = var.source_zip
}

# --- function ----------------------------------------------------------------

resource "google_cloudfunctions2_function" "this" {
  # checkov:skip=CKV_GCP_124: ingress is var.function.ingress, whose validation only admits ALLOW_INTERNAL_ONLY (the default) or ALLOW_INTERNAL_AND_GCLB; checkov cannot evaluate optional() defaults.
  project     = var.project_id
  location    = var.region
  name        = local.name
  description = "Tributary: validate ${var.stream} messages and store them in BigQuery."
  labels      = var.labels

  build_config {
    runtime           = "nodejs22"
    entry_point       = local.entry_point
    service_account   = google_service_account.build.id
    docker_repository = var.docker_repository
    # The zip already holds the compiled dist/: do not run package.json build
    # scripts on Cloud Build (GOOGLE_NODE_RUN_SCRIPTS), nor npm's `prepare`, which
    # runs the TypeScript build and needs dev dependencies the function build
    # does not install (NPM_CONFIG_IGNORE_SCRIPTS).
    environment_variables = {
      GOOGLE_NODE_RUN_SCRIPTS   = ""
      NPM_CONFIG_IGNORE_SCRIPTS = "true"
    }
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.runtime.email
    max_instance_count               = var.function.max_instances
    min_instance_count               = var.function.min_instances
    max_instance_request_concurrency = var.function.concurrency
    available_cpu                    = var.function.cpu
    available_memory                 = var.function.memory
    timeout_seconds                  = var.function.timeout_seconds
    ingress_settings                 = var.function.ingress
    all_traffic_on_latest_revision   = true
    environment_variables            = var.environment_variables
  }

  dynamic "event_trigger" {
    for_each = local.push ? [] : [var.topic_id]
    content {
      trigger_region        = var.region
      event_type            = "google.cloud.pubsub.topic.v1.messagePublished"
      pubsub_topic          = event_trigger.value
      retry_policy          = "RETRY_POLICY_RETRY"
      service_account_email = google_service_account.push.email
    }
  }

  lifecycle {
    # Cloud Build redeploys the function source on each push to the main
    # branch (cloudbuild.yaml, step deploy-function); Terraform owns the rest.
    ignore_changes = [build_config[0].source]
  }

  depends_on = [
    google_project_iam_member.build_log_writer,
    google_storage_bucket_iam_member.build_source_reader,
    google_artifact_registry_repository_iam_member.build_writer,
  ]
}

# --- Pub/Sub push subscription -------------------------------------------------

resource "google_pubsub_subscription" "ingest" {
  count                      = local.push ? 1 : 0
  project                    = var.project_id
  name                       = local.name
  topic                      = var.topic_id
  ack_deadline_seconds       = var.function.timeout_seconds
  message_retention_duration = var.delivery.message_retention
  labels                     = var.labels

  push_config {
    # The path names the topic, hence the stream (see the comment at the top).
    push_endpoint = "${google_cloudfunctions2_function.this.service_config[0].uri}/projects/${local.topic[0]}/topics/${local.topic[1]}"
    oidc_token {
      service_account_email = google_service_account.push.email
      audience              = google_cloudfunctions2_function.this.service_config[0].uri
    }
  }

  dead_letter_policy {
    dead_letter_topic     = var.dead_letter_topic_id
    max_delivery_attempts = var.delivery.max_delivery_attempts
  }

  retry_policy {
    minimum_backoff = var.delivery.minimum_backoff
    maximum_backoff = var.delivery.maximum_backoff
  }

  expiration_policy {
    ttl = "" # never expire
  }

  depends_on = [
    google_cloud_run_v2_service_iam_member.push_invoker,
    google_pubsub_topic_iam_member.agent_dead_letter_publisher,
  ]
}
