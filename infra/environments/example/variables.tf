variable "project_id" {
  description = "ID of an existing Google Cloud project with billing enabled."
  type        = string
  nullable    = false
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a project ID (6-30 chars: lowercase letters, digits, hyphens; starts with a letter), not a project name or number: see `gcloud projects list`."
  }
}

variable "region" {
  description = "Region of the function, the API, the registry and the source bucket, e.g. \"europe-west1\"."
  type        = string
  nullable    = false
  default     = "europe-west1"
  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]$", var.region))
    error_message = "region must be a region such as \"europe-west1\" (not a zone like \"europe-west1-b\", not a multi-region like \"EU\")."
  }
}

variable "bigquery_location" {
  description = "BigQuery dataset location: the region (e.g. \"europe-west1\") or a multi-region (\"EU\", \"US\") that contains it."
  type        = string
  nullable    = false
  default     = "EU"
  validation {
    condition     = can(regex("^([A-Z]{2}|[a-z]+-[a-z]+[0-9])$", var.bigquery_location))
    error_message = "bigquery_location must be a multi-region such as \"EU\" or \"US\", or a region such as \"europe-west1\"."
  }
}

variable "prefix" {
  description = "Prefix of every resource name (topics, functions, service accounts, dataset trib_tributary...)."
  type        = string
  nullable    = false
  default     = "trib"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,11}$", var.prefix))
    error_message = "prefix must be 1-12 chars of lowercase letters, digits or hyphens, starting with a letter (e.g. \"trib\" or \"trib-dev\")."
  }
}

variable "streams" {
  description = "Streams to deploy, by name; each needs streams/<name>.json and infra/schemas/<name>.json + <name>_dead_letters.json. Per stream: clustering (null = from the stream definition), retention, function sizing and delivery (see the stream and ingest modules)."
  type = map(object({
    clustering = optional(list(string))
    retention = optional(object({
      topic                     = optional(string, "604800s")
      dead_letter_topic         = optional(string, "604800s")
      dead_letter_subscription  = optional(string, "604800s")
      partition_expiration_days = optional(number)
    }), {})
    function = optional(object({
      max_instances   = optional(number, 10)
      min_instances   = optional(number, 0)
      concurrency     = optional(number, 80)
      cpu             = optional(string, "1")
      memory          = optional(string, "512Mi")
      timeout_seconds = optional(number, 60)
      ingress         = optional(string, "ALLOW_INTERNAL_ONLY")
    }), {})
    delivery = optional(object({
      trigger               = optional(string, "pubsub_push")
      max_delivery_attempts = optional(number, 10)
      minimum_backoff       = optional(string, "10s")
      maximum_backoff       = optional(string, "600s")
      message_retention     = optional(string, "604800s")
    }), {})
  }))
  nullable = false
  default = {
    sensor_readings = {}
  }
  validation {
    condition     = length(var.streams) >= 1 && alltrue([for k in keys(var.streams) : can(regex("^[a-z][a-z0-9_]{0,47}$", k))])
    error_message = "streams needs at least one entry, keyed by stream name (lowercase letters, digits, underscores, e.g. \"sensor_readings\") as in streams/<name>.json."
  }
}

variable "function_source_zip" {
  description = "Zip of the built repository for the first deployment of the ingest functions (docs/deploy.md shows how to make it); later deployments come from Cloud Build."
  type        = string
  nullable    = false
  default     = "../../../.tmp/function-source.zip"
}

variable "api" {
  description = "The API: image (a placeholder is fine for the first apply; Cloud Build deploys the real image by digest), exposure (\"iam\" or \"public\" with API keys), invokers (when exposure = \"iam\") and Cloud Run sizing."
  type = object({
    image    = optional(string, "us-docker.pkg.dev/cloudrun/container/hello:latest")
    exposure = optional(string, "iam")
    invokers = optional(list(string), [])
    service = optional(object({
      min_instances   = optional(number, 0)
      max_instances   = optional(number, 10)
      concurrency     = optional(number, 80)
      cpu             = optional(string, "1")
      memory          = optional(string, "512Mi")
      timeout_seconds = optional(number, 60)
      ingress         = optional(string, "INGRESS_TRAFFIC_ALL")
    }), {})
  })
  nullable = false
  default  = {}
  validation {
    condition     = contains(["iam", "public"], var.api.exposure)
    error_message = "api.exposure must be \"iam\" (callers need roles/run.invoker, listed in api.invokers) or \"public\" (anyone; the app checks API keys)."
  }
}

variable "cicd" {
  description = "Cloud Build trigger source: exactly one of github { owner, name } (Cloud Build GitHub App), repository (2nd-gen connection repository ID) or cloud_source_repository; branch_regex selects the branches that deploy."
  type = object({
    source_repository = object({
      github = optional(object({
        owner = string
        name  = string
      }))
      repository              = optional(string)
      cloud_source_repository = optional(string)
      branch_regex            = optional(string, "^main$")
    })
  })
  nullable = false
}

variable "notification" {
  description = "Alert destinations: existing channel IDs and/or an email address (a channel is created for it)."
  type = object({
    channel_ids = optional(list(string), [])
    email       = optional(string)
  })
  nullable = false
  default  = {}
}

variable "extra_env" {
  description = "Extra environment variables for the API and the functions (e.g. TRIBUTARY_LOG_LEVEL); the runtime contract's variables in locals.tf win."
  type        = map(string)
  nullable    = false
  default     = {}
}

variable "deletion_protection" {
  description = "Protect the BigQuery tables, the dataset's contents and the Cloud Run service from `terraform destroy`. Set false only to tear a throwaway environment down (docs/deploy.md, Teardown)."
  type        = bool
  nullable    = false
  default     = true
}

variable "labels" {
  description = "Labels added to every resource that takes labels."
  type        = map(string)
  nullable    = false
  default     = {}
}
