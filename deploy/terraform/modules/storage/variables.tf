variable "name" {
  description = "Name prefix."
  type        = string
}

variable "account_id" {
  description = "Account id, appended to bucket names (they are global)."
  type        = string
}

variable "force_destroy" {
  description = "Allow destroying non-empty buckets."
  type        = bool
  default     = false
}

variable "uploads_expiration_days" {
  description = "Delete uploads after this many days (0: never)."
  type        = number
  default     = 30
}

variable "superseded_expiration_days" {
  description = "Days after their creation that objects of superseded versions (tagged cirrus-superseded=true) are removed."
  type        = number
  default     = 7
}

variable "cors_allowed_origins" {
  description = "CORS origins allowed on the outputs bucket."
  type        = list(string)
  default     = ["*"]
}

variable "console_upload_prefix" {
  description = "The console's uploads in the outputs bucket (the worker's upload_s3_uri), without a trailing slash."
  type        = string
  default     = "console-uploads"
}

variable "idempotency_keys_prefix" {
  description = "The job store's idempotency keys in the outputs bucket (<jobs_prefix>/keys/), with the trailing slash."
  type        = string
  default     = "cirrus-jobs/keys/"
}

variable "idempotency_keys_expiration_days" {
  description = "Days after which the job store's idempotency keys are deleted (after the worker has stopped honouring them)."
  type        = number
  default     = 2
}

variable "console_upload_expiration_days" {
  description = "Days after which the console's uploads (outputs/<console_upload_prefix>/) are deleted."
  type        = number
  default     = 7
}
