variable "project_id" {
  description = "Project that owns the repository."
  type        = string
  nullable    = false
}

variable "location" {
  description = "Artifact Registry location, normally the Cloud Run region (e.g. \"europe-west1\")."
  type        = string
  nullable    = false
}

variable "prefix" {
  description = "Naming prefix; the repository is \"<prefix>-images\"."
  type        = string
  nullable    = false
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,11}$", var.prefix))
    error_message = "prefix must be 1-12 chars of lowercase letters, digits or hyphens, starting with a letter (e.g. \"trib\")."
  }
}

variable "cleanup" {
  description = "Cleanup policy: always keep the keep_recent most recent versions of each image; delete untagged versions older than untagged_days; optionally delete any version older than max_age_days (null = never). dry_run = true only logs what would be deleted."
  type = object({
    keep_recent   = optional(number, 10)
    untagged_days = optional(number, 7)
    max_age_days  = optional(number)
    dry_run       = optional(bool, false)
  })
  nullable = false
  default  = {}
  validation {
    condition     = var.cleanup.keep_recent >= 1 && var.cleanup.untagged_days >= 1
    error_message = "cleanup.keep_recent and cleanup.untagged_days must be >= 1."
  }
  validation {
    condition     = var.cleanup.max_age_days == null ? true : var.cleanup.max_age_days >= 1
    error_message = "cleanup.max_age_days must be null (keep tagged versions forever) or >= 1."
  }
}

variable "kms_key" {
  description = "Optional Cloud KMS key ID for the repository; null keeps Google-managed encryption."
  type        = string
  default     = null
}

variable "labels" {
  description = "Labels applied to the repository."
  type        = map(string)
  nullable    = false
  default     = {}
}
