output "cluster_name" {
  description = "ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "cluster_arn" {
  description = "ECS cluster ARN."
  value       = aws_ecs_cluster.this.arn
}

output "service_name" {
  description = "The worker service."
  value       = aws_ecs_service.worker.name
}

output "job_events_bus_name" {
  description = "EventBridge bus of the job state changes (\"\": none)."
  value       = local.job_events ? aws_cloudwatch_event_bus.jobs[0].name : ""
}

output "job_api_url" {
  description = "The job API's base URL on its internal ALB (\"\": job_api off)."
  value       = local.api ? "http://${aws_lb.api[0].dns_name}" : ""
}

output "job_api_address" {
  description = "host:port of the job API's ALB, for the live hosts' console (CIRRUS_WORKER_API; \"\": off)."
  value       = local.api ? "${aws_lb.api[0].dns_name}:80" : ""
}

output "job_api_token_secret_arn" {
  description = "The Secrets Manager secret holding the job API's bearer token (\"\": job_api off)."
  value       = local.api_token_secret_arn
}
