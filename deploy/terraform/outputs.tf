output "cloudfront_domain" {
  description = "The distribution's domain: point a CNAME at it, or use it as is."
  value       = module.cdn.domain_name
}

output "vod_playback_url_patterns" {
  description = "Where a VOD asset plays once its manifests are written."
  value = {
    hls  = "https://${module.cdn.domain_name}/vod/<asset>/master.m3u8"
    dash = "https://${module.cdn.domain_name}/vod/<asset>/manifest.mpd"
  }
}

output "live_playback_url_patterns" {
  description = "Where a live stream plays (<key> is the RTMP stream key)."
  value = {
    hls  = "https://${module.cdn.domain_name}/live/<key>/master.m3u8"
    dash = "https://${module.cdn.domain_name}/live/<key>/manifest.mpd"
  }
}

output "rtmp_endpoint" {
  description = "Publish here (OBS: server = this URL, stream key = <key>)."
  value       = "rtmp://${module.live_hosts.nlb_dns_name}:1935/live"
}

output "uploads_bucket" {
  description = "Upload sources here: each new object becomes a job."
  value       = module.storage.uploads_bucket_id
}

output "outputs_bucket" {
  description = "Transcoded assets (s3://<bucket>/vod/<asset>/)."
  value       = module.storage.outputs_bucket_id
}

output "queue_url" {
  description = "The job queue (S3 event notifications)."
  value       = module.queue.queue_url
}

output "dead_letter_queue_url" {
  description = "Jobs that failed max_receive_count times."
  value       = module.queue.dlq_url
}

output "ecr_repository_url" {
  description = "Push the cirrus image here."
  value       = aws_ecr_repository.cirrus.repository_url
}

output "batch_submit_example" {
  description = "Run one transcode on AWS Batch."
  value       = "aws batch submit-job --job-name demo --job-queue ${module.batch.job_queue_name} --job-definition ${module.batch.job_definition_name} --parameters input=s3://${module.storage.uploads_bucket_id}/in.mp4,output=s3://${module.storage.outputs_bucket_id}/vod/demo,preset=web"
}

output "alarm_topic_arns" {
  description = "SNS topics the alarms notify (regional, and us-east-1 for CloudFront)."
  value       = module.monitoring.topic_arns
}

output "pipeline_name" {
  description = "The CodePipeline that deploys pushes to var.branch."
  value       = var.enable_pipeline ? module.pipeline[0].pipeline_name : null
}

output "codestar_connection_arn" {
  description = "The GitHub connection (confirm it once in the console if Terraform created it)."
  value       = var.enable_pipeline ? module.pipeline[0].connection_arn : null
}

output "job_api_url" {
  description = "cirrus-worker's job API on its internal ALB (reachable from the VPC and job_api_allowed_cidrs; \"\": job_api off). The live hosts' console proxies /api/jobs/ to it."
  value       = module.worker_service.job_api_url
}

output "job_api_token_secret_arn" {
  description = "The Secrets Manager secret holding the job API's bearer token (\"\": job_api off)."
  value       = module.worker_service.job_api_token_secret_arn
}
