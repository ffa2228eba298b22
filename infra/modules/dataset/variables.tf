variable "project_id" {
  description = "Project that owns the dataset."
  type        = string
  nullable    = false
}

variable "prefix" {
  description = "Naming prefix; hyphens become underscores in the dataset ID."
  type        = string
  nullable    = false
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,11}$", var.prefix))
    error_message = "prefix must be 1-12 chars of lowercase letters, digits or hyphens, starting with a letter (e.g. \"trib\" or \"trib-dev\")."
  }
}

variable "name" {
  description = "Dataset name, appended to the prefix."
  type        = string
  nullable    = false
  default     = "tributary"
  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,63}$", var.name))
    error_message = "name must be lowercase letters, digits or underscores, starting with a letter (BigQuery dataset IDs allow no hyphens)."
  }
}

variable "location" {
  description = "BigQuery location (region such as \"europe-west1\" or multi-region \"EU\"/\"US\"). Keep it compatible with the Cloud Function region."
  type        = string
  nullable    = false
}

variable "kms_key" {
  description = "Optional Cloud KMS key ID used as the dataset's default encryption key; null keeps Google-managed encryption."
  type        = string
  default     = null
}

variable "delete_contents_on_destroy" {
  description = "Allow `destroy` to delete a dataset that still has tables. Keep false outside throwaway environments."
  type        = bool
  nullable    = false
  default     = false
}

variable "labels" {
  description = "Labels applied to the dataset."
  type        = map(string)
  nullable    = false
  default     = {}
}
