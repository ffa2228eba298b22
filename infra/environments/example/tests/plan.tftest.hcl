# `tofu test` with a mocked Google provider: plans the example environment offline so
# that variable validations, for_each keys, names and the wiring between modules are
# evaluated with real values (tofu validate leaves variables unknown).
# Run by tools/iac/validate.sh.

# Computed attributes get random strings unless given here; these are the ones the
# configuration checks (IAM member syntax, resource ID formats).
mock_provider "google" {
  mock_data "google_project" {
    defaults = {
      number = "123456789012"
    }
  }
  mock_resource "google_service_account" {
    defaults = {
      email  = "mock-sa@trib-test-project.iam.gserviceaccount.com"
      member = "serviceAccount:mock-sa@trib-test-project.iam.gserviceaccount.com"
      name   = "projects/trib-test-project/serviceAccounts/mock-sa@trib-test-project.iam.gserviceaccount.com"
      id     = "projects/trib-test-project/serviceAccounts/mock-sa@trib-test-project.iam.gserviceaccount.com"
    }
  }
  mock_resource "google_pubsub_topic" {
    defaults = {
      id = "projects/trib-test-project/topics/mock"
    }
  }
  mock_resource "google_artifact_registry_repository" {
    defaults = {
      id = "projects/trib-test-project/locations/europe-west1/repositories/trib-images"
    }
  }
}

variables {
  project_id          = "trib-test-project"
  function_source_zip = "tests/fixtures/function-source.zip"
  cicd = {
    source_repository = {
      github = { owner = "example", name = "tributary" }
    }
  }
  notification = {
    email = "oncall@example.com"
  }
}

run "plan_defaults" {
  command = plan

  assert {
    condition     = module.stream["sensor_readings"].topic_name == "trib-sensor_readings"
    error_message = "topic name should be <prefix>-<stream>"
  }
  assert {
    condition     = module.dataset.dataset_id == "trib_tributary"
    error_message = "dataset id should be <prefix>_tributary"
  }
  assert {
    condition     = module.ingest["sensor_readings"].function_name == "trib-sensor-readings-ingest"
    error_message = "function name should be <prefix>-<stream with hyphens>-ingest"
  }
  assert {
    condition     = local.function_env["sensor_readings"]["TRIBUTARY_MODE"] == "gcp" && local.function_env["sensor_readings"]["TRIBUTARY_GCP_PROJECT"] == "trib-test-project" && local.function_env["sensor_readings"]["TRIBUTARY_BIGQUERY_DATASET"] == "trib_tributary" && local.function_env["sensor_readings"]["TRIBUTARY_GCP_REGION"] == "EU" && "${local.function_env["sensor_readings"]["TRIBUTARY_PUBSUB_TOPIC_PREFIX"]}sensor_readings" == module.stream["sensor_readings"].topic_name
    error_message = "the function environment does not carry the runtime contract"
  }
  assert {
    condition     = "${local.api_env["TRIBUTARY_PUBSUB_TOPIC_PREFIX"]}sensor_readings" == module.stream["sensor_readings"].topic_name
    error_message = "the API's topic prefix plus a stream name must be that stream's topic"
  }
  assert {
    condition     = local.api_env["TRIBUTARY_ALLOW_UNAUTHENTICATED"] == "true"
    error_message = "with exposure = iam, Cloud Run IAM authenticates and the app must be told so"
  }
  assert {
    condition     = module.ingest["sensor_readings"].entry_point == "tributaryIngestPush" && local.cloudbuild_functions == "trib-sensor-readings-ingest:trib-test-project-trib-sensor-readings-src:tributaryIngestPush"
    error_message = "push delivery should serve (and Cloud Build redeploy) the HTTP function"
  }
  assert {
    condition     = module.stream["sensor_readings"].table_id == "trib-test-project.trib_tributary.sensor_readings"
    error_message = "table id should be project.dataset.stream"
  }
}

run "bad_prefix_is_refused" {
  command = plan
  variables {
    prefix = "Trib_Prod"
  }
  expect_failures = [var.prefix]
}

run "public_exposure_plans" {
  command = plan
  variables {
    api = {
      exposure = "public"
    }
  }
  assert {
    condition     = module.api.api_keys_secret_id == "trib-api-keys"
    error_message = "public exposure should create the API keys secret"
  }
  assert {
    condition     = local.api_env["TRIBUTARY_ALLOW_UNAUTHENTICATED"] == "false"
    error_message = "a public API must require API keys"
  }
}

run "eventarc_mode_plans" {
  command = plan
  variables {
    streams = {
      sensor_readings = {
        delivery = { trigger = "eventarc" }
      }
    }
  }
  assert {
    condition     = module.ingest["sensor_readings"].subscription_name == null
    error_message = "eventarc mode should not create the push subscription"
  }
  assert {
    condition     = module.ingest["sensor_readings"].entry_point == "tributaryIngest" && local.cloudbuild_functions == "trib-sensor-readings-ingest:trib-test-project-trib-sensor-readings-src:tributaryIngest"
    error_message = "eventarc mode should serve (and Cloud Build redeploy) the CloudEvent function"
  }
}
