variable "project_id" {
  description = "Project that hosts the function."
  type        = string
  nullable    = false
}

variable "region" {
  description = "Region of the function and its source bucket, e.g. \"europe-west1\"."
  type        = string
  nullable    = false
  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]$", var.region))
    error_message = "region must be a Cloud Functions region such as \"europe-west1\" (not a zone like \"europe-west1-b\", not a multi-region)."
  }
}

variable "prefix" {
  description = "Naming prefix for the function, its service accounts, subscription and bucket."
  type        = string
  nullable    = false
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,11}$", var.prefix))
    error_message = "prefix must be 1-12 chars of lowercase letters, digits or hyphens, starting with a letter (e.g. \"trib\")."
  }
}

variable "stream" {
  description = "Stream name this function ingests (one function per stream); names the function and its resources (the function finds the stream from the topic name)."
  type        = string
  nullable    = false
  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,47}$", var.stream))
    error_message = "stream must be 1-48 chars of lowercase letters, digits or underscores, starting with a letter (same rule as the stream module)."
  }
}

variable "topic_id" {
  description = "Source topic ID (projects/P/topics/T) from the stream module."
  type        = string
  nullable    = false
  validation {
    condition     = can(regex("^projects/[^/]+/topics/[^/]+$", var.topic_id))
    error_message = "topic_id must be a full topic ID \"projects/PROJECT/topics/TOPIC\"; pass module.<stream>.topic_id."
  }
}

variable "dead_letter_topic_id" {
  description = "Dead-letter topic ID (projects/P/topics/T) from the stream module."
  type        = string
  nullable    = false
  validation {
    condition     = can(regex("^projects/[^/]+/topics/[^/]+$", var.dead_letter_topic_id))
    error_message = "dead_letter_topic_id must be a full topic ID \"projects/PROJECT/topics/TOPIC\"; pass module.<stream>.dead_letter_topic_id."
  }
}

variable "dataset_id" {
  description = "BigQuery dataset ID (without project) the function writes to; its runtime service account gets roles/bigquery.dataEditor on this dataset only."
  type        = string
  nullable    = false
}

variable "pubsub_service_agent" {
  description = "IAM member of the project's Pub/Sub service agent, \"serviceAccount:service-NUMBER@gcp-sa-pubsub.iam.gserviceaccount.com\"."
  type        = string
  nullable    = false
  validation {
    condition     = can(regex("^serviceAccount:service-[0-9]+@gcp-sa-pubsub\\.iam\\.gserviceaccount\\.com$", var.pubsub_service_agent))
    error_message = "pubsub_service_agent must be \"serviceAccount:service-PROJECT_NUMBER@gcp-sa-pubsub.iam.gserviceaccount.com\"; pass module.project.pubsub_service_agent."
  }
}

variable "source_zip" {
  description = "Path to the zip of the built function source (package.json + compiled JS at the root)."
  type        = string
  nullable    = false
  validation {
    condition     = endswith(var.source_zip, ".zip")
    error_message = "source_zip must be the path of a .zip archive of the function source, e.g. \"../../dist/ingest.zip\"."
  }
}

variable "docker_repository" {
  description = "Optional Artifact Registry repository ID (projects/P/locations/L/repositories/R) for the function's build images; null uses the default gcf-artifacts repository."
  type        = string
  default     = null
  validation {
    condition     = var.docker_repository == null || can(regex("^projects/[^/]+/locations/[^/]+/repositories/[^/]+$", var.docker_repository))
    error_message = "docker_repository must be null or \"projects/PROJECT/locations/REGION/repositories/REPO\"; pass module.registry.id."
  }
}

variable "function" {
  description = "Function sizing and ingress. concurrency (default 80, as in the example environment) lets deliveries to one instance share a micro-batch, so one BigQuery write carries many of them (--batch-regroup-ms); concurrency > 1 requires cpu >= 1; timeout_seconds is also the push subscription's ack deadline. ingress ALLOW_INTERNAL_ONLY (default) still admits Pub/Sub push and Eventarc from the same project, which Cloud Run counts as internal."
  type = object({
    max_instances   = optional(number, 10)
    min_instances   = optional(number, 0)
    concurrency     = optional(number, 80)
    cpu             = optional(string, "1")
    memory          = optional(string, "512Mi")
    timeout_seconds = optional(number, 60)
    ingress         = optional(string, "ALLOW_INTERNAL_ONLY")
  })
  nullable = false
  default  = {}
  validation {
    condition     = var.function.concurrency <= 1 || tonumber(var.function.cpu) >= 1
    error_message = "function.concurrency > 1 needs function.cpu >= 1: set cpu = \"1\" (or more), or concurrency = 1."
  }
  validation {
    condition     = var.function.min_instances >= 0 && var.function.max_instances >= 1 && var.function.min_instances <= var.function.max_instances
    error_message = "function.max_instances must be >= 1 and >= function.min_instances (min_instances >= 0)."
  }
  validation {
    condition     = var.function.concurrency >= 1 && var.function.concurrency <= 1000
    error_message = "function.concurrency must be between 1 and 1000."
  }
  validation {
    condition     = var.function.timeout_seconds >= 10 && var.function.timeout_seconds <= 600
    error_message = "function.timeout_seconds must be 10-600: it is also the Pub/Sub push ack deadline, whose maximum is 600 s."
  }
  validation {
    condition     = contains(["ALLOW_INTERNAL_ONLY", "ALLOW_INTERNAL_AND_GCLB"], var.function.ingress)
    error_message = "function.ingress must be ALLOW_INTERNAL_ONLY (Pub/Sub push and Eventarc from this project count as internal) or ALLOW_INTERNAL_AND_GCLB; ALLOW_ALL is refused: nothing outside Google needs to reach the ingest function."
  }
}

variable "delivery" {
  description = "How messages reach the function. trigger: \"pubsub_push\" (our push subscription: dead-letter after max_delivery_attempts (5-100), exponential backoff between minimum_backoff and maximum_backoff (\"Ns\", 0-600 s)) or \"eventarc\" (Eventarc trigger with retry; see main.tf)."
  type = object({
    trigger               = optional(string, "pubsub_push")
    max_delivery_attempts = optional(number, 10)
    minimum_backoff       = optional(string, "10s")
    maximum_backoff       = optional(string, "600s")
    message_retention     = optional(string, "604800s")
  })
  nullable = false
  default  = {}
  validation {
    condition     = contains(["pubsub_push", "eventarc"], var.delivery.trigger)
    error_message = "delivery.trigger must be \"pubsub_push\" (push subscription with dead-letter topic and max delivery attempts) or \"eventarc\" (Eventarc trigger with retry, no max attempts)."
  }
  validation {
    condition     = var.delivery.max_delivery_attempts >= 5 && var.delivery.max_delivery_attempts <= 100
    error_message = "delivery.max_delivery_attempts must be between 5 and 100 (Pub/Sub's limits)."
  }
  validation {
    condition = alltrue([
      for d in [var.delivery.minimum_backoff, var.delivery.maximum_backoff] :
      can(regex("^[0-9]+s$", d)) && tonumber(trimsuffix(d, "s")) <= 600
    ])
    error_message = "delivery.minimum_backoff and maximum_backoff must be whole seconds with an \"s\" suffix, at most \"600s\"."
  }
  validation {
    condition     = can(regex("^[0-9]+s$", var.delivery.message_retention)) && tonumber(trimsuffix(var.delivery.message_retention, "s")) >= 600 && tonumber(trimsuffix(var.delivery.message_retention, "s")) <= 2678400
    error_message = "delivery.message_retention must be \"600s\" to \"2678400s\" (10 min to 31 days), e.g. \"604800s\"."
  }
}

variable "entry_points" {
  description = "Functions the Functions Framework serves (its --target), registered by the module package.json's main points at: push, the HTTP function that reads a push subscription's body (delivery.trigger \"pubsub_push\"); cloudevent, the CloudEvent function for an Eventarc trigger (\"eventarc\")."
  type = object({
    push       = optional(string, "tributaryIngestPush")
    cloudevent = optional(string, "tributaryIngest")
  })
  nullable = false
  default  = {}
  validation {
    condition     = alltrue([for e in [var.entry_points.push, var.entry_points.cloudevent] : can(regex("^[A-Za-z_$][A-Za-z0-9_$]*$", e))])
    error_message = "entry_points.push and entry_points.cloudevent must be JavaScript identifiers such as \"tributaryIngestPush\" (the names passed to functions.http() and functions.cloudEvent())."
  }
}

variable "environment_variables" {
  description = "Runtime environment of the function: the mode switch, project, dataset and stream settings (the example environment builds them in one place, locals.tf)."
  type        = map(string)
  nullable    = false
  validation {
    condition     = length(var.environment_variables) > 0
    error_message = "environment_variables must at least select the cloud mode and name the project, dataset and stream; pass local.function_env from the example environment."
  }
}

variable "deletion_protection" {
  description = "Keep the source bucket from being destroyed while it holds source zips. Set false only to tear a throwaway environment down."
  type        = bool
  nullable    = false
  default     = true
}

variable "labels" {
  description = "Labels applied to the function, bucket and subscription."
  type        = map(string)
  nullable    = false
  default     = {}
}
