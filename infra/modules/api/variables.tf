variable "project_id" {
  description = "Project that hosts the API."
  type        = string
  nullable    = false
}

variable "region" {
  description = "Cloud Run region, e.g. \"europe-west1\"."
  type        = string
  nullable    = false
  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]$", var.region))
    error_message = "region must be a Cloud Run region such as \"europe-west1\" (not a zone, not a multi-region)."
  }
}

variable "prefix" {
  description = "Naming prefix for the service, its service account and its secret."
  type        = string
  nullable    = false
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,11}$", var.prefix))
    error_message = "prefix must be 1-12 chars of lowercase letters, digits or hyphens, starting with a letter (e.g. \"trib\")."
  }
}

variable "image" {
  description = "Container image of the API, e.g. \"europe-west1-docker.pkg.dev/PROJECT/trib-images/api:1.2.3\" (a digest reference is best)."
  type        = string
  nullable    = false
  validation {
    condition     = can(regex("^[a-z0-9.-]+(:[0-9]+)?/.+(:[A-Za-z0-9._-]+|@sha256:[a-f0-9]{64})$", var.image))
    error_message = "image must be a full image reference with registry host and a tag or digest, e.g. \"europe-west1-docker.pkg.dev/PROJECT/REPO/api@sha256:...\"."
  }
}

variable "dataset_id" {
  description = "BigQuery dataset ID (without project) the API reads; its service account gets roles/bigquery.dataViewer on this dataset only."
  type        = string
  nullable    = false
}

variable "topic_ids" {
  description = "Stream name => topic ID (projects/P/topics/T) the API may publish to."
  type        = map(string)
  nullable    = false
  default     = {}
  validation {
    condition     = alltrue([for t in values(var.topic_ids) : can(regex("^projects/[^/]+/topics/[^/]+$", t))])
    error_message = "Each topic_ids value must be a full topic ID \"projects/PROJECT/topics/TOPIC\"; pass the stream modules' topic_id outputs."
  }
}

variable "exposure" {
  description = "\"iam\": only the members in invokers may call the API (Cloud Run IAM). \"public\": anyone may reach it (allUsers) and the app checks API keys from Secret Manager."
  type        = string
  nullable    = false
  default     = "iam"
  validation {
    condition     = contains(["iam", "public"], var.exposure)
    error_message = "exposure must be \"iam\" (Cloud Run IAM only) or \"public\" (allUsers + API keys checked by the app)."
  }
}

variable "api_keys_env" {
  description = "Environment variable through which the app receives its API keys (the hashed-keys JSON of docs/auth.md) when exposure = \"public\"."
  type        = string
  nullable    = false
  default     = "TRIBUTARY_API_KEYS"
}

variable "invokers" {
  description = "IAM members allowed to invoke the service when exposure = \"iam\", e.g. [\"group:analysts@example.com\"]."
  type        = list(string)
  nullable    = false
  default     = []
  validation {
    condition     = alltrue([for m in var.invokers : can(regex("^(user|group|serviceAccount|domain|principal|principalSet):", m))])
    error_message = "Each invokers entry must be an IAM member such as \"user:a@example.com\", \"group:g@example.com\" or \"serviceAccount:sa@p.iam.gserviceaccount.com\"; use exposure = \"public\" instead of \"allUsers\"."
  }
}

variable "service" {
  description = "Cloud Run sizing and ingress. concurrency > 1 is fine for the API (Node handles concurrent requests)."
  type = object({
    min_instances   = optional(number, 0)
    max_instances   = optional(number, 10)
    concurrency     = optional(number, 80)
    cpu             = optional(string, "1")
    memory          = optional(string, "512Mi")
    timeout_seconds = optional(number, 60)
    ingress         = optional(string, "INGRESS_TRAFFIC_ALL")
  })
  nullable = false
  default  = {}
  validation {
    condition     = var.service.min_instances >= 0 && var.service.max_instances >= 1 && var.service.min_instances <= var.service.max_instances
    error_message = "service.max_instances must be >= 1 and >= service.min_instances (min_instances >= 0)."
  }
  validation {
    condition     = var.service.concurrency >= 1 && var.service.concurrency <= 1000 && (var.service.concurrency == 1 || tonumber(var.service.cpu) >= 1)
    error_message = "service.concurrency must be 1-1000, and values above 1 need service.cpu >= 1."
  }
  validation {
    condition     = contains(["INGRESS_TRAFFIC_ALL", "INGRESS_TRAFFIC_INTERNAL_ONLY", "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"], var.service.ingress)
    error_message = "service.ingress must be INGRESS_TRAFFIC_ALL, INGRESS_TRAFFIC_INTERNAL_ONLY or INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER."
  }
  validation {
    condition     = var.service.timeout_seconds >= 1 && var.service.timeout_seconds <= 3600
    error_message = "service.timeout_seconds must be between 1 and 3600."
  }
}

variable "environment_variables" {
  description = "Runtime environment of the API: the mode switch, project and dataset settings (the example environment builds them in one place, locals.tf). Do not set PORT (Cloud Run sets it)."
  type        = map(string)
  nullable    = false
  default     = {}
  validation {
    condition     = !contains(keys(var.environment_variables), "PORT") && !contains(keys(var.environment_variables), var.api_keys_env)
    error_message = "Remove PORT (Cloud Run sets it) from environment_variables; API keys come from Secret Manager (exposure = \"public\"), never from a plain variable."
  }
}

variable "deletion_protection" {
  description = "Refuse to destroy the Cloud Run service from Terraform."
  type        = bool
  nullable    = false
  default     = true
}

variable "labels" {
  description = "Labels applied to the service and the secret."
  type        = map(string)
  nullable    = false
  default     = {}
}
