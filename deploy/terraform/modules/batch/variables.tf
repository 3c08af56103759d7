variable "name" {
  description = "Name prefix."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the compute environment."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the compute environment."
  type        = list(string)
}

variable "image" {
  description = "The cirrus image (repository:tag)."
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

variable "compute_type" {
  description = "EC2, SPOT, FARGATE or FARGATE_SPOT."
  type        = string
  default     = "SPOT"
}

variable "max_vcpus" {
  description = "Most vCPUs of the compute environment (min is 0: it scales to zero)."
  type        = number
  default     = 256
}

variable "instance_types" {
  description = "EC2 instance types or families (EC2/SPOT only)."
  type        = list(string)
  default     = ["c6i", "c7i"]
}

variable "job_vcpus" {
  description = "vCPUs per job."
  type        = number
  default     = 4
}

variable "job_memory_mib" {
  description = "Memory per job, MiB."
  type        = number
  default     = 8192
}

variable "retry_attempts" {
  description = "Attempts per job (1 .. 10)."
  type        = number
  default     = 3
}

variable "job_timeout_seconds" {
  description = "Per-attempt timeout (s): Batch ends the attempt (SIGTERM, SIGKILL 30 s later) and does not retry it; the job is FAILED."
  type        = number
  default     = 14400
}

variable "default_preset" {
  description = "Preset when a submission passes none."
  type        = string
  default     = "web"
}

variable "log_retention_days" {
  description = "Log retention."
  type        = number
  default     = 30
}
