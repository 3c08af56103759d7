# The two buckets of DESIGN.md: uploads (sources, each new object is a job)
# and outputs (HLS/DASH/thumbnails, served by CloudFront through OAC only).

locals {
  buckets = {
    uploads = "${var.name}-uploads-${var.account_id}"
    outputs = "${var.name}-outputs-${var.account_id}"
  }
}

resource "aws_s3_bucket" "this" {
  for_each      = local.buckets
  bucket        = each.value
  force_destroy = var.force_destroy
}

resource "aws_s3_bucket_ownership_controls" "this" {
  for_each = aws_s3_bucket.this
  bucket   = each.value.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  for_each                = aws_s3_bucket.this
  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

# SSE-S3: CloudFront's OAC reads it without a KMS key policy.
resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  for_each = aws_s3_bucket.this
  bucket   = each.value.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "uploads" {
  bucket = aws_s3_bucket.this["uploads"].id

  rule {
    id     = "abort-incomplete-multipart"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  dynamic "rule" {
    for_each = var.uploads_expiration_days > 0 ? [1] : []
    content {
      id     = "expire-sources"
      status = "Enabled"
      filter {}
      expiration {
        days = var.uploads_expiration_days
      }
    }
  }
}

# cirrus-transcode writes multipart above 8 MiB: a crashed job must not
# leave parts billed forever.
resource "aws_s3_bucket_lifecycle_configuration" "outputs" {
  bucket = aws_s3_bucket.this["outputs"].id

  rule {
    id     = "abort-incomplete-multipart"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  rule {
    id     = "infrequent-access"
    status = "Enabled"
    filter {}
    transition {
      days          = 30
      storage_class = "INTELLIGENT_TIERING"
    }
  }

  # Superseded versions (README "Superseded versions expire"): when a
  # re-upload publishes a new version of an asset, the job tags every object
  # of the version it replaced cirrus-superseded=true; nothing else carries
  # the tag, so no prefix rule could tell an old version from the served
  # one.  S3 counts these days from each object's creation, not from the
  # tagging: keep them above the longest time a player may keep using a
  # version after the switch (top-level manifests cached 60 s, then one
  # playback session of the longest asset, plus the CDN's hold on media
  # playlists it already served).
  rule {
    id     = "expire-superseded-versions"
    status = "Enabled"
    filter {
      tag {
        key   = "cirrus-superseded"
        value = "true"
      }
    }
    expiration {
      days = var.superseded_expiration_days
    }
  }

  # The console's uploads (the job API's POST /uploads presigns PUTs under
  # this prefix, upload_s3_uri): sources a job reads once; nothing else
  # removes them.  The prefix holds nothing but uploads.
  rule {
    id     = "expire-console-uploads"
    status = "Enabled"
    filter {
      prefix = "${var.console_upload_prefix}/"
    }
    expiration {
      days = var.console_upload_expiration_days
    }
  }

  # The job API's idempotency keys (docs/api.md): each worker ignores and
  # replaces a key older than api_idempotency_hours; this removes the keys
  # nobody used again, so the store's keys/ does not grow for ever.
  rule {
    id     = "expire-idempotency-keys"
    status = "Enabled"
    filter {
      prefix = var.idempotency_keys_prefix
    }
    expiration {
      days = var.idempotency_keys_expiration_days
    }
  }
}

# Players fetch through CloudFront (whose response headers policy adds CORS),
# but S3's CORS also answers when the bucket is read directly (signed URLs,
# tooling) and lets CloudFront forward the Origin-based headers.
resource "aws_s3_bucket_cors_configuration" "outputs" {
  bucket = aws_s3_bucket.this["outputs"].id
  cors_rule {
    allowed_methods = ["GET", "HEAD"]
    allowed_origins = var.cors_allowed_origins
    allowed_headers = ["Range", "Origin"]
    expose_headers  = ["Content-Length", "Content-Range", "ETag"]
    max_age_seconds = 86400
  }
  # The console's uploads (the job API's POST /uploads): a presigned PUT
  # under the worker's upload prefix, which no bucket notification watches,
  # so the upload makes no job of its own (the console submits one).
  cors_rule {
    allowed_methods = ["PUT"]
    allowed_origins = var.cors_allowed_origins
    allowed_headers = ["*"]
    expose_headers  = ["ETag"]
    max_age_seconds = 3600
  }
}

# Browser uploads (presigned PUT / multipart) straight into uploads.
resource "aws_s3_bucket_cors_configuration" "uploads" {
  bucket = aws_s3_bucket.this["uploads"].id
  cors_rule {
    allowed_methods = ["PUT", "POST"]
    allowed_origins = var.cors_allowed_origins
    allowed_headers = ["*"]
    expose_headers  = ["ETag"]
    max_age_seconds = 3600
  }
}

# Every request must use TLS (the bucket policy of outputs, which also holds
# the CloudFront OAC grant, is written by the cdn module).
data "aws_iam_policy_document" "uploads" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.this["uploads"].arn,
      "${aws_s3_bucket.this["uploads"].arn}/*",
    ]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "uploads" {
  bucket     = aws_s3_bucket.this["uploads"].id
  policy     = data.aws_iam_policy_document.uploads.json
  depends_on = [aws_s3_bucket_public_access_block.this]
}
