variable "project_id" {
  description = "Project that runs the builds."
  type        = string
  nullable    = false
}

variable "region" {
  description = "Region of the Cloud Run service and functions the build deploys."
  type        = string
  nullable    = false
}

variable "prefix" {
  description = "Naming prefix for the trigger and its service account."
  type        = string
  nullable    = false
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,11}$", var.prefix))
    error_message = "prefix must be 1-12 chars of lowercase letters, digits or hyphens, starting with a letter (e.g. \"trib\")."
  }
}

variable "source_repository" {
  description = "Where the trigger listens. Set exactly one of: github (Cloud Build GitHub App, 1st gen: owner + name), repository (2nd gen connection repository ID projects/P/locations/L/connections/C/repositories/R) or cloud_source_repository (repo name). branch_regex selects the pushed branches."
  type = object({
    github = optional(object({
      owner = string
      name  = string
    }))
    repository              = optional(string)
    cloud_source_repository = optional(string)
    branch_regex            = optional(string, "^main$")
  })
  nullable = false
  validation {
    condition = length([for s in [
      var.source_repository.github,
      var.source_repository.repository,
      var.source_repository.cloud_source_repository,
    ] : s if s != null]) == 1
    error_message = "Set exactly one of source_repository.github, source_repository.repository or source_repository.cloud_source_repository."
  }
}

variable "build_file" {
  description = "Path of the Cloud Build config in the repository."
  type        = string
  nullable    = false
  default     = "cloudbuild.yaml"
}

variable "substitutions" {
  description = "User substitutions passed to the build (keys must start with an underscore, e.g. _REGION)."
  type        = map(string)
  nullable    = false
  default     = {}
  validation {
    condition     = alltrue([for k in keys(var.substitutions) : can(regex("^_[A-Z0-9_]+$", k))])
    error_message = "Substitution keys must be upper case and start with an underscore, e.g. \"_REGION\"."
  }
}

variable "registry" {
  description = "Artifact Registry repository the build pushes to (registry module outputs)."
  type = object({
    location = string
    name     = string
  })
  nullable = false
}

variable "api_service_name" {
  description = "Cloud Run service the build deploys (api module output service_name)."
  type        = string
  nullable    = false
}

variable "function_names" {
  description = "Stream => ingest function name the build deploys (ingest module output function_name)."
  type        = map(string)
  nullable    = false
  default     = {}
}

variable "source_buckets" {
  description = "Stream => source bucket of its ingest function (ingest module output source_bucket); the build uploads the function source there."
  type        = map(string)
  nullable    = false
  default     = {}
}

variable "runtime_service_accounts" {
  description = "Key => email of service accounts the deployed services run as (or build with); the build may act as these only."
  type        = map(string)
  nullable    = false
  default     = {}
  validation {
    condition     = alltrue([for e in values(var.runtime_service_accounts) : can(regex("@.+\\.iam\\.gserviceaccount\\.com$", e))])
    error_message = "runtime_service_accounts values must be service account emails (NAME@PROJECT.iam.gserviceaccount.com)."
  }
}
