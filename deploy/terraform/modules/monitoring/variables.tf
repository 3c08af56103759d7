variable "name" {
  description = "Name prefix."
  type        = string
}

variable "account_id" {
  description = "This account: the topics' policies accept publishes from its alarms and rules only (aws:SourceAccount)."
  type        = string
}

variable "alarm_email" {
  description = "Email subscribed to the topics (empty: none)."
  type        = string
  default     = ""
}

variable "queue_name" {
  description = "Job queue."
  type        = string
}

variable "dlq_name" {
  description = "Dead-letter queue."
  type        = string
}

variable "queue_age_alarm_seconds" {
  description = "Oldest message age that alarms."
  type        = number
  default     = 900
}

variable "distribution_id" {
  description = "CloudFront distribution."
  type        = string
}

variable "alb_arn_suffix" {
  description = "Live HTTP ALB."
  type        = string
}

variable "nlb_arn_suffix" {
  description = "RTMP NLB."
  type        = string
}

variable "rtmp_target_group_suffix" {
  description = "RTMP target group."
  type        = string
}

variable "http_target_group_suffix" {
  description = "HTTP target group."
  type        = string
}

variable "error_rate_percent" {
  description = "5xx percentage that alarms."
  type        = number
  default     = 5
}

variable "batch_job_queue_name" {
  description = "Batch job queue (failed jobs alarm via EventBridge)."
  type        = string
}

variable "job_events_bus_name" {
  description = "EventBridge bus of the workers' job state changes (failed jobs to the alarm topic); \"\": none."
  type        = string
  default     = ""
}
