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
# Job state changes: with job_events, each task puts them on the bus
# <name>-jobs (PutEvents, source cirrus.worker, detail-type "Cirrus Job State
# Change"; docs/notifications.md); the monitoring module's rule sends the
# failed ones to the alarm topic.

locals {
  metrics_port = 9102
  drain        = 100 # < stop_timeout (120 s, the Fargate maximum)
  batch        = var.dispatch == "batch"
  job_events   = var.job_events && !local.batch

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
  ] : [])
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
    name         = "cirrus-worker"
    image        = var.image
    command      = ["worker"]
    essential    = true
    stopTimeout  = 120
    environment  = local.environment
    portMappings = [{ containerPort = local.metrics_port, protocol = "tcp" }]
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
  desired_count   = var.min_tasks
  launch_type     = "FARGATE"

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [aws_security_group.worker.id]
    assign_public_ip = false
  }

  deployment_minimum_healthy_percent = 0
  deployment_maximum_percent         = 200

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  # Auto scaling owns the count; CI/CD owns the running revision.
  lifecycle {
    ignore_changes = [desired_count]
  }
}

# ---------------------------------------------------------------- scaling

resource "aws_appautoscaling_target" "worker" {
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.worker.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.min_tasks
  max_capacity       = var.max_tasks
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
      scaling_adjustment          = var.min_tasks
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
