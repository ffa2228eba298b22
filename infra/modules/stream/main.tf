# One Tributary stream: its source topic, its dead-letter topic (plus a pull
# subscription so dead-lettered messages are kept), and its BigQuery table and
# dead-letter table. The Cloud Function that moves messages from the topic to
# the table lives in ../ingest.

locals {
  topic_name = "${var.prefix}-${var.name}"
  # The schemas are the JSON `tributary schema export --format bigquery` writes;
  # decoding and re-encoding checks they are JSON and keeps the plan free of
  # whitespace-only diffs.
  schema             = jsondecode(file(var.schema_file))
  dead_letter_schema = jsondecode(file(var.dead_letter_schema_file))
  partition_expiration_ms = (
    var.retention.partition_expiration_days == null
    ? null
    : var.retention.partition_expiration_days * 86400000
  )
}

resource "google_pubsub_topic" "this" {
  # checkov:skip=CKV_GCP_83: CMEK is opt-in through var.kms_key; the default is Google-managed encryption.
  project                    = var.project_id
  name                       = local.topic_name
  message_retention_duration = var.retention.topic
  kms_key_name               = var.kms_key
  labels                     = var.labels
}

# Pub/Sub forwards messages here once the ingest subscription has tried to
# deliver them max_delivery_attempts times.
resource "google_pubsub_topic" "dead_letter" {
  # checkov:skip=CKV_GCP_83: CMEK is opt-in through var.kms_key; the default is Google-managed encryption.
  project                    = var.project_id
  name                       = "${local.topic_name}-dead-letter"
  message_retention_duration = var.retention.dead_letter_topic
  kms_key_name               = var.kms_key
  labels                     = var.labels
}

# Messages published to a topic without subscriptions are lost: this pull
# subscription keeps dead-lettered messages for inspection and replay.
resource "google_pubsub_subscription" "dead_letter" {
  project                    = var.project_id
  name                       = "${local.topic_name}-dead-letter"
  topic                      = google_pubsub_topic.dead_letter.id
  ack_deadline_seconds       = 60
  message_retention_duration = var.retention.dead_letter_subscription
  retain_acked_messages      = true
  labels                     = var.labels
  expiration_policy {
    ttl = "" # never expire, even when nobody pulls for 31 days
  }
}

resource "google_bigquery_table" "messages" {
  # checkov:skip=CKV_GCP_80: CMEK is opt-in through var.kms_key; the default is Google-managed encryption.
  # checkov:skip=CKV_GCP_121: deletion protection is var.deletion_protection (default true); checkov cannot resolve the variable.
  project                  = var.project_id
  dataset_id               = var.dataset_id
  table_id                 = var.name
  description              = "Tributary stream ${var.name} (one row per accepted message)."
  schema                   = jsonencode(local.schema)
  clustering               = length(var.clustering) == 0 ? null : var.clustering
  require_partition_filter = true
  deletion_protection      = var.deletion_protection
  labels                   = var.labels

  time_partitioning {
    type          = "DAY"
    field         = "publish_time"
    expiration_ms = local.partition_expiration_ms
  }

  lifecycle {
    precondition {
      condition     = contains([for c in local.schema : c.name], "publish_time")
      error_message = "The schema file has no publish_time column to partition on: regenerate it with `tributary schema export --format bigquery --out infra/schemas`."
    }
  }

  dynamic "encryption_configuration" {
    for_each = var.kms_key == null ? [] : [var.kms_key]
    content {
      kms_key_name = encryption_configuration.value
    }
  }
}

resource "google_bigquery_table" "dead_letters" {
  # checkov:skip=CKV_GCP_80: CMEK is opt-in through var.kms_key; the default is Google-managed encryption.
  # checkov:skip=CKV_GCP_121: deletion protection is var.deletion_protection (default true); checkov cannot resolve the variable.
  project                  = var.project_id
  dataset_id               = var.dataset_id
  table_id                 = "${var.name}_dead_letters"
  description              = "Tributary stream ${var.name}: messages rejected by validation or dead-lettered."
  schema                   = jsonencode(local.dead_letter_schema)
  clustering               = length(var.dead_letter_clustering) == 0 ? null : var.dead_letter_clustering
  require_partition_filter = true
  deletion_protection      = var.deletion_protection
  labels                   = var.labels

  time_partitioning {
    type          = "DAY"
    field         = "publish_time"
    expiration_ms = local.partition_expiration_ms
  }

  lifecycle {
    precondition {
      condition     = contains([for c in local.dead_letter_schema : c.name], "publish_time")
      error_message = "The schema file has no publish_time column to partition on: regenerate it with `tributary schema export --format bigquery --out infra/schemas`."
    }
  }

  dynamic "encryption_configuration" {
    for_each = var.kms_key == null ? [] : [var.kms_key]
    content {
      kms_key_name = encryption_configuration.value
    }
  }
}
