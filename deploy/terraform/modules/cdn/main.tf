# CloudFront in front of both origins:
#   /vod/*          → S3 outputs through OAC (origin group with a replica
#                     when one is given, whose bucket policy grants this
#                     distribution too); long TTLs, the objects carry
#                     their own Cache-Control (segments immutable)
#   /live/*.m3u8    → the live hosts' ALB; cache key = path + _HLS_msn,
#   /live/*.mpd       _HLS_part, _HLS_skip only (a blocking reload is its
#                     own object; any other query string is dropped)
#   /live/*         → the ALB; init/parts/segments, long TTLs (immutable)
#   default         → the ALB, not cached (/time for DASH UTCTiming, the
#                     dashboard)
# Every request to the ALB carries the origin secret header that nginx's
# `cirrus_origin_secret` directive checks; Origin Shield collapses the
# edges' requests into one per object before they reach an origin.

locals {
  s3_origin        = "s3-outputs"
  s3_failover      = "s3-outputs-replica"
  vod_origin_group = "vod-group"
  live_origin      = "live-alb"
  failover         = var.outputs_replica_bucket != ""
  vod_target       = local.failover ? local.vod_origin_group : local.s3_origin

  # AWS managed policies.
  caching_disabled_policy = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad" # Managed-CachingDisabled
  all_viewer_except_host  = "b689b0a8-53d0-40ab-baf2-68738e2966ac" # Managed-AllViewerExceptHostHeader
}

resource "aws_cloudfront_origin_access_control" "outputs" {
  name                              = "${var.name}-outputs"
  description                       = "CloudFront reads the outputs bucket"
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

# Live playlists and MPDs: the key is the path and exactly the three LL-HLS
# query parameters.  TTLs come from the origin's Cache-Control (a fraction
# of a part for playlists); min 0 so CloudFront never caches longer.
resource "aws_cloudfront_cache_policy" "live_playlist" {
  name        = "${var.name}-live-playlist"
  comment     = "LL-HLS: keyed by _HLS_msn, _HLS_part, _HLS_skip only"
  min_ttl     = 0
  default_ttl = 1
  max_ttl     = 60

  parameters_in_cache_key_and_forwarded_to_origin {
    enable_accept_encoding_gzip   = true
    enable_accept_encoding_brotli = true

    query_strings_config {
      query_string_behavior = "whitelist"
      query_strings {
        items = ["_HLS_msn", "_HLS_part", "_HLS_skip"]
      }
    }
    headers_config {
      header_behavior = "none"
    }
    cookies_config {
      cookie_behavior = "none"
    }
  }
}

# Segments, parts and init segments (live and VOD), VOD manifests: no query
# string, no headers; long TTLs, capped by the object's own Cache-Control.
resource "aws_cloudfront_cache_policy" "segments" {
  name        = "${var.name}-segments"
  comment     = "Immutable media: path only, long TTL"
  min_ttl     = 0
  default_ttl = 86400
  max_ttl     = 31536000

  parameters_in_cache_key_and_forwarded_to_origin {
    enable_accept_encoding_gzip   = true
    enable_accept_encoding_brotli = true

    query_strings_config {
      query_string_behavior = "none"
    }
    headers_config {
      header_behavior = "none"
    }
    cookies_config {
      cookie_behavior = "none"
    }
  }
}

resource "aws_cloudfront_response_headers_policy" "cors" {
  name    = "${var.name}-cors"
  comment = "CORS for players on other origins"

  cors_config {
    access_control_allow_credentials = false
    access_control_max_age_sec       = 86400
    origin_override                  = false # keep the origin's own CORS headers

    access_control_allow_headers {
      items = ["*"]
    }
    access_control_allow_methods {
      items = ["GET", "HEAD", "OPTIONS"]
    }
    access_control_allow_origins {
      items = var.cors_allowed_origins
    }
    access_control_expose_headers {
      items = ["Content-Length", "Content-Range", "Date"]
    }
  }
}

resource "aws_cloudfront_distribution" "this" {
  enabled         = true
  comment         = "${var.name}: VOD from S3, live from the origin hosts"
  is_ipv6_enabled = true
  http_version    = "http2and3"
  price_class     = var.price_class

  origin {
    origin_id                = local.s3_origin
    domain_name              = var.outputs_bucket_regional_domain
    origin_access_control_id = aws_cloudfront_origin_access_control.outputs.id

    origin_shield {
      enabled              = true
      origin_shield_region = var.origin_shield_region
    }
  }

  dynamic "origin" {
    for_each = local.failover ? [1] : []
    content {
      origin_id                = local.s3_failover
      domain_name              = data.aws_s3_bucket.replica[0].bucket_regional_domain_name
      origin_access_control_id = aws_cloudfront_origin_access_control.outputs.id
    }
  }

  dynamic "origin_group" {
    for_each = local.failover ? [1] : []
    content {
      origin_id = local.vod_origin_group
      failover_criteria {
        status_codes = [403, 500, 502, 503, 504]
      }
      member {
        origin_id = local.s3_origin
      }
      member {
        origin_id = local.s3_failover
      }
    }
  }

  origin {
    origin_id   = local.live_origin
    domain_name = var.live_origin_domain_name

    custom_header {
      name  = var.origin_secret_header
      value = var.origin_secret
    }

    custom_origin_config {
      http_port                = 80
      https_port               = 443
      origin_protocol_policy   = "http-only" # see README: HTTPS needs a certificate on the ALB
      origin_ssl_protocols     = ["TLSv1.2"]
      origin_read_timeout      = 30 # > cirrus_block_timeout (10 s)
      origin_keepalive_timeout = 60
    }

    origin_shield {
      enabled              = true
      origin_shield_region = var.origin_shield_region
    }
  }

  default_cache_behavior {
    target_origin_id           = local.live_origin
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD", "OPTIONS"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = local.caching_disabled_policy
    origin_request_policy_id   = local.all_viewer_except_host
    response_headers_policy_id = aws_cloudfront_response_headers_policy.cors.id
  }

  ordered_cache_behavior {
    path_pattern               = "/vod/*"
    target_origin_id           = local.vod_target
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD", "OPTIONS"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = aws_cloudfront_cache_policy.segments.id
    response_headers_policy_id = aws_cloudfront_response_headers_policy.cors.id
  }

  ordered_cache_behavior {
    path_pattern               = "/live/*.m3u8"
    target_origin_id           = local.live_origin
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD", "OPTIONS"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = aws_cloudfront_cache_policy.live_playlist.id
    response_headers_policy_id = aws_cloudfront_response_headers_policy.cors.id
  }

  ordered_cache_behavior {
    path_pattern               = "/live/*.mpd"
    target_origin_id           = local.live_origin
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD", "OPTIONS"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = aws_cloudfront_cache_policy.live_playlist.id
    response_headers_policy_id = aws_cloudfront_response_headers_policy.cors.id
  }

  ordered_cache_behavior {
    path_pattern               = "/live/*"
    target_origin_id           = local.live_origin
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD", "OPTIONS"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = false # CMAF media does not compress
    cache_policy_id            = aws_cloudfront_cache_policy.segments.id
    response_headers_policy_id = aws_cloudfront_response_headers_policy.cors.id
  }

  # Errors are cached about a second: a 404 for a part that is about to
  # exist, or a 503 at the blocking limit, must not stick.
  dynamic "custom_error_response" {
    for_each = [400, 403, 404, 405, 500, 502, 503, 504]
    content {
      error_code            = custom_error_response.value
      error_caching_min_ttl = var.error_caching_min_ttl
    }
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    cloudfront_default_certificate = true
  }
}

# The replica (S3 replication's destination, in its own region): its
# regional domain is the failover origin and its policy is written below.
data "aws_s3_bucket" "replica" {
  count    = local.failover ? 1 : 0
  provider = aws.replica
  bucket   = var.outputs_replica_bucket
}

locals {
  # the buckets /vod/* reads through OAC: the outputs bucket and its replica
  vod_buckets = merge(
    { outputs = var.outputs_bucket_arn },
    local.failover ? { replica = data.aws_s3_bucket.replica[0].arn } : {},
  )
}

# Each is readable by this distribution only (OAC, the distribution's ARN
# as aws:SourceArn), and only over TLS.  Without the replica's grant, the
# origin group's failover would get 403 from the replica too.
data "aws_iam_policy_document" "vod_bucket" {
  for_each = local.vod_buckets
  statement {
    sid       = "CloudFrontReads"
    actions   = ["s3:GetObject"]
    resources = ["${each.value}/*"]
    principals {
      type        = "Service"
      identifiers = ["cloudfront.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "AWS:SourceArn"
      values   = [aws_cloudfront_distribution.this.arn]
    }
  }
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      each.value,
      "${each.value}/*",
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

resource "aws_s3_bucket_policy" "outputs" {
  bucket = var.outputs_bucket_id
  policy = data.aws_iam_policy_document.vod_bucket["outputs"].json
}

# The replica's whole policy: Terraform owns it (statements added by hand
# are replaced on the next apply).
resource "aws_s3_bucket_policy" "replica" {
  count    = local.failover ? 1 : 0
  provider = aws.replica
  bucket   = data.aws_s3_bucket.replica[0].id
  policy   = data.aws_iam_policy_document.vod_bucket["replica"].json
}
