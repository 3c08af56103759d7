variable "name" {
  description = "Name prefix."
  type        = string
}

variable "region" {
  description = "Region (AWS_REGION of the tasks)."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the tasks."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the tasks."
  type        = list(string)
}

variable "image" {
  description = "The cirrus image (repository:tag)."
  type        = string
}

variable "queue_url" {
  description = "SQS queue of S3 events (sqs_queue_url)."
  type        = string
}

variable "queue_arn" {
  description = "Queue ARN (IAM)."
  type        = string
}

variable "queue_name" {
  description = "Queue name (the scaling metric's dimension)."
  type        = string
}

variable "uploads_bucket_arn" {
  description = "Sources are read from here."
  type        = string
}

variable "outputs_bucket_arn" {
  description = "Assets are written here."
  type        = string
}

variable "outputs_bucket_id" {
  description = "The outputs bucket's name: the job store and the console's uploads are under it."
  type        = string
}

variable "outputs_prefix" {
  description = "out_root's prefix in the outputs bucket: DELETE /assets and a cancelled or failed job remove objects under it."
  type        = string
  default     = "vod"
}

variable "jobs_prefix" {
  description = "The job store (cirrus-worker jobs_s3_uri, docs/api.md) in the outputs bucket: one record per job that every task writes and the job API reads."
  type        = string
  default     = "cirrus-jobs"
}

variable "upload_prefix" {
  description = "The console's uploads (upload_s3_uri; POST /uploads presigns PUTs there) in the outputs bucket, whose objects make no job by themselves."
  type        = string
  default     = "console-uploads"
}

variable "out_root" {
  description = "cirrus-worker out_root, s3://bucket/prefix."
  type        = string
}

variable "visibility_seconds" {
  description = "Claim lease (matches the queue's visibility timeout)."
  type        = number
  default     = 120
}

variable "cpu" {
  description = "Fargate CPU units per task."
  type        = number
  default     = 4096
}

variable "memory" {
  description = "Memory per task, MiB."
  type        = number
  default     = 8192
}

variable "min_tasks" {
  description = "Fewest tasks (0: scale to zero)."
  type        = number
  default     = 0
}

variable "max_tasks" {
  description = "Most tasks."
  type        = number
  default     = 10
}

variable "jobs_per_task" {
  description = "cirrus-worker `workers` (0: one per core)."
  type        = number
  default     = 0
}

variable "dispatch" {
  description = "local: the tasks transcode; batch: they hand each job to AWS Batch (SubmitJob)."
  type        = string
  default     = "local"

  validation {
    condition     = contains(["local", "batch"], var.dispatch)
    error_message = "dispatch: local or batch."
  }
}

variable "batch_job_queue_arn" {
  description = "Batch job queue (dispatch=batch)."
  type        = string
  default     = ""
}

variable "batch_job_definition_name" {
  description = "Batch job definition name (dispatch=batch)."
  type        = string
  default     = ""
}

variable "job_events" {
  description = "Put each job state change on an EventBridge bus created here, <name>-jobs (not with dispatch = batch)."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Log retention."
  type        = number
  default     = 30
}

variable "job_api" {
  description = "Serve the job API (docs/api.md) from the tasks (api_port) behind an internal ALB; at least one task then always runs. Not with dispatch = batch."
  type        = bool
  default     = false
}

variable "api_token_secret_arn" {
  description = "Secrets Manager secret whose value is the job API's bearer token (ECS secrets); \"\": one is created with a random token."
  type        = string
  default     = ""
}

variable "api_idempotency_hours" {
  description = "Hours the job API keeps an idempotency key (cirrus-worker api_idempotency_hours)."
  type        = number
  default     = 24
}

variable "api_allowed_cidrs" {
  description = "Networks besides the VPC's that may reach the job API's internal ALB (a VPN's, a peered VPC's)."
  type        = list(string)
  default     = []
}
