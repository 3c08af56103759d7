# AWS Batch runs cirrus-transcode once per job and reads its exit code:
# a managed compute environment that scales to zero, one job queue, and a
# job definition whose retryStrategy retries only the transient exit codes
# (README "exit codes", transcoder/include/cir_transcode.h):
#
#   0 done · 1 usage · 2 bad input · 3 bad preset · 5 internal  → EXIT
#   4 transient (storage, I/O, memory)                          → RETRY
#   130 SIGTERM of a Spot interruption (the ECS agent stops the
#       task before the host goes)                              → RETRY
#   no exit code, the host went away ("Host EC2*")              → RETRY
#
# Batch allows at most five evaluateOnExit entries, matched in order; a job
# that matches none is retried, so the last entry exits on everything else.
#
# The retry strategy is not consulted for an attempt that Batch itself ends
# at its timeout (timeout.attempt_duration_seconds: SIGTERM, SIGKILL 30 s
# later): AWS Batch never retries a timed-out attempt, whatever its exit
# code, nor a job ended by TerminateJob/CancelJob.  Such a job is FAILED
# ("Job attempt duration exceeded timeout") and the monitoring module's
# batch_failed rule alarms; resubmit it by hand.  So the timeout is a guard
# against a hung job, sized above the longest upload's transcode.

locals {
  fargate = startswith(var.compute_type, "FARGATE")
  spot    = var.compute_type == "SPOT" || var.compute_type == "FARGATE_SPOT"
}

resource "aws_cloudwatch_log_group" "jobs" {
  name              = "/aws/batch/${var.name}-transcode"
  retention_in_days = var.log_retention_days
}

resource "aws_security_group" "batch" {
  name        = "${var.name}-batch"
  description = "cirrus-transcode Batch jobs: outbound only (S3, ECR, logs)"
  vpc_id      = var.vpc_id

  egress {
    description = "HTTPS to AWS APIs"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

# ---------------------------------------------------------------- IAM

data "aws_iam_policy_document" "batch_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["batch.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "service" {
  name               = "${var.name}-batch-service"
  assume_role_policy = data.aws_iam_policy_document.batch_assume.json
}

resource "aws_iam_role_policy_attachment" "service" {
  role       = aws_iam_role.service.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSBatchServiceRole"
}

data "aws_iam_policy_document" "ec2_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

# The container instances (EC2/SPOT): the ECS agent, ECR pulls, logs.
resource "aws_iam_role" "instance" {
  count              = local.fargate ? 0 : 1
  name               = "${var.name}-batch-instance"
  assume_role_policy = data.aws_iam_policy_document.ec2_assume.json
}

resource "aws_iam_role_policy_attachment" "instance" {
  count      = local.fargate ? 0 : 1
  role       = aws_iam_role.instance[0].name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"
}

resource "aws_iam_instance_profile" "instance" {
  count = local.fargate ? 0 : 1
  name  = "${var.name}-batch-instance"
  role  = aws_iam_role.instance[0].name
}

data "aws_iam_policy_document" "tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

# Execution role: pull the image, write the logs (required on Fargate).
resource "aws_iam_role" "execution" {
  name               = "${var.name}-batch-execution"
  assume_role_policy = data.aws_iam_policy_document.tasks_assume.json
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

# Job role: what cirrus-transcode itself may do, and nothing more.
resource "aws_iam_role" "job" {
  name               = "${var.name}-batch-job"
  assume_role_policy = data.aws_iam_policy_document.tasks_assume.json
}

data "aws_iam_policy_document" "job" {
  statement {
    sid       = "ReadSources"
    actions   = ["s3:GetObject"]
    resources = ["${var.uploads_bucket_arn}/*"]
  }
  # Without ListBucket, S3 answers a HEAD/GET of a missing key 403, not
  # 404: a deleted upload would look like an auth failure, not bad input.
  statement {
    sid       = "ListSources"
    actions   = ["s3:ListBucket"]
    resources = [var.uploads_bucket_arn]
  }
  statement {
    sid = "WriteAssets"
    # PutObject covers multipart create/upload/complete; HEAD/GET tell a
    # finished asset (its manifests) from a missing one.
    actions   = ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"]
    resources = ["${var.outputs_bucket_arn}/*"]
  }
  statement {
    sid       = "ListAssets"
    actions   = ["s3:ListBucket"]
    resources = [var.outputs_bucket_arn]
  }
  # Superseded versions: their objects tagged for the lifecycle rule, the
  # records of the ones done removed (.superseded/<version>.json only).
  statement {
    sid       = "MarkSuperseded"
    actions   = ["s3:PutObjectTagging"]
    resources = ["${var.outputs_bucket_arn}/*"]
  }
  statement {
    sid     = "ClearSupersededRecords"
    actions = ["s3:DeleteObject"]
    resources = [
      "${var.outputs_bucket_arn}/.superseded/*",
      "${var.outputs_bucket_arn}/*/.superseded/*",
    ]
  }
}

resource "aws_iam_role_policy" "job" {
  name   = "transcode"
  role   = aws_iam_role.job.id
  policy = data.aws_iam_policy_document.job.json
}

# ---------------------------------------------------------------- Batch

resource "aws_batch_compute_environment" "this" {
  compute_environment_name_prefix = "${var.name}-transcode-"
  type                            = "MANAGED"
  service_role                    = aws_iam_role.service.arn

  compute_resources {
    type               = var.compute_type
    max_vcpus          = var.max_vcpus
    min_vcpus          = local.fargate ? null : 0 # scale to zero when idle
    subnets            = var.subnet_ids
    security_group_ids = [aws_security_group.batch.id]
    instance_role      = local.fargate ? null : aws_iam_instance_profile.instance[0].arn
    instance_type      = local.fargate ? null : var.instance_types
    allocation_strategy = local.fargate ? null : (
      local.spot ? "SPOT_PRICE_CAPACITY_OPTIMIZED" : "BEST_FIT_PROGRESSIVE"
    )
  }

  depends_on = [aws_iam_role_policy_attachment.service]

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_batch_job_queue" "this" {
  name     = "${var.name}-transcode"
  state    = "ENABLED"
  priority = 1

  compute_environment_order {
    order               = 1
    compute_environment = aws_batch_compute_environment.this.arn
  }
}

resource "aws_batch_job_definition" "transcode" {
  name                  = "${var.name}-transcode"
  type                  = "container"
  platform_capabilities = [local.fargate ? "FARGATE" : "EC2"]
  propagate_tags        = true

  # publish_tag: the upload's identity, passed by the dispatcher with every
  # SubmitJob; an attempt that finds <output>/.published/<tag>.json (written
  # after an earlier attempt published) exits 0 without a second version.
  # "none" (a job submitted by hand without one): no marker.
  # subtitles: the job document's "subtitles" (JSON), sent only when it
  # has some; "[]" is none.
  parameters = {
    preset      = var.default_preset
    publish_tag = "none"
    subtitles   = "[]"
  }

  retry_strategy {
    attempts = var.retry_attempts

    evaluate_on_exit {
      action       = "RETRY"
      on_exit_code = "4" # CIR_EXIT_TRANSIENT: storage or I/O error, out of memory
    }
    # CIR_EXIT_INTERRUPTED: SIGTERM from a Spot interruption or a scale-in
    # (not from the timeout: Batch does not retry a timed-out attempt).
    evaluate_on_exit {
      action       = "RETRY"
      on_exit_code = "130"
    }
    # A reclaimed Spot host or a scaled-in instance: no exit code at all.
    evaluate_on_exit {
      action           = "RETRY"
      on_status_reason = "Host EC2*"
    }
    # 1 usage, 2 bad input, 3 bad preset, 5 internal (and anything else):
    # running it again would fail the same way.
    evaluate_on_exit {
      action    = "EXIT"
      on_reason = "*"
    }
  }

  # Ends a hung attempt; Batch does not retry it (see the top of the file).
  timeout {
    attempt_duration_seconds = var.job_timeout_seconds
  }

  container_properties = jsonencode(merge(
    {
      image = var.image
      # The image's ENTRYPOINT runs any command given (tini, then exec).
      command = [
        "cirrus-transcode",
        "--input", "Ref::input",
        "--output", "Ref::output",
        "--preset", "Ref::preset",
        "--publish-tag", "Ref::publish_tag",
        "--subtitles", "Ref::subtitles",
        "--log-json", "--quiet",
      ]
      jobRoleArn       = aws_iam_role.job.arn
      executionRoleArn = aws_iam_role.execution.arn
      resourceRequirements = [
        { type = "VCPU", value = tostring(var.job_vcpus) },
        { type = "MEMORY", value = tostring(var.job_memory_mib) },
      ]
      environment = [
        { name = "CIRRUS_PRESETS_DIR", value = "/usr/share/cirrus/presets" },
      ]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          "awslogs-group"         = aws_cloudwatch_log_group.jobs.name
          "awslogs-stream-prefix" = "transcode"
        }
      }
      # The image's non-root user; scratch space is the container's own
      # (S3 inputs are read with ranged GETs, outputs uploaded as written).
      user = "cirrus"
    },
    local.fargate ? {
      networkConfiguration         = { assignPublicIp = "DISABLED" }
      fargatePlatformConfiguration = { platformVersion = "LATEST" }
      runtimePlatform              = { operatingSystemFamily = "LINUX", cpuArchitecture = "X86_64" }
    } : {}
  ))
}
