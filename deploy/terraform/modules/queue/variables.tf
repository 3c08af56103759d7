variable "name" {
  description = "Name prefix."
  type        = string
}

variable "uploads_bucket_id" {
  description = "Bucket whose ObjectCreated events become jobs."
  type        = string
}

variable "uploads_bucket_arn" {
  description = "ARN of that bucket (the queue policy's source)."
  type        = string
}

variable "max_receive_count" {
  description = "Receives before a message moves to the dead-letter queue."
  type        = number
  default     = 3
}

variable "visibility_timeout_seconds" {
  description = "Visibility timeout (cirrus-worker extends it while a job runs)."
  type        = number
  default     = 120
}

variable "account_id" {
  description = "Account that owns the uploads bucket (the queue policy's aws:SourceAccount)."
  type        = string
}

variable "upload_suffixes" {
  description = "Key suffixes that notify (empty: all objects); each also in lower and upper case."
  type        = list(string)
  default     = []
}
