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
