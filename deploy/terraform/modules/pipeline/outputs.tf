output "pipeline_name" {
  description = "The pipeline."
  value       = aws_codepipeline.this.name
}

output "connection_arn" {
  description = "The GitHub connection in use."
  value       = local.connection_arn
}
