# cirrus-worker on ECS Fargate with intake=sqs: each task long-polls the
# queue, claims up to `workers` jobs, heartbeats their visibility, writes the
# asset (manifests last) and only then deletes the message.
#
# Scaling on queue depth (Application Auto Scaling, step scaling on the
# queue's ApproximateNumberOfMessagesVisible): one more task per step of
# backlog while messages wait; back to min_tasks (0 by default) once the
# queue has been empty (visible + in flight = 0) for 10 minutes, so no
# running job is cut by scale-in.  SIGTERM drains: running jobs may finish
# for drain_seconds, then are released to the queue.
#
# The job store (jobs_s3_uri, docs/api.md): each task writes the record of
# each job it runs at each change of state under <outputs>/<jobs_prefix>/,
# and looks there for cancel requests; the job API (GET /jobs, cancel,
# retry) reads and writes the same records.  Presigned console uploads go
# to <outputs>/<upload_prefix>/ (no bucket notification there).
#
# The job API (job_api, docs/api.md): the tasks open api_port behind an
# internal ALB (HTTP on port 80) that only the VPC (and api_allowed_cidrs)
# reaches; the bearer token comes from Secrets Manager
# (ECS secrets, never a plain environment value).  Every task answers the
# whole API from the job store, idempotency keys included, so the ALB may
# send a request to any of them; at least one task then always runs (the
# service scales between max(min_tasks, 1) and max_tasks).  The live
# hosts' console proxies its /api/jobs/ to this ALB (deploy/README.md).
#
# Job state changes: with job_events, each task puts them on the bus
# <name>-jobs (PutEvents, source cirrus.worker, detail-type "Cirrus Job State
# Change"; docs/notifications.md); the monitoring module's rule sends the
# failed ones to the alarm topic.

locals {
  metrics_port = 9102
  drain        = 100 # < stop_timeout (120 s, the Fargate maximum)
  batch        = var.dispatch == "batch"
  job_events   = var.job_events && !local.batch
  api_port     = 8090
  # dispatch=batch refuses api_port: those tasks have no job store
  api                  = var.job_api && !local.batch
  min_tasks            = local.api ? max(var.min_tasks, 1) : var.min_tasks
  own_token            = local.api && var.api_token_secret_arn == ""
  given_token          = local.api ? var.api_token_secret_arn : ""
  api_token_secret_arn = local.own_token ? aws_secretsmanager_secret.api_token[0].arn : local.given_token

  environment = concat([
    { name = "AWS_REGION", value = var.region },
    { name = "CIRRUS_WORKER_INTAKE", value = "sqs" },
    { name = "CIRRUS_WORKER_SQS_QUEUE_URL", value = var.queue_url },
    { name = "CIRRUS_WORKER_OUT_ROOT", value = var.out_root },
    { name = "CIRRUS_WORKER_WORKERS", value = tostring(var.jobs_per_task) },
    { name = "CIRRUS_WORKER_VISIBILITY_SECONDS", value = tostring(var.visibility_seconds) },
    { name = "CIRRUS_WORKER_DRAIN_SECONDS", value = tostring(local.drain) },
    { name = "CIRRUS_WORKER_METRICS_LISTEN", value = "0.0.0.0" },
    { name = "CIRRUS_WORKER_METRICS_PORT", value = tostring(local.metrics_port) },
    { name = "CIRRUS_WORKER_LOG_JSON", value = "1" },
    { name = "CIRRUS_WORKER_DISPATCH", value = var.dispatch },
    ], local.batch ? [] : [
    { name = "CIRRUS_WORKER_JOBS_S3_URI", value = "s3://${var.outputs_bucket_id}/${var.jobs_prefix}" },
    { name = "CIRRUS_WORKER_UPLOAD_S3_URI", value = "s3://${var.outputs_bucket_id}/${var.upload_prefix}/" },
    ], local.job_events ? [
    { name = "CIRRUS_WORKER_EVENTBRIDGE_BUS", value = "${var.name}-jobs" },
    ] : [], local.batch ? [
    { name = "CIRRUS_WORKER_BATCH_JOB_QUEUE", value = var.batch_job_queue_arn },
    { name = "CIRRUS_WORKER_BATCH_JOB_DEFINITION", value = var.batch_job_definition_name },
    ] : [], local.api ? [
    { name = "CIRRUS_WORKER_API_PORT", value = tostring(local.api_port) },
    { name = "CIRRUS_WORKER_API_LISTEN", value = "0.0.0.0" },
    { name = "CIRRUS_WORKER_API_IDEMPOTENCY_HOURS", value = tostring(var.api_idempotency_hours) },
  ] : [])

  # the token, read by ECS from Secrets Manager at task start
  secrets = local.api ? [
    { name = "CIRRUS_WORKER_API_TOKEN", valueFrom = local.api_token_secret_arn },
  ] : []
}

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

resource "aws_cloudwatch_event_bus" "jobs" {
  count = local.job_events ? 1 : 0
  name  = "${var.name}-jobs"
}

resource "aws_ecs_cluster" "this" {
  name = "${var.name}-workers"

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE", "FARGATE_SPOT"]
}

resource "aws_cloudwatch_log_group" "worker" {
  name              = "/ecs/${var.name}-worker"
  retention_in_days = var.log_retention_days
}

resource "aws_security_group" "worker" {
  name        = "${var.name}-worker"
  description = "cirrus-worker tasks: outbound HTTPS; metrics from inside the VPC"
  vpc_id      = var.vpc_id

  egress {
    description = "HTTPS to AWS APIs"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

data "aws_vpc" "this" {
  id = var.vpc_id
}

# ---------------------------------------------------------------- job API

# The token, when the operator brings none: a random one, made once (a new
# plan draws another password, which the version ignores).
data "aws_secretsmanager_random_password" "api_token" {
  count               = local.own_token ? 1 : 0
  password_length     = 48
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret" "api_token" {
  count       = local.own_token ? 1 : 0
  name_prefix = "${var.name}-job-api-token-"
  description = "cirrus-worker api_token: the job API's bearer token (docs/api.md)"
}

resource "aws_secretsmanager_secret_version" "api_token" {
  count         = local.own_token ? 1 : 0
  secret_id     = aws_secretsmanager_secret.api_token[0].id
  secret_string = data.aws_secretsmanager_random_password.api_token[0].random_password

  lifecycle {
    ignore_changes = [secret_string]
  }
}

resource "aws_security_group" "api" {
  count       = local.api ? 1 : 0
  name        = "${var.name}-job-api"
  description = "The job API's internal ALB: from the VPC and api_allowed_cidrs"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "api_clients" {
  for_each          = local.api ? toset(concat([data.aws_vpc.this.cidr_block], var.api_allowed_cidrs)) : toset([])
  security_group_id = aws_security_group.api[0].id
  description       = "Job API clients (the live hosts' console, operators)"
  cidr_ipv4         = each.value
  from_port         = 80
  to_port           = 80
  ip_protocol       = "tcp"
}

resource "aws_vpc_security_group_egress_rule" "api_tasks" {
  for_each                     = local.api ? toset([tostring(local.api_port), tostring(local.metrics_port)]) : toset([])
  security_group_id            = aws_security_group.api[0].id
  description                  = "The tasks' job API and health check"
  referenced_security_group_id = aws_security_group.worker.id
  from_port                    = tonumber(each.value)
  to_port                      = tonumber(each.value)
  ip_protocol                  = "tcp"
}

resource "aws_vpc_security_group_ingress_rule" "tasks_api" {
  count                        = local.api ? 1 : 0
  security_group_id            = aws_security_group.worker.id
  description                  = "The job API, from its ALB"
  referenced_security_group_id = aws_security_group.api[0].id
  from_port                    = local.api_port
  to_port                      = local.api_port
  ip_protocol                  = "tcp"
}

resource "aws_lb" "api" {
  count                      = local.api ? 1 : 0
  name                       = "${var.name}-job-api"
  load_balancer_type         = "application"
  internal                   = true
  subnets                    = var.subnet_ids
  security_groups            = [aws_security_group.api[0].id]
  idle_timeout               = 60
  drop_invalid_header_fields = true
}

# Any task answers any request (the job store is shared); the health check
# is the status port's /healthz (the API itself wants the token).
resource "aws_lb_target_group" "api" {
  count                = local.api ? 1 : 0
  name                 = "${var.name}-job-api"
  port                 = local.api_port
  protocol             = "HTTP"
  vpc_id               = var.vpc_id
  target_type          = "ip"
  deregistration_delay = 15

  health_check {
    path                = "/healthz"
    port                = tostring(local.metrics_port)
    matcher             = "200"
    interval            = 10
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener" "api" {
  count             = local.api ? 1 : 0
  load_balancer_arn = aws_lb.api[0].arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.api[0].arn
  }
}

resource "aws_vpc_security_group_ingress_rule" "metrics" {
  security_group_id = aws_security_group.worker.id
  description       = "Prometheus scrapes /metrics and /jobs"
  cidr_ipv4         = data.aws_vpc.this.cidr_block
  from_port         = local.metrics_port
  to_port           = local.metrics_port
  ip_protocol       = "tcp"
}

# ---------------------------------------------------------------- IAM

data "aws_iam_policy_document" "tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "execution" {
  name               = "${var.name}-worker-execution"
  assume_role_policy = data.aws_iam_policy_document.tasks_assume.json
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

# ECS reads the job API's token for the container (secrets), the task role
# never sees the secret.
data "aws_iam_policy_document" "execution_secrets" {
  count = local.api ? 1 : 0
  statement {
    sid       = "ReadJobApiToken"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [local.api_token_secret_arn]
  }
}

resource "aws_iam_role_policy" "execution_secrets" {
  count  = local.api ? 1 : 0
  name   = "job-api-token"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution_secrets[0].json
}

resource "aws_iam_role" "task" {
  name               = "${var.name}-worker-task"
  assume_role_policy = data.aws_iam_policy_document.tasks_assume.json
}

data "aws_iam_policy_document" "task" {
  statement {
    sid = "ConsumeJobs"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:ChangeMessageVisibility",
      "sqs:GetQueueAttributes",
    ]
    resources = [var.queue_arn]
  }

  dynamic "statement" {
    for_each = local.batch ? [] : [1]
    content {
      sid       = "ReadSources"
      actions   = ["s3:GetObject"]
      resources = ["${var.uploads_bucket_arn}/*"]
    }
  }

  # Without ListBucket, S3 answers a HEAD/GET of a missing key 403, not
  # 404: an upload deleted before its job ran would look like an auth
  # failure instead of a missing input.
  dynamic "statement" {
    for_each = local.batch ? [] : [1]
    content {
      sid       = "ListSources"
      actions   = ["s3:ListBucket"]
      resources = [var.uploads_bucket_arn]
    }
  }

  dynamic "statement" {
    for_each = local.batch ? [] : [1]
    content {
      sid       = "WriteAssets"
      actions   = ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"]
      resources = ["${var.outputs_bucket_arn}/*"]
    }
  }

  dynamic "statement" {
    for_each = local.batch ? [] : [1]
    content {
      sid       = "ListAssets"
      actions   = ["s3:ListBucket"]
      resources = [var.outputs_bucket_arn]
    }
  }

  # Superseded versions: their objects tagged for the lifecycle rule, the
  # records of the ones done removed (.superseded/<version>.json only).
  dynamic "statement" {
    for_each = local.batch ? [] : [1]
    content {
      sid       = "MarkSuperseded"
      actions   = ["s3:PutObjectTagging"]
      resources = ["${var.outputs_bucket_arn}/*"]
    }
  }

  dynamic "statement" {
    for_each = local.batch ? [] : [1]
    content {
      sid     = "ClearSupersededRecords"
      actions = ["s3:DeleteObject"]
      resources = [
        "${var.outputs_bucket_arn}/.superseded/*",
        "${var.outputs_bucket_arn}/*/.superseded/*",
      ]
    }
  }

  # A cancelled or failed job's unfinished version, and DELETE /assets/{name}
  # (docs/api.md): objects under the VOD prefix only.
  dynamic "statement" {
    for_each = local.batch ? [] : [1]
    content {
      sid       = "RemoveAssets"
      actions   = ["s3:DeleteObject"]
      resources = ["${var.outputs_bucket_arn}/${var.outputs_prefix}/*"]
    }
  }

  # The job store: records and cancel requests, read, written, removed.
  dynamic "statement" {
    for_each = local.batch ? [] : [1]
    content {
      sid       = "JobStore"
      actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
      resources = ["${var.outputs_bucket_arn}/${var.jobs_prefix}/*"]
    }
  }

  dynamic "statement" {
    for_each = local.batch ? [] : [1]
    content {
      sid       = "ListJobStore"
      actions   = ["s3:ListBucket"]
      resources = [var.outputs_bucket_arn]
      condition {
        test     = "StringLike"
        variable = "s3:prefix"
        values   = ["${var.jobs_prefix}/*"]
      }
    }
  }

  # POST /uploads signs PUTs with these credentials: the URL grants what
  # the role may do, so the role may put there and nowhere else for it.
  dynamic "statement" {
    for_each = local.batch ? [] : [1]
    content {
      sid       = "PresignUploads"
      actions   = ["s3:PutObject"]
      resources = ["${var.outputs_bucket_arn}/${var.upload_prefix}/*"]
    }
  }

  dynamic "statement" {
    for_each = local.batch ? [1] : []
    content {
      sid     = "SubmitToBatch"
      actions = ["batch:SubmitJob"]
      resources = [
        var.batch_job_queue_arn,
        "arn:aws:batch:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:job-definition/${var.batch_job_definition_name}",
        "arn:aws:batch:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:job-definition/${var.batch_job_definition_name}:*",
      ]
    }
  }

  dynamic "statement" {
    for_each = local.job_events ? [1] : []
    content {
      sid       = "PutJobEvents"
      actions   = ["events:PutEvents"]
      resources = [aws_cloudwatch_event_bus.jobs[0].arn]
    }
  }

  dynamic "statement" {
    for_each = local.batch ? [1] : []
    content {
      sid       = "FindSubmittedJobs"
      actions   = ["batch:ListJobs"] # no resource-level permissions
      resources = ["*"]
    }
  }
}

resource "aws_iam_role_policy" "task" {
  name   = "worker"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task.json
}

# ---------------------------------------------------------------- service

resource "aws_ecs_task_definition" "worker" {
  family                   = "${var.name}-worker"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = local.batch ? 256 : var.cpu
  memory                   = local.batch ? 512 : var.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  container_definitions = jsonencode([{
    name        = "cirrus-worker"
    image       = var.image
    command     = ["worker"]
    essential   = true
    stopTimeout = 120
    environment = local.environment
    secrets     = local.secrets
    portMappings = [for p in concat([local.metrics_port], local.api ? [local.api_port] : []) :
    { containerPort = p, protocol = "tcp" }]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        "awslogs-group"         = aws_cloudwatch_log_group.worker.name
        "awslogs-region"        = data.aws_region.current.name
        "awslogs-stream-prefix" = "worker"
      }
    }
  }])
}

resource "aws_ecs_service" "worker" {
  name            = "${var.name}-worker"
  cluster         = aws_ecs_cluster.this.id
  task_definition = aws_ecs_task_definition.worker.arn
  desired_count   = local.min_tasks
  launch_type     = "FARGATE"

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [aws_security_group.worker.id]
    assign_public_ip = false
  }

  dynamic "load_balancer" {
    for_each = local.api ? [1] : []
    content {
      target_group_arn = aws_lb_target_group.api[0].arn
      container_name   = "cirrus-worker"
      container_port   = local.api_port
    }
  }
  health_check_grace_period_seconds = local.api ? 60 : null

  # with the API on, a deployment keeps a task answering
  deployment_minimum_healthy_percent = local.api ? 100 : 0
  deployment_maximum_percent         = 200

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  # Auto scaling owns the count; CI/CD owns the running revision.
  lifecycle {
    ignore_changes = [desired_count]

    precondition {
      condition     = !(var.job_api && local.batch)
      error_message = "job_api needs dispatch = local: a dispatch=batch worker refuses api_port."
    }
  }

  # the target group is attached to its ALB before the service uses it
  depends_on = [aws_lb_listener.api]
}

# ---------------------------------------------------------------- scaling

resource "aws_appautoscaling_target" "worker" {
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.worker.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = local.min_tasks
  max_capacity       = max(var.max_tasks, local.min_tasks)
}

# Out: the alarm fires while any message is visible; the step says how many
# tasks to add for the backlog (metric minus the threshold of 0).
resource "aws_appautoscaling_policy" "out" {
  name               = "${var.name}-worker-backlog-out"
  service_namespace  = aws_appautoscaling_target.worker.service_namespace
  resource_id        = aws_appautoscaling_target.worker.resource_id
  scalable_dimension = aws_appautoscaling_target.worker.scalable_dimension
  policy_type        = "StepScaling"

  step_scaling_policy_configuration {
    adjustment_type         = "ChangeInCapacity"
    cooldown                = 120
    metric_aggregation_type = "Maximum"

    step_adjustment {
      metric_interval_lower_bound = 0
      metric_interval_upper_bound = 10
      scaling_adjustment          = 1
    }
    step_adjustment {
      metric_interval_lower_bound = 10
      metric_interval_upper_bound = 50
      scaling_adjustment          = 2
    }
    step_adjustment {
      metric_interval_lower_bound = 50
      scaling_adjustment          = 5
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "backlog" {
  alarm_name          = "${var.name}-worker-backlog"
  alarm_description   = "Jobs are waiting: add worker tasks"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = var.queue_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_appautoscaling_policy.out.arn]
}

# In: nothing visible and nothing in flight for 10 minutes → min_tasks.
resource "aws_appautoscaling_policy" "in" {
  name               = "${var.name}-worker-idle-in"
  service_namespace  = aws_appautoscaling_target.worker.service_namespace
  resource_id        = aws_appautoscaling_target.worker.resource_id
  scalable_dimension = aws_appautoscaling_target.worker.scalable_dimension
  policy_type        = "StepScaling"

  step_scaling_policy_configuration {
    adjustment_type         = "ExactCapacity"
    cooldown                = 300
    metric_aggregation_type = "Maximum"

    step_adjustment {
      metric_interval_upper_bound = 0
      scaling_adjustment          = local.min_tasks
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "idle" {
  alarm_name          = "${var.name}-worker-idle"
  alarm_description   = "No job waiting or running: scale workers in"
  comparison_operator = "LessThanThreshold"
  threshold           = 1 # visible + in flight < 1: nothing at all
  evaluation_periods  = 10
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_appautoscaling_policy.in.arn]

  metric_query {
    id          = "jobs"
    expression  = "visible + inflight"
    label       = "messages visible or in flight"
    return_data = true
  }
  metric_query {
    id = "visible"
    metric {
      namespace   = "AWS/SQS"
      metric_name = "ApproximateNumberOfMessagesVisible"
      dimensions  = { QueueName = var.queue_name }
      period      = 60
      stat        = "Maximum"
    }
  }
  metric_query {
    id = "inflight"
    metric {
      namespace   = "AWS/SQS"
      metric_name = "ApproximateNumberOfMessagesNotVisible"
      dimensions  = { QueueName = var.queue_name }
      period      = 60
      stat        = "Maximum"
    }
  }
}
