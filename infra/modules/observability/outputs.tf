output "notification_channels" {
  description = "Notification channels the alert policies notify."
  value       = local.channels
}

output "slo_ids" {
  description = "SLO resource names: freshness per stream, and API latency."
  value = {
    freshness   = { for k, v in google_monitoring_slo.freshness : k => v.name }
    api_latency = google_monitoring_slo.api_latency.name
  }
}

output "alert_policy_ids" {
  description = "Alert policy resource names."
  value = concat(
    [for p in google_monitoring_alert_policy.freshness_burn : p.name],
    [for p in google_monitoring_alert_policy.dead_letters : p.name],
    [for p in google_monitoring_alert_policy.oldest_unacked : p.name],
    [google_monitoring_alert_policy.api_latency_burn.name, google_monitoring_alert_policy.api_5xx.name],
  )
}
