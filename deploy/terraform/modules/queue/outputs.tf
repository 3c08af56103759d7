output "queue_url" {
  description = "Job queue URL."
  value       = aws_sqs_queue.jobs.id
}

output "queue_arn" {
  description = "Job queue ARN."
  value       = aws_sqs_queue.jobs.arn
}

output "queue_name" {
  description = "Job queue name (CloudWatch dimension)."
  value       = aws_sqs_queue.jobs.name
}

output "dlq_url" {
  description = "Dead-letter queue URL."
  value       = aws_sqs_queue.dlq.id
}

output "dlq_name" {
  description = "Dead-letter queue name."
  value       = aws_sqs_queue.dlq.name
}
