# Alarms → SNS: uploads waiting too long, dead letters, 5xx at CloudFront
# and at the live ALB, live hosts failing their health checks, Batch jobs
# that failed for good.  CloudFront's metrics exist only in us-east-1, so
# its alarm and a second topic live there.

resource "aws_sns_topic" "alarms" {
  name = "${var.name}-alarms"
}

resource "aws_sns_topic" "alarms_us_east_1" {
  provider = aws.us_east_1
  name     = "${var.name}-alarms"
}

resource "aws_sns_topic_subscription" "email" {
  count     = var.alarm_email != "" ? 1 : 0
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

resource "aws_sns_topic_subscription" "email_us_east_1" {
  provider  = aws.us_east_1
  count     = var.alarm_email != "" ? 1 : 0
  topic_arn = aws_sns_topic.alarms_us_east_1.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

resource "aws_cloudwatch_metric_alarm" "queue_age" {
  alarm_name          = "${var.name}-queue-oldest-message"
  alarm_description   = "An upload has waited over ${var.queue_age_alarm_seconds} s: workers are down, stuck or at max"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = var.queue_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.queue_age_alarm_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  alarm_name          = "${var.name}-dead-letters"
  alarm_description   = "Jobs failed every attempt and were parked in the DLQ"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = var.dlq_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "cloudfront_5xx" {
  provider            = aws.us_east_1
  alarm_name          = "${var.name}-cloudfront-5xx"
  alarm_description   = "Viewers get over ${var.error_rate_percent}% 5xx"
  namespace           = "AWS/CloudFront"
  metric_name         = "5xxErrorRate"
  dimensions          = { DistributionId = var.distribution_id, Region = "Global" }
  statistic           = "Average"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.error_rate_percent
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms_us_east_1.arn]
  ok_actions          = [aws_sns_topic.alarms_us_east_1.arn]
}

resource "aws_cloudwatch_metric_alarm" "alb_5xx" {
  alarm_name          = "${var.name}-live-origin-5xx"
  alarm_description   = "The live origin answers over ${var.error_rate_percent}% 5xx (503s at the blocking limit included)"
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.error_rate_percent
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]

  metric_query {
    id          = "rate"
    expression  = "IF(FILL(requests, 0) > 0, 100 * (FILL(errors, 0) + FILL(elb, 0)) / requests, 0)"
    label       = "5xx percent"
    return_data = true
  }
  metric_query {
    id = "errors"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_Target_5XX_Count"
      dimensions  = { LoadBalancer = var.alb_arn_suffix }
      period      = 60
      stat        = "Sum"
    }
  }
  metric_query {
    id = "elb"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_ELB_5XX_Count"
      dimensions  = { LoadBalancer = var.alb_arn_suffix }
      period      = 60
      stat        = "Sum"
    }
  }
  metric_query {
    id = "requests"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "RequestCount"
      dimensions  = { LoadBalancer = var.alb_arn_suffix }
      period      = 60
      stat        = "Sum"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "ingest_unhealthy" {
  alarm_name          = "${var.name}-ingest-unhealthy-hosts"
  alarm_description   = "A live host fails the RTMP target group's health check (cirrus-ingest status port)"
  namespace           = "AWS/NetworkELB"
  metric_name         = "UnHealthyHostCount"
  dimensions          = { LoadBalancer = var.nlb_arn_suffix, TargetGroup = var.rtmp_target_group_suffix }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "origin_unhealthy" {
  alarm_name          = "${var.name}-origin-unhealthy-hosts"
  alarm_description   = "A live host fails the ALB's health check (nginx /healthz)"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "UnHealthyHostCount"
  dimensions          = { LoadBalancer = var.alb_arn_suffix, TargetGroup = var.http_target_group_suffix }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

# Batch has no CloudWatch metric for failed jobs: EventBridge forwards the
# FAILED state changes of our job queue to the topic.
resource "aws_cloudwatch_event_rule" "batch_failed" {
  name        = "${var.name}-batch-failed"
  description = "cirrus-transcode Batch jobs that failed after their retries"
  event_pattern = jsonencode({
    source      = ["aws.batch"]
    detail-type = ["Batch Job State Change"]
    detail = {
      status   = ["FAILED"]
      jobQueue = [{ wildcard = "*:job-queue/${var.batch_job_queue_name}" }]
    }
  })
}

resource "aws_cloudwatch_event_target" "batch_failed" {
  rule = aws_cloudwatch_event_rule.batch_failed.name
  arn  = aws_sns_topic.alarms.arn
}

# cirrus-worker's job state changes (eventbridge_bus): the jobs that failed
# for good (not "retrying": those come back) to the topic.
resource "aws_cloudwatch_event_rule" "job_failed" {
  count          = var.job_events_bus_name != "" ? 1 : 0
  name           = "${var.name}-job-failed"
  description    = "cirrus-worker jobs that failed (their last attempt, or a permanent error)"
  event_bus_name = var.job_events_bus_name
  event_pattern = jsonencode({
    source      = ["cirrus.worker"]
    detail-type = ["Cirrus Job State Change"]
    detail = {
      state = ["failed"]
    }
  })
}

resource "aws_cloudwatch_event_target" "job_failed" {
  count          = var.job_events_bus_name != "" ? 1 : 0
  rule           = aws_cloudwatch_event_rule.job_failed[0].name
  event_bus_name = var.job_events_bus_name
  arn            = aws_sns_topic.alarms.arn
}

# Only this account's alarms and EventBridge rules may publish: the
# services' own principals, bound to the account (aws:SourceAccount) so
# another account's alarm or rule cannot use the topics.  The us-east-1
# topic (CloudFront's alarm) gets the same policy.
locals {
  alarm_topics = {
    regional  = aws_sns_topic.alarms.arn
    us_east_1 = aws_sns_topic.alarms_us_east_1.arn
  }
}

data "aws_iam_policy_document" "alarms_topic" {
  for_each = local.alarm_topics
  statement {
    sid       = "AccountAlarmsAndRulesPublish"
    actions   = ["sns:Publish"]
    resources = [each.value]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com", "cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [var.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "alarms" {
  arn    = aws_sns_topic.alarms.arn
  policy = data.aws_iam_policy_document.alarms_topic["regional"].json
}

resource "aws_sns_topic_policy" "alarms_us_east_1" {
  provider = aws.us_east_1
  arn      = aws_sns_topic.alarms_us_east_1.arn
  policy   = data.aws_iam_policy_document.alarms_topic["us_east_1"].json
}
