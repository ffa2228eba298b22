# The BigQuery dataset that holds every stream's table and dead-letter table.
# Access is granted per principal with google_bigquery_dataset_iam_member in
# the modules that need it, never with project-wide BigQuery data roles.

locals {
  dataset_id = replace("${var.prefix}_${var.name}", "-", "_")
}

resource "google_bigquery_dataset" "this" {
  # checkov:skip=CKV_GCP_81: CMEK is opt-in through var.kms_key; the default is Google-managed encryption.
  project                    = var.project_id
  dataset_id                 = local.dataset_id
  friendly_name              = "Tributary messages"
  description                = "Tributary stream tables and dead-letter tables (managed by Terraform)."
  location                   = var.location
  delete_contents_on_destroy = var.delete_contents_on_destroy
  labels                     = var.labels

  dynamic "default_encryption_configuration" {
    for_each = var.kms_key == null ? [] : [var.kms_key]
    content {
      kms_key_name = default_encryption_configuration.value
    }
  }
}
