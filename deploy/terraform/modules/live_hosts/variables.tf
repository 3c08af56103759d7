variable "name" {
  description = "Name prefix."
  type        = string
}

variable "region" {
  description = "Region (the hosts' AWS CLI calls)."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the hosts and load balancers."
  type        = string
}

variable "public_subnet_ids" {
  description = "Subnets of the internet-facing NLB and ALB."
  type        = list(string)
}

variable "private_subnet_ids" {
  description = "Subnets of the hosts."
  type        = list(string)
}

variable "image" {
  description = "The cirrus image (repository:tag)."
  type        = string
}

variable "ecr_repository_arn" {
  description = "Repository the hosts pull from."
  type        = string
}

variable "instance_type" {
  description = "Host instance type."
  type        = string
  default     = "c7i.2xlarge"
}

variable "min_hosts" {
  description = "Fewest hosts."
  type        = number
  default     = 2
}

variable "max_hosts" {
  description = "Most hosts."
  type        = number
  default     = 6
}

variable "desired_hosts" {
  description = "Hosts at creation."
  type        = number
  default     = 2
}

variable "live_preset" {
  description = "cirrus-ingest preset (empty: passthrough only)."
  type        = string
  default     = "live"
}

variable "rtmp_allowed_cidrs" {
  description = "Publishers allowed on 1935."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "origin_secret_header" {
  description = "Header nginx requires (cirrus_origin_secret)."
  type        = string
}

variable "origin_secret" {
  description = "Its value (stored as an SSM SecureString, read at boot)."
  type        = string
  sensitive   = true
}

variable "stream_keys_parameter" {
  description = "SSM parameter with the allowed stream keys (empty: any key)."
  type        = string
  default     = ""
}

variable "cpu_target_percent" {
  description = "Average CPU the host group is scaled to."
  type        = number
  default     = 50
}

variable "log_retention_days" {
  description = "Log retention."
  type        = number
  default     = 30
}

variable "worker_api" {
  description = "host:port of cirrus-worker's job API (the worker service's internal ALB) that the console on each host proxies /api/jobs/ to (CIRRUS_WORKER_API); \"\": the origin's default, 127.0.0.1:8083."
  type        = string
  default     = ""
}
