# S3 ObjectCreated → SQS → cirrus-worker (intake=sqs).  A message received
# max_receive_count times without being deleted (the worker deletes only
# after the manifests are written) moves to the dead-letter queue.

locals {
  # S3's filter_suffix is case-sensitive: ".mp4" alone makes no job for
  # "CLIP.MP4".  Each suffix is registered as given, in lower and in upper
  # case (the filters do not overlap: S3 compares them case-sensitively).
  # Mixed-case spellings (".Mp4") match only when listed.
  upload_suffixes = distinct(flatten([
    for s in var.upload_suffixes : [s, lower(s), upper(s)]
  ]))
}

resource "aws_sqs_queue" "dlq" {
  name                      = "${var.name}-jobs-dlq"
  message_retention_seconds = 1209600 # 14 days, the maximum: time to look
  sqs_managed_sse_enabled   = true
}

resource "aws_sqs_queue" "jobs" {
  name                       = "${var.name}-jobs"
  visibility_timeout_seconds = var.visibility_timeout_seconds
  message_retention_seconds  = 345600 # 4 days
  receive_wait_time_seconds  = 20     # long polling by default
  sqs_managed_sse_enabled    = true

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = var.max_receive_count
  })
}

resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.jobs.arn]
  })
}

data "aws_iam_policy_document" "jobs" {
  statement {
    sid       = "UploadsBucketSends"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.jobs.arn]
    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [var.uploads_bucket_arn]
    }
    # bucket names are global: a bucket of that name in another account
    # (after ours is deleted) must not send
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [var.account_id]
    }
  }
}

resource "aws_sqs_queue_policy" "jobs" {
  queue_url = aws_sqs_queue.jobs.id
  policy    = data.aws_iam_policy_document.jobs.json
}

resource "aws_s3_bucket_notification" "uploads" {
  bucket = var.uploads_bucket_id

  dynamic "queue" {
    for_each = length(local.upload_suffixes) > 0 ? local.upload_suffixes : [""]
    content {
      queue_arn     = aws_sqs_queue.jobs.arn
      events        = ["s3:ObjectCreated:*"]
      filter_suffix = queue.value != "" ? queue.value : null
    }
  }

  # S3 checks it may send (the queue policy) when the notification is set.
  depends_on = [aws_sqs_queue_policy.jobs]
}
