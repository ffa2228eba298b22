# Observability as code for the reference design's objectives:
#   - freshness: 99% of messages stored within 5 s of publish (per stream), from a
#     log-based distribution metric of the ingest functions' "stored" log entries;
#   - API latency: 95% of API requests under 500 ms, from Cloud Run's own
#     request_latencies metric;
# each an SLO on a custom Monitoring service with a fast-burn alert, plus alerts on
# dead-letter growth (Pub/Sub dead-lettering and the ingest's dead-letter table), on
# the oldest unacknowledged message age, and on the API's 5xx ratio.

locals {
  service_filter = join(" OR ", [for s in values(var.streams) : "resource.labels.service_name=\"${s.function_name}\""])
  ingest_logs    = "resource.type=\"cloud_run_revision\" AND (${local.service_filter})"
  channels = concat(
    var.notification.channel_ids,
    google_monitoring_notification_channel.email[*].id,
  )
  subscribed = { for k, v in var.streams : k => v if v.subscription_name != null }
  api_filter = "resource.type=\"cloud_run_revision\" AND resource.label.\"service_name\"=\"${var.api_service_name}\""
}

resource "google_monitoring_notification_channel" "email" {
  count        = var.notification.email == null ? 0 : 1
  project      = var.project_id
  display_name = "${var.prefix} Tributary on-call"
  type         = "email"
  labels = {
    email_address = var.notification.email
  }
}

# --- log-based metrics -------------------------------------------------------------

resource "google_logging_metric" "freshness" {
  project         = var.project_id
  name            = "${var.prefix}-tributary-freshness"
  description     = "Milliseconds from publish to stored, one point per stored message."
  filter          = "${local.ingest_logs} AND ${var.ingest_log.stored_filter}"
  value_extractor = "EXTRACT(${var.ingest_log.freshness_field})"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "DISTRIBUTION"
    unit        = "ms"
  }

  # Explicit bounds so the SLO's cut (var.slo.freshness_ms) falls on a bucket edge.
  bucket_options {
    explicit_buckets {
      bounds = [50, 100, 250, 500, 1000, 2000, var.slo.freshness_ms, 10000, 30000, 60000, 300000]
    }
  }
}

resource "google_logging_metric" "dead_lettered" {
  project     = var.project_id
  name        = "${var.prefix}-tributary-dead-lettered"
  description = "Messages the ingest wrote to a dead-letter table (poison messages)."
  filter      = "${local.ingest_logs} AND ${var.ingest_log.dead_letter_filter}"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
  }
}

# --- SLOs --------------------------------------------------------------------------

resource "google_monitoring_custom_service" "this" {
  project      = var.project_id
  service_id   = "${var.prefix}-tributary"
  display_name = "Tributary (${var.prefix})"
}

resource "google_monitoring_slo" "freshness" {
  for_each            = var.streams
  project             = var.project_id
  service             = google_monitoring_custom_service.this.service_id
  slo_id              = "freshness-${replace(each.key, "_", "-")}"
  display_name        = "${each.key}: ${var.slo.freshness_goal * 100}% stored within ${var.slo.freshness_ms} ms of publish"
  goal                = var.slo.freshness_goal
  rolling_period_days = var.slo.rolling_days

  request_based_sli {
    distribution_cut {
      distribution_filter = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.freshness.name}\" resource.type=\"cloud_run_revision\" resource.label.\"service_name\"=\"${each.value.function_name}\""
      range {
        max = var.slo.freshness_ms
      }
    }
  }
}

resource "google_monitoring_slo" "api_latency" {
  project             = var.project_id
  service             = google_monitoring_custom_service.this.service_id
  slo_id              = "api-latency"
  display_name        = "API: ${var.slo.latency_goal * 100}% of requests under ${var.slo.latency_ms} ms"
  goal                = var.slo.latency_goal
  rolling_period_days = var.slo.rolling_days

  request_based_sli {
    distribution_cut {
      distribution_filter = "metric.type=\"run.googleapis.com/request_latencies\" resource.type=\"cloud_run_revision\" resource.label.\"service_name\"=\"${var.api_service_name}\""
      range {
        max = var.slo.latency_ms
      }
    }
  }
}

# --- alerts ------------------------------------------------------------------------

# Fast burn: at var.alerts.burn_rate (14.4 by default) the whole 30-day error
# budget would be gone in about two days.
resource "google_monitoring_alert_policy" "freshness_burn" {
  for_each              = google_monitoring_slo.freshness
  project               = var.project_id
  display_name          = "${var.prefix} ${each.key}: freshness SLO burning fast"
  combiner              = "OR"
  notification_channels = local.channels
  user_labels           = var.labels

  conditions {
    display_name = "freshness error budget burn rate over 1 h > ${var.alerts.burn_rate}"
    condition_threshold {
      filter          = "select_slo_burn_rate(\"${each.value.name}\", \"3600s\")"
      comparison      = "COMPARISON_GT"
      threshold_value = var.alerts.burn_rate
      duration        = "0s"
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "Messages of stream ${each.key} take longer than ${var.slo.freshness_ms} ms from publish to stored. Check the ingest function's errors and latency, BigQuery write errors, and the subscription backlog (docs/deploy.md, Operations)."
  }
}

resource "google_monitoring_alert_policy" "api_latency_burn" {
  project               = var.project_id
  display_name          = "${var.prefix} API: latency SLO burning fast"
  combiner              = "OR"
  notification_channels = local.channels
  user_labels           = var.labels

  conditions {
    display_name = "API latency error budget burn rate over 1 h > ${var.alerts.burn_rate}"
    condition_threshold {
      filter          = "select_slo_burn_rate(\"${google_monitoring_slo.api_latency.name}\", \"3600s\")"
      comparison      = "COMPARISON_GT"
      threshold_value = var.alerts.burn_rate
      duration        = "0s"
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "More than ${(1 - var.slo.latency_goal) * 100}% of API requests take over ${var.slo.latency_ms} ms. Check the BigQuery query times and the Cloud Run instance count."
  }
}

resource "google_monitoring_alert_policy" "dead_letters" {
  for_each              = var.streams
  project               = var.project_id
  display_name          = "${var.prefix} ${each.key}: dead letters growing"
  combiner              = "OR"
  notification_channels = local.channels
  user_labels           = var.labels

  # Messages Pub/Sub gave up on after max delivery attempts.
  dynamic "conditions" {
    for_each = each.value.subscription_name == null ? [] : [each.value.subscription_name]
    content {
      display_name = "Pub/Sub dead-lettered > ${var.alerts.dead_letters} in 5 min"
      condition_threshold {
        filter          = "metric.type=\"pubsub.googleapis.com/subscription/dead_letter_message_count\" AND resource.type=\"pubsub_subscription\" AND resource.label.\"subscription_id\"=\"${conditions.value}\""
        comparison      = "COMPARISON_GT"
        threshold_value = var.alerts.dead_letters
        duration        = "0s"
        aggregations {
          alignment_period   = "300s"
          per_series_aligner = "ALIGN_SUM"
        }
      }
    }
  }

  # Poison messages the ingest wrote to the dead-letter table.
  conditions {
    display_name = "dead-letter table rows > ${var.alerts.dead_letters} in 5 min"
    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.dead_lettered.name}\" AND resource.type=\"cloud_run_revision\" AND resource.label.\"service_name\"=\"${each.value.function_name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.alerts.dead_letters
      duration        = "0s"
      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_SUM"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "Messages of stream ${each.key} are being dead-lettered. Read the reasons in the dead-letter table (GET /v1/streams/${each.key}/dead-letters) and the dead-letter subscription; fix the schema or the publisher, then replay."
  }
}

resource "google_monitoring_alert_policy" "oldest_unacked" {
  for_each              = local.subscribed
  project               = var.project_id
  display_name          = "${var.prefix} ${each.key}: ingest backlog is old"
  combiner              = "OR"
  notification_channels = local.channels
  user_labels           = var.labels

  conditions {
    display_name = "oldest unacked message older than ${var.alerts.oldest_unacked_seconds} s for 5 min"
    condition_threshold {
      filter          = "metric.type=\"pubsub.googleapis.com/subscription/oldest_unacked_message_age\" AND resource.type=\"pubsub_subscription\" AND resource.label.\"subscription_id\"=\"${each.value.subscription_name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.alerts.oldest_unacked_seconds
      duration        = "300s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "The ingest function of stream ${each.key} is not keeping up or keeps failing (messages are retried). Check its logs and errors."
  }
}

resource "google_monitoring_alert_policy" "api_5xx" {
  project               = var.project_id
  display_name          = "${var.prefix} API: 5xx ratio"
  combiner              = "OR"
  notification_channels = local.channels
  user_labels           = var.labels

  conditions {
    display_name = "5xx responses above ${var.alerts.api_5xx_ratio * 100}% of requests for 5 min"
    condition_threshold {
      filter             = "metric.type=\"run.googleapis.com/request_count\" AND ${local.api_filter} AND metric.label.\"response_code_class\"=\"5xx\""
      denominator_filter = "metric.type=\"run.googleapis.com/request_count\" AND ${local.api_filter}"
      comparison         = "COMPARISON_GT"
      threshold_value    = var.alerts.api_5xx_ratio
      duration           = "300s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
      }
      denominator_aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "The API answers 5xx to more than ${var.alerts.api_5xx_ratio * 100}% of requests. Read the Cloud Run logs of ${var.api_service_name}."
  }
}
