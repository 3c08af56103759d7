output "uploads_bucket_id" {
  description = "Uploads bucket name."
  value       = aws_s3_bucket.this["uploads"].id
}

output "uploads_bucket_arn" {
  description = "Uploads bucket ARN."
  value       = aws_s3_bucket.this["uploads"].arn
}

output "outputs_bucket_id" {
  description = "Outputs bucket name."
  value       = aws_s3_bucket.this["outputs"].id
}

output "outputs_bucket_arn" {
  description = "Outputs bucket ARN."
  value       = aws_s3_bucket.this["outputs"].arn
}

output "outputs_bucket_regional_domain_name" {
  description = "Outputs bucket regional domain (CloudFront origin)."
  value       = aws_s3_bucket.this["outputs"].bucket_regional_domain_name
}
