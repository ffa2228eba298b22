variable "project_id" {
  description = "ID of the existing Google Cloud project that hosts Tributary."
  type        = string
  nullable    = false
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a project ID (6-30 chars: lowercase letters, digits, hyphens; starts with a letter), not a project name or number."
  }
}

variable "services" {
  description = "APIs to enable on the project. Tributary needs every default entry; add more if your own resources need them."
  type        = list(string)
  nullable    = false
  default = [
    "artifactregistry.googleapis.com",
    "bigquery.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "eventarc.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
  ]
  validation {
    condition     = alltrue([for s in var.services : endswith(s, ".googleapis.com")])
    error_message = "Each entry in services must be a service name such as \"pubsub.googleapis.com\" (not an API title)."
  }
}
