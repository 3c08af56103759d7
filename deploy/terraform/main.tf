# Cirrus on AWS: the production layout of DESIGN.md.
#
#   uploads bucket ──ObjectCreated──► SQS (+ DLQ) ──► cirrus-worker on ECS Fargate
#                                                     (scales on queue depth, to zero)
#   aws batch submit-job ──► Batch job queue ──► cirrus-transcode (one job, exit code
#                                                decides retry), compute scales to zero
#   both write HLS/DASH under s3://<outputs>/vod/<asset>/
#
#   RTMP ──► NLB :1935 ──► live hosts (ASG): cirrus-ingest + nginx/module on each
#   players ──► CloudFront ──/vod/*──► S3 outputs (OAC)
#                          ──/live/*─► ALB ──► nginx on the live hosts (origin secret)
#
# Live stickiness: see modules/live_hosts/main.tf and deploy/README.md.

data "aws_caller_identity" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  image      = "${aws_ecr_repository.cirrus.repository_url}:${var.image_tag}"
  # VOD assets live under vod/ in the outputs bucket, so CloudFront's /vod/*
  # path maps to the object key unchanged.
  vod_prefix = "vod"
  # The console's uploads (POST /uploads), expired by the storage module.
  console_upload_prefix = "console-uploads"
  # The job store (cirrus-worker jobs_s3_uri) in the outputs bucket; its
  # idempotency keys (keys/) are expired by the storage module.
  jobs_prefix = "cirrus-jobs"
}

resource "aws_ecr_repository" "cirrus" {
  name                 = var.name
  image_tag_mutability = "MUTABLE" # :latest moves with each deploy; :<commit> tags stay put
  force_delete         = var.force_destroy_buckets

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "AES256"
  }
}

resource "aws_ecr_lifecycle_policy" "cirrus" {
  repository = aws_ecr_repository.cirrus.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "keep the last 30 images"
      selection = {
        tagStatus   = "any"
        countType   = "imageCountMoreThan"
        countNumber = 30
      }
      action = { type = "expire" }
    }]
  })
}

module "storage" {
  source = "./modules/storage"

  name                       = var.name
  account_id                 = local.account_id
  force_destroy              = var.force_destroy_buckets
  uploads_expiration_days    = var.uploads_expiration_days
  superseded_expiration_days = var.superseded_expiration_days
  cors_allowed_origins       = var.cors_allowed_origins

  console_upload_prefix          = local.console_upload_prefix
  console_upload_expiration_days = var.console_upload_expiration_days

  # the worker forgets a key after job_api_idempotency_hours; S3 removes it
  # on the first day boundary a full day after that
  idempotency_keys_prefix          = "${local.jobs_prefix}/keys/"
  idempotency_keys_expiration_days = ceil(var.job_api_idempotency_hours / 24) + 1
}

module "queue" {
  source = "./modules/queue"

  name                       = var.name
  account_id                 = local.account_id
  uploads_bucket_id          = module.storage.uploads_bucket_id
  uploads_bucket_arn         = module.storage.uploads_bucket_arn
  max_receive_count          = var.queue_max_receive_count
  visibility_timeout_seconds = var.queue_visibility_seconds
  upload_suffixes            = var.upload_suffixes
}

module "batch" {
  source = "./modules/batch"

  name                = var.name
  vpc_id              = var.vpc_id
  subnet_ids          = var.private_subnet_ids
  image               = local.image
  uploads_bucket_arn  = module.storage.uploads_bucket_arn
  outputs_bucket_arn  = module.storage.outputs_bucket_arn
  compute_type        = var.batch_compute_type
  max_vcpus           = var.batch_max_vcpus
  instance_types      = var.batch_instance_types
  job_vcpus           = var.batch_job_vcpus
  job_memory_mib      = var.batch_job_memory_mib
  retry_attempts      = var.batch_retry_attempts
  job_timeout_seconds = var.batch_job_timeout_seconds
  log_retention_days  = var.log_retention_days
}

module "worker_service" {
  source = "./modules/worker_service"

  name                      = var.name
  region                    = var.region
  vpc_id                    = var.vpc_id
  subnet_ids                = var.private_subnet_ids
  image                     = local.image
  queue_url                 = module.queue.queue_url
  queue_arn                 = module.queue.queue_arn
  queue_name                = module.queue.queue_name
  uploads_bucket_arn        = module.storage.uploads_bucket_arn
  outputs_bucket_arn        = module.storage.outputs_bucket_arn
  outputs_bucket_id         = module.storage.outputs_bucket_id
  outputs_prefix            = local.vod_prefix
  out_root                  = "s3://${module.storage.outputs_bucket_id}/${local.vod_prefix}"
  visibility_seconds        = var.queue_visibility_seconds
  cpu                       = var.worker_cpu
  memory                    = var.worker_memory
  min_tasks                 = var.worker_min_tasks
  max_tasks                 = var.worker_max_tasks
  jobs_per_task             = var.worker_jobs_per_task
  dispatch                  = var.vod_dispatch
  batch_job_queue_arn       = module.batch.job_queue_arn
  batch_job_definition_name = module.batch.job_definition_name
  job_events                = var.job_events
  log_retention_days        = var.log_retention_days
  upload_prefix             = local.console_upload_prefix
  job_api                   = var.job_api
  api_token_secret_arn      = var.job_api_token_secret_arn
  api_allowed_cidrs         = var.job_api_allowed_cidrs
  api_idempotency_hours     = var.job_api_idempotency_hours
  jobs_prefix               = local.jobs_prefix
}

module "live_hosts" {
  source = "./modules/live_hosts"

  name                  = var.name
  region                = var.region
  vpc_id                = var.vpc_id
  public_subnet_ids     = var.public_subnet_ids
  private_subnet_ids    = var.private_subnet_ids
  image                 = local.image
  ecr_repository_arn    = aws_ecr_repository.cirrus.arn
  instance_type         = var.live_instance_type
  min_hosts             = var.live_min_hosts
  max_hosts             = var.live_max_hosts
  desired_hosts         = var.live_desired_hosts
  live_preset           = var.live_preset
  rtmp_allowed_cidrs    = var.rtmp_allowed_cidrs
  origin_secret_header  = var.origin_secret_header
  origin_secret         = var.origin_secret
  stream_keys_parameter = var.stream_keys_parameter
  log_retention_days    = var.log_retention_days
  worker_api            = module.worker_service.job_api_address
}

module "cdn" {
  source = "./modules/cdn"
  providers = {
    aws         = aws
    aws.replica = aws.replica
  }

  name                           = var.name
  outputs_bucket_id              = module.storage.outputs_bucket_id
  outputs_bucket_arn             = module.storage.outputs_bucket_arn
  outputs_bucket_regional_domain = module.storage.outputs_bucket_regional_domain_name
  outputs_replica_bucket         = var.outputs_replica_bucket
  live_origin_domain_name        = module.live_hosts.alb_dns_name
  origin_secret_header           = var.origin_secret_header
  origin_secret                  = var.origin_secret
  origin_shield_region           = var.origin_shield_region
  price_class                    = var.price_class
  cors_allowed_origins           = var.cors_allowed_origins
}

module "pipeline" {
  source = "./modules/pipeline"
  count  = var.enable_pipeline ? 1 : 0

  name                      = var.name
  region                    = var.region
  repository                = var.repository
  branch                    = var.branch
  codestar_connection_arn   = var.codestar_connection_arn
  ecr_repository_url        = aws_ecr_repository.cirrus.repository_url
  ecr_repository_arn        = aws_ecr_repository.cirrus.arn
  batch_job_definition_name = module.batch.job_definition_name
  batch_pass_role_arns      = module.batch.pass_role_arns
  ecs_cluster_name          = module.worker_service.cluster_name
  ecs_service_name          = module.worker_service.service_name
  live_asg_name             = module.live_hosts.asg_name
  live_asg_arn              = module.live_hosts.asg_arn
  force_destroy             = var.force_destroy_buckets
}

module "monitoring" {
  source = "./modules/monitoring"
  providers = {
    aws           = aws
    aws.us_east_1 = aws.us_east_1
  }

  name                     = var.name
  account_id               = local.account_id
  alarm_email              = var.alarm_email
  queue_name               = module.queue.queue_name
  dlq_name                 = module.queue.dlq_name
  queue_age_alarm_seconds  = var.queue_age_alarm_seconds
  distribution_id          = module.cdn.distribution_id
  alb_arn_suffix           = module.live_hosts.alb_arn_suffix
  nlb_arn_suffix           = module.live_hosts.nlb_arn_suffix
  rtmp_target_group_suffix = module.live_hosts.rtmp_target_group_arn_suffix
  http_target_group_suffix = module.live_hosts.http_target_group_arn_suffix
  error_rate_percent       = var.error_rate_alarm_percent
  batch_job_queue_name     = module.batch.job_queue_name
  job_events_bus_name      = module.worker_service.job_events_bus_name
}
