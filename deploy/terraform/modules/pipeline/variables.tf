variable "name" {
  description = "Name prefix."
  type        = string
}

variable "region" {
  description = "Region of the stack."
  type        = string
}

variable "repository" {
  description = "GitHub repository, owner/name."
  type        = string
}

variable "branch" {
  description = "Branch that deploys."
  type        = string
  default     = "main"
}

variable "codestar_connection_arn" {
  description = "Existing connection (empty: create one)."
  type        = string
  default     = ""
}

variable "ecr_repository_url" {
  description = "Where CodeBuild pushes the image."
  type        = string
}

variable "ecr_repository_arn" {
  description = "Its ARN."
  type        = string
}

variable "batch_job_definition_name" {
  description = "Job definition CodeBuild registers a new revision of."
  type        = string
}

variable "batch_pass_role_arns" {
  description = "Roles the job definition passes."
  type        = list(string)
}

variable "ecs_cluster_name" {
  description = "Cluster of the worker service."
  type        = string
}

variable "ecs_service_name" {
  description = "The worker service to redeploy."
  type        = string
}

variable "live_asg_name" {
  description = "Live hosts' ASG (instance refresh pulls the new image)."
  type        = string
}

variable "live_asg_arn" {
  description = "Its ARN."
  type        = string
}

variable "force_destroy" {
  description = "Allow destroying the non-empty artifact bucket."
  type        = bool
  default     = false
}
