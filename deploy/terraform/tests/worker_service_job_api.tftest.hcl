# The worker service module planned against a mocked AWS provider (no
# account, no credentials): without the job API it scales to zero and
# opens nothing; with it (job_api) at least one task runs behind an
# internal ALB, the token reaches the container through ECS secrets from
# Secrets Manager (created here, or the operator's), never as a plain
# environment value; with dispatch = batch the plan is refused.  Run by
# tests/integration/deploy.test.mjs (`terraform test` beside validate).

mock_provider "aws" {
  mock_data "aws_vpc" {
    defaults = {
      cidr_block = "10.20.0.0/16"
    }
  }
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
  mock_data "aws_region" {
    defaults = {
      name = "eu-west-1"
    }
  }
  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
    }
  }
}

variables {
  name               = "t"
  region             = "eu-west-1"
  vpc_id             = "vpc-0123456789abcdef0"
  subnet_ids         = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
  image              = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/cirrus:1"
  queue_url          = "https://sqs.eu-west-1.amazonaws.com/123456789012/t-jobs"
  queue_arn          = "arn:aws:sqs:eu-west-1:123456789012:t-jobs"
  queue_name         = "t-jobs"
  uploads_bucket_arn = "arn:aws:s3:::t-uploads"
  outputs_bucket_arn = "arn:aws:s3:::t-outputs"
  outputs_bucket_id  = "t-outputs"
  out_root           = "s3://t-outputs/vod"
}

run "api_off_scales_to_zero_and_opens_nothing" {
  command = plan
  module {
    source = "./modules/worker_service"
  }

  assert {
    condition     = aws_ecs_service.worker.desired_count == 0 && aws_appautoscaling_target.worker.min_capacity == 0
    error_message = "without the job API the service scales to zero"
  }
  assert {
    condition     = length(aws_lb.api) == 0 && length(aws_lb_target_group.api) == 0 && length(aws_secretsmanager_secret.api_token) == 0
    error_message = "without the job API: no ALB, no secret, no target"
  }
  assert {
    condition     = length(jsondecode(aws_ecs_task_definition.worker.container_definitions)[0].secrets) == 0
    error_message = "without the job API the container gets no secret"
  }
  assert {
    condition     = output.job_api_url == ""
    error_message = "no URL without the job API"
  }
}

run "api_on_with_its_own_secret" {
  command = plan
  module {
    source = "./modules/worker_service"
  }
  variables {
    job_api = true
  }

  assert {
    condition     = aws_ecs_service.worker.desired_count == 1 && aws_appautoscaling_target.worker.min_capacity == 1
    error_message = "with the job API at least one task runs"
  }
  assert {
    condition     = one(one(aws_appautoscaling_policy.in.step_scaling_policy_configuration).step_adjustment).scaling_adjustment == 1
    error_message = "scale-in stops at one task"
  }
  assert {
    condition     = aws_lb.api[0].internal && aws_lb_target_group.api[0].target_type == "ip" && aws_lb_target_group.api[0].port == 8090 && aws_lb_listener.api[0].port == 80
    error_message = "an internal ALB to the tasks' api_port"
  }
  assert {
    condition     = length(aws_secretsmanager_secret.api_token) == 1 && length(aws_iam_role_policy.execution_secrets) == 1
    error_message = "a secret is made, and the execution role may read it"
  }
  assert {
    condition     = toset(keys(aws_vpc_security_group_ingress_rule.api_clients)) == toset(["10.20.0.0/16"])
    error_message = "only the VPC reaches the ALB by default"
  }
}

run "api_on_with_the_operators_secret" {
  command = plan
  module {
    source = "./modules/worker_service"
  }
  variables {
    job_api              = true
    min_tasks            = 2
    api_token_secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:cirrus-api-AbCdEf"
    api_allowed_cidrs    = ["192.168.8.0/24"]
  }

  assert {
    condition     = aws_ecs_service.worker.desired_count == 2 && aws_appautoscaling_target.worker.min_capacity == 2
    error_message = "min_tasks above one is kept"
  }
  assert {
    condition     = length(aws_secretsmanager_secret.api_token) == 0
    error_message = "the operator's secret: none made"
  }
  assert {
    condition = jsondecode(aws_ecs_task_definition.worker.container_definitions)[0].secrets == [
      { name = "CIRRUS_WORKER_API_TOKEN", valueFrom = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:cirrus-api-AbCdEf" },
    ]
    error_message = "the token reaches the container through ECS secrets"
  }
  assert {
    condition     = alltrue([for e in jsondecode(aws_ecs_task_definition.worker.container_definitions)[0].environment : e.name != "CIRRUS_WORKER_API_TOKEN"])
    error_message = "the token is never a plain environment value"
  }
  assert {
    condition     = contains([for e in jsondecode(aws_ecs_task_definition.worker.container_definitions)[0].environment : "${e.name}=${e.value}"], "CIRRUS_WORKER_API_PORT=8090") && contains([for e in jsondecode(aws_ecs_task_definition.worker.container_definitions)[0].environment : "${e.name}=${e.value}"], "CIRRUS_WORKER_API_LISTEN=0.0.0.0")
    error_message = "the tasks open api_port on every address"
  }
  assert {
    condition     = toset(keys(aws_vpc_security_group_ingress_rule.api_clients)) == toset(["10.20.0.0/16", "192.168.8.0/24"])
    error_message = "api_allowed_cidrs reach the ALB besides the VPC"
  }
}

run "batch_dispatch_refuses_the_api" {
  command = plan
  module {
    source = "./modules/worker_service"
  }
  variables {
    job_api                   = true
    dispatch                  = "batch"
    batch_job_queue_arn       = "arn:aws:batch:eu-west-1:123456789012:job-queue/t"
    batch_job_definition_name = "t-transcode"
  }

  # a dispatch=batch worker refuses api_port: the plan stops on the
  # service's precondition
  expect_failures = [aws_ecs_service.worker]
}
