output "job_queue_name" {
  description = "Submit jobs here."
  value       = aws_batch_job_queue.this.name
}

output "job_queue_arn" {
  description = "Job queue ARN."
  value       = aws_batch_job_queue.this.arn
}

output "job_definition_name" {
  description = "Job definition name (without revision: Batch takes the latest active)."
  value       = aws_batch_job_definition.transcode.name
}

output "job_definition_arn" {
  description = "Job definition ARN of the revision Terraform registered."
  value       = aws_batch_job_definition.transcode.arn
}

output "pass_role_arns" {
  description = "Roles a new job definition revision references (CI needs iam:PassRole on them)."
  value       = [aws_iam_role.job.arn, aws_iam_role.execution.arn]
}
