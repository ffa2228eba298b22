variable "project_id" {
  description = "Project that hosts Tributary and its monitoring."
  type        = string
  nullable    = false
}

variable "prefix" {
  description = "Naming prefix for the metrics, services, SLOs and alert policies."
  type        = string
  nullable    = false
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,11}$", var.prefix))
    error_message = "prefix must be 1-12 chars of lowercase letters, digits or hyphens, starting with a letter (e.g. \"trib\")."
  }
}

variable "notification" {
  description = "Where alerts go: existing notification channel IDs (projects/P/notificationChannels/N) and/or an email address for which a channel is created. Both empty = alerts fire in the console only."
  type = object({
    channel_ids = optional(list(string), [])
    email       = optional(string)
  })
  nullable = false
  default  = {}
  validation {
    condition     = alltrue([for c in var.notification.channel_ids : can(regex("^projects/[^/]+/notificationChannels/[0-9]+$", c))])
    error_message = "notification.channel_ids entries must be \"projects/PROJECT/notificationChannels/NUMBER\" (gcloud beta monitoring channels list --format='value(name)')."
  }
  validation {
    condition     = var.notification.email == null || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.notification.email))
    error_message = "notification.email must be null or an email address such as \"oncall@example.com\"."
  }
}

variable "api_service_name" {
  description = "Cloud Run service name of the API (api module output service_name)."
  type        = string
  nullable    = false
}

variable "streams" {
  description = "Stream name => its ingest function (Cloud Run service) name and the subscription that feeds it (ingest module outputs function_name, subscription_name). subscription_name = null (eventarc mode) skips the Pub/Sub dead-letter and backlog-age conditions for that stream."
  type = map(object({
    function_name     = string
    subscription_name = optional(string)
  }))
  nullable = false
  validation {
    condition     = length(var.streams) > 0
    error_message = "streams must name at least one stream: { sensor_readings = { function_name = ..., subscription_name = ... } }."
  }
}

variable "ingest_log" {
  description = "What the ingest functions log, for the log-based metrics. stored_filter matches one structured entry per stored message whose freshness_field holds the milliseconds from publish to stored (the freshness SLI); dead_letter_filter matches one entry per message written to the dead-letter table. The ingest code must log these names."
  type = object({
    stored_filter      = optional(string, "jsonPayload.event=\"message_stored\"")
    freshness_field    = optional(string, "jsonPayload.freshness_ms")
    dead_letter_filter = optional(string, "jsonPayload.event=\"message_dead_lettered\"")
  })
  nullable = false
  default  = {}
  validation {
    condition     = startswith(var.ingest_log.freshness_field, "jsonPayload.")
    error_message = "ingest_log.freshness_field must be a jsonPayload path such as \"jsonPayload.freshness_ms\"."
  }
}

variable "slo" {
  description = "Objectives from the reference design: freshness_goal of messages stored within freshness_ms of publish; latency_goal of API requests under latency_ms. rolling_days is the SLO window."
  type = object({
    freshness_ms   = optional(number, 5000)
    freshness_goal = optional(number, 0.99)
    latency_ms     = optional(number, 500)
    latency_goal   = optional(number, 0.95)
    rolling_days   = optional(number, 28)
  })
  nullable = false
  default  = {}
  validation {
    condition     = var.slo.freshness_goal > 0 && var.slo.freshness_goal < 1 && var.slo.latency_goal > 0 && var.slo.latency_goal < 1
    error_message = "slo.freshness_goal and slo.latency_goal are fractions strictly between 0 and 1, e.g. 0.99."
  }
  validation {
    condition     = var.slo.freshness_ms > 2000 && var.slo.freshness_ms < 10000
    error_message = "slo.freshness_ms must be between 2000 and 10000 (exclusive): it is a bucket edge of the freshness metric, between its 2000 and 10000 ms buckets."
  }
  validation {
    condition     = var.slo.rolling_days >= 1 && var.slo.rolling_days <= 30
    error_message = "slo.rolling_days must be 1-30 (Cloud Monitoring's limit for rolling windows)."
  }
}

variable "alerts" {
  description = "Alert thresholds: dead_letters (messages dead-lettered per 5 min above which to alert), oldest_unacked_seconds, api_5xx_ratio (fraction of requests), burn_rate (fast-burn multiple of the error budget over 1 h)."
  type = object({
    dead_letters           = optional(number, 0)
    oldest_unacked_seconds = optional(number, 300)
    api_5xx_ratio          = optional(number, 0.01)
    burn_rate              = optional(number, 14.4)
  })
  nullable = false
  default  = {}
  validation {
    condition     = var.alerts.dead_letters >= 0 && var.alerts.oldest_unacked_seconds >= 10 && var.alerts.api_5xx_ratio > 0 && var.alerts.api_5xx_ratio < 1 && var.alerts.burn_rate > 1
    error_message = "Set alerts.dead_letters >= 0, alerts.oldest_unacked_seconds >= 10, alerts.api_5xx_ratio between 0 and 1 (e.g. 0.01 for 1%) and alerts.burn_rate > 1 (e.g. 14.4: 2% of a 30-day budget in 1 h)."
  }
}

variable "labels" {
  description = "User labels applied to the alert policies."
  type        = map(string)
  nullable    = false
  default     = {}
}
