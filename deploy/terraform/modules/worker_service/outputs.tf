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
