terraform {
  required_version = ">= 1.9.0"
  required_providers {
    google = {
      source = "hashicorp/google"
      # Exact pin for the deployable root; the modules accept any 8.x.
      # tools/iac/build.sh builds this same version for the offline `tofu validate`.
      version = "8.0.0"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
  # Send quota and billing to the project itself, not to the caller's ADC project.
  user_project_override = true
  billing_project       = var.project_id
}
