# ---------------------------------------------------------------- general

variable "name" {
  description = "Name prefix of every resource (buckets get the account id appended)."
  type        = string
  default     = "cirrus"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.name))
    error_message = "name: 2 to 21 characters of [a-z0-9-], starting with a letter (it prefixes bucket and queue names)."
  }
}

variable "region" {
  description = "AWS region of the stack (everything but CloudFront's alarms, which live in us-east-1)."
  type        = string
  default     = "eu-west-1"
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}

variable "vpc_id" {
  description = "VPC for the hosts, the Batch compute environment and the worker service."
  type        = string
}

variable "public_subnet_ids" {
  description = "Subnets (two or more AZs) for the internet-facing load balancers."
  type        = list(string)

  validation {
    condition     = length(var.public_subnet_ids) >= 2
    error_message = "public_subnet_ids: an ALB needs subnets in at least two availability zones."
  }
}

variable "private_subnet_ids" {
  description = "Subnets (two or more AZs, with a NAT gateway or VPC endpoints for S3, SQS, ECR, logs) for hosts, Batch and workers."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_ids) >= 2
    error_message = "private_subnet_ids: give at least two availability zones."
  }
}

variable "image_tag" {
  description = "Tag of the cirrus image in ECR that Terraform deploys (CI/CD pushes :latest and :<commit>)."
  type        = string
  default     = "latest"
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention of every log group."
  type        = number
  default     = 30
}

variable "force_destroy_buckets" {
  description = "Let `terraform destroy` delete non-empty buckets (for test stacks only)."
  type        = bool
  default     = false
}

# ---------------------------------------------------------------- storage

variable "uploads_expiration_days" {
  description = "Days after which uploaded sources are deleted (0: never)."
  type        = number
  default     = 30

  validation {
    condition     = var.uploads_expiration_days >= 0
    error_message = "uploads_expiration_days: 0 (keep) or a number of days."
  }
}

variable "superseded_expiration_days" {
  description = "Grace period of superseded versions: a re-upload publishes a new version and tags the old one's objects cirrus-superseded=true; the outputs bucket's lifecycle rule removes them this many days after their creation (S3 counts from creation, not from the tagging; README \"Superseded versions expire\")."
  type        = number
  default     = 7

  validation {
    condition     = var.superseded_expiration_days >= 1 && floor(var.superseded_expiration_days) == var.superseded_expiration_days
    error_message = "superseded_expiration_days: a whole number of days, at least 1."
  }
}

variable "console_upload_expiration_days" {
  description = "Days after which the console's uploads (the job API's presigned PUTs, outputs/console-uploads/) are deleted; their jobs read them once, soon after the upload."
  type        = number
  default     = 7

  validation {
    condition     = var.console_upload_expiration_days >= 1 && floor(var.console_upload_expiration_days) == var.console_upload_expiration_days
    error_message = "console_upload_expiration_days: a whole number of days, at least 1."
  }
}

variable "cors_allowed_origins" {
  description = "Origins allowed to fetch media from players in browsers (S3 CORS and CloudFront's response headers)."
  type        = list(string)
  default     = ["*"]
}

# ---------------------------------------------------------------- queue

variable "queue_max_receive_count" {
  description = "Deliveries of one upload's message before SQS moves it to the dead-letter queue."
  type        = number
  default     = 3

  validation {
    condition     = var.queue_max_receive_count >= 1 && var.queue_max_receive_count <= 1000
    error_message = "queue_max_receive_count: 1 .. 1000."
  }
}

variable "queue_visibility_seconds" {
  description = "Visibility timeout of a received job; cirrus-worker heartbeats every third of it."
  type        = number
  default     = 120

  validation {
    condition     = var.queue_visibility_seconds >= 30 && var.queue_visibility_seconds <= 43200
    error_message = "queue_visibility_seconds: 30 .. 43200."
  }
}

variable "upload_suffixes" {
  description = "Upload key suffixes that notify the queue; empty: every object. S3 matches suffixes case-sensitively, so each is also registered in lower and upper case (.mp4 gives .mp4 and .MP4); list mixed-case spellings (.Mp4) yourself."
  type        = list(string)
  default     = []
}

# ---------------------------------------------------------------- workers

variable "worker_cpu" {
  description = "Fargate vCPU units of one cirrus-worker task (1024 = 1 vCPU)."
  type        = number
  default     = 4096

  validation {
    condition     = contains([1024, 2048, 4096, 8192, 16384], var.worker_cpu)
    error_message = "worker_cpu: 1024, 2048, 4096, 8192 or 16384."
  }
}

variable "worker_memory" {
  description = "Memory (MiB) of one cirrus-worker task."
  type        = number
  default     = 8192
}

variable "worker_min_tasks" {
  description = "Fewest worker tasks (0 scales to zero when the queue is empty)."
  type        = number
  default     = 0
}

variable "worker_max_tasks" {
  description = "Most worker tasks."
  type        = number
  default     = 10

  validation {
    condition     = var.worker_max_tasks >= 1
    error_message = "worker_max_tasks: at least 1."
  }
}

variable "worker_jobs_per_task" {
  description = "Transcodes at once in one worker task (cirrus-worker `workers`; 0: one per core)."
  type        = number
  default     = 0
}

variable "job_events" {
  description = "Worker tasks put each job state change (running, done, retrying, failed, released, lost) on an EventBridge bus of their own, <name>-jobs (cirrus-worker eventbridge_bus); failed jobs go to the alarm topic. Not with vod_dispatch = batch (those tasks run no jobs)."
  type        = bool
  default     = true
}

variable "job_api" {
  description = "Serve cirrus-worker's job API (docs/api.md) from the worker tasks behind an internal ALB, and point the live hosts' console at it; at least one worker task then always runs (not with vod_dispatch = batch). deploy/README.md \"The job API and the console on AWS\"."
  type        = bool
  default     = false
}

variable "job_api_token_secret_arn" {
  description = "Secrets Manager secret whose value is the job API's bearer token; \"\": one is created with a random token (read it with aws secretsmanager get-secret-value)."
  type        = string
  default     = ""
}

variable "job_api_idempotency_hours" {
  description = "Hours the job API keeps an idempotency key (cirrus-worker api_idempotency_hours): the same key later makes a new job. The storage module's lifecycle rule removes the job store's keys a day after they expire."
  type        = number
  default     = 24

  validation {
    condition     = var.job_api_idempotency_hours >= 1 && var.job_api_idempotency_hours <= 8760
    error_message = "job_api_idempotency_hours: 1 to 8760 (a year)."
  }
}

variable "job_api_allowed_cidrs" {
  description = "Networks besides the VPC's that may reach the job API's internal ALB (a VPN's, a peered VPC's)."
  type        = list(string)
  default     = []
}

variable "vod_dispatch" {
  description = "local: the worker tasks transcode the queue's jobs; batch: one small worker task hands each job to AWS Batch (cirrus-worker dispatch=batch)."
  type        = string
  default     = "local"

  validation {
    condition     = contains(["local", "batch"], var.vod_dispatch)
    error_message = "vod_dispatch: local or batch."
  }
}

# ---------------------------------------------------------------- batch

variable "batch_compute_type" {
  description = "AWS Batch compute environment type: EC2, SPOT, FARGATE or FARGATE_SPOT."
  type        = string
  default     = "SPOT"

  validation {
    condition     = contains(["EC2", "SPOT", "FARGATE", "FARGATE_SPOT"], var.batch_compute_type)
    error_message = "batch_compute_type: EC2, SPOT, FARGATE or FARGATE_SPOT."
  }
}

variable "batch_max_vcpus" {
  description = "Most vCPUs the Batch compute environment scales to (it scales to zero when idle)."
  type        = number
  default     = 256
}

variable "batch_instance_types" {
  description = "EC2 instance families/types for the EC2/SPOT compute environment."
  type        = list(string)
  default     = ["c6i", "c7i", "c6a"]
}

variable "batch_job_vcpus" {
  description = "vCPUs of one cirrus-transcode Batch job."
  type        = number
  default     = 4
}

variable "batch_job_memory_mib" {
  description = "Memory (MiB) of one cirrus-transcode Batch job."
  type        = number
  default     = 8192
}

variable "batch_retry_attempts" {
  description = "Attempts of a Batch job (1 + retries) for the transient exit codes."
  type        = number
  default     = 3

  validation {
    condition     = var.batch_retry_attempts >= 1 && var.batch_retry_attempts <= 10
    error_message = "batch_retry_attempts: 1 .. 10 (Batch's limit)."
  }
}

variable "batch_job_timeout_seconds" {
  description = "Batch ends an attempt that runs longer (SIGTERM, SIGKILL 30 s later) and never retries it: the job is FAILED and alarms. Size it above the longest transcode."
  type        = number
  default     = 14400

  validation {
    condition     = var.batch_job_timeout_seconds >= 60
    error_message = "batch_job_timeout_seconds: at least 60 (Batch's minimum)."
  }
}

# ---------------------------------------------------------------- live hosts

variable "live_instance_type" {
  description = "Instance type of the live hosts (cirrus-ingest + nginx origin on each)."
  type        = string
  default     = "c7i.2xlarge"
}

variable "live_min_hosts" {
  description = "Fewest live hosts."
  type        = number
  default     = 2
}

variable "live_max_hosts" {
  description = "Most live hosts."
  type        = number
  default     = 6
}

variable "live_desired_hosts" {
  description = "Live hosts at creation (auto scaling moves it between min and max)."
  type        = number
  default     = 2
}

variable "live_preset" {
  description = "Live ABR preset of cirrus-ingest (empty: pass the source through only)."
  type        = string
  default     = "live"
}

variable "rtmp_allowed_cidrs" {
  description = "Who may publish RTMP to the NLB on 1935."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "stream_keys_parameter" {
  description = "Optional SSM parameter (SecureString) holding the allowed stream keys, one a line; empty: every key may publish."
  type        = string
  default     = ""
}

# ---------------------------------------------------------------- CDN

variable "origin_secret_header" {
  description = "Header CloudFront sends to the origin and nginx checks (cirrus_origin_secret)."
  type        = string
  default     = "X-Cirrus-Origin-Secret"

  validation {
    condition     = can(regex("^[A-Za-z0-9-]{1,64}$", var.origin_secret_header))
    error_message = "origin_secret_header: a header name of [A-Za-z0-9-]."
  }
}

variable "origin_secret" {
  description = "Shared secret CloudFront sends in origin_secret_header; the origin answers 403 without it."
  type        = string
  sensitive   = true

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{32,128}$", var.origin_secret))
    error_message = "origin_secret: 32 .. 128 characters of [A-Za-z0-9_-] (e.g. `openssl rand -hex 32`)."
  }
}

variable "origin_shield_region" {
  description = "Region of CloudFront Origin Shield (the one closest to var.region)."
  type        = string
  default     = "eu-west-1"
}

variable "price_class" {
  description = "CloudFront price class."
  type        = string
  default     = "PriceClass_100"

  validation {
    condition     = contains(["PriceClass_100", "PriceClass_200", "PriceClass_All"], var.price_class)
    error_message = "price_class: PriceClass_100, PriceClass_200 or PriceClass_All."
  }
}

variable "outputs_replica_bucket" {
  description = "Optional name of an existing replica of the outputs bucket (S3 replication's destination, SSE-S3): /vod/* then uses an origin group failing over to it, and Terraform writes its bucket policy (this distribution through OAC, TLS only), replacing any other."
  type        = string
  default     = ""
}

variable "outputs_replica_region" {
  description = "Region of outputs_replica_bucket (empty: var.region)."
  type        = string
  default     = ""
}

# ---------------------------------------------------------------- CI/CD

variable "repository" {
  description = "Source repository of the pipeline, owner/name."
  type        = string
  default     = "example/cirrus"
}

variable "branch" {
  description = "Branch whose pushes deploy."
  type        = string
  default     = "main"
}

variable "codestar_connection_arn" {
  description = "Existing CodeStar (CodeConnections) connection to GitHub; empty: one is created, to be confirmed once in the console."
  type        = string
  default     = ""
}

variable "enable_pipeline" {
  description = "Create the CodePipeline + CodeBuild CI/CD."
  type        = bool
  default     = true
}

# ---------------------------------------------------------------- alarms

variable "alarm_email" {
  description = "Email subscribed to the alarm topics (empty: none; subscribe something else to the topic output)."
  type        = string
  default     = ""
}

variable "queue_age_alarm_seconds" {
  description = "Alarm when the oldest upload waits longer than this."
  type        = number
  default     = 900
}

variable "error_rate_alarm_percent" {
  description = "Alarm when the 5xx rate of CloudFront or the ALB exceeds this percentage."
  type        = number
  default     = 5
}
