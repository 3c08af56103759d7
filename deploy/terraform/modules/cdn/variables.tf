variable "name" {
  description = "Name prefix."
  type        = string
}

variable "outputs_bucket_id" {
  description = "Outputs bucket (its policy grants this distribution)."
  type        = string
}

variable "outputs_bucket_arn" {
  description = "Outputs bucket ARN."
  type        = string
}

variable "outputs_bucket_regional_domain" {
  description = "Outputs bucket regional domain (the /vod/* origin)."
  type        = string
}

variable "outputs_replica_bucket" {
  description = "Name of a replica of the outputs bucket, in the aws.replica provider's region: /vod/* fails over to it and its bucket policy is written here (empty: no origin group)."
  type        = string
  default     = ""
}

variable "live_origin_domain_name" {
  description = "The live hosts' ALB (the /live/* origin)."
  type        = string
}

variable "origin_secret_header" {
  description = "Custom header sent to the live origin."
  type        = string
}

variable "origin_secret" {
  description = "Its value."
  type        = string
  sensitive   = true
}

variable "origin_shield_region" {
  description = "Origin Shield region."
  type        = string
}

variable "price_class" {
  description = "CloudFront price class."
  type        = string
  default     = "PriceClass_100"
}

variable "cors_allowed_origins" {
  description = "CORS origins (\"*\" for any)."
  type        = list(string)
  default     = ["*"]
}

variable "error_caching_min_ttl" {
  description = "Seconds CloudFront caches an error (short: a live 404 turns into a part soon)."
  type        = number
  default     = 1
}
