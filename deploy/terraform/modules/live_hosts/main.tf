# The live hosts: cirrus-ingest and nginx with ngx_http_cirrus_module on the
# SAME host, in one auto-scaling group.
#
# Why co-located: a stream's live store (parts, segments, index) is a local
# directory written by the ingest that receives the publisher, and the
# module wakes blocked LL-HLS requests with inotify on that directory —
# which only works on a local filesystem (EFS/NFS would give no events and
# add a network hop per part).  So the origin must run where the stream is.
#
# Routing:
#   - RTMP: an NLB (TCP 1935) spreads publishers across hosts by flow hash;
#     a publisher stays on its host for the life of its TCP connection.  If
#     it reconnects elsewhere (host lost), the stream restarts there.
#   - HTTP: CloudFront → ALB → any host's nginx (port 8080).  nginx serves
#     the stream when its directory exists locally; otherwise it asks its
#     peers (port 8081, same config without the fallback, so no loops) with
#     proxy_next_upstream on 404 until the host that has it answers.  The
#     peer list is the ASG's running instances, refreshed every 30 s by a
#     timer on each host (cirrus-peers).  With CloudFront's Origin Shield in
#     front, one playlist/part request per edge region reaches the ALB, so
#     the extra hop is paid once per object, not per viewer.
#   - Alternatives rejected: ALB stickiness (CloudFront's requests carry no
#     viewer affinity), one NLB port per host (publishers must know hosts),
#     a shared store on EFS (no inotify, NFS latency per part).
#
# Health: the ASG uses both target groups' checks (ALB: nginx /healthz;
# NLB: cirrus-ingest's status port), so a host whose ingest or origin dies
# is replaced.  Scale-in or replacement ends the streams on that host:
# encoders reconnect through the NLB to another host (the playlist there
# starts a new stream), which is why the CPU target tracking only scales
# out: scale-in is left to an operator (set desired capacity) at a quiet time.

locals {
  asg_name     = "${var.name}-live"
  http_port    = 8080 # ALB → nginx (origin secret checked)
  peer_port    = 8081 # host ↔ host, local store only
  status_port  = 8082 # cirrus-ingest /streams, /metrics (NLB health check)
  rtmp_port    = 1935
  secret_param = "/${var.name}/origin-secret"
}

data "aws_vpc" "this" {
  id = var.vpc_id
}

data "aws_ec2_managed_prefix_list" "cloudfront" {
  name = "com.amazonaws.global.cloudfront.origin-facing"
}

data "aws_ssm_parameter" "al2023" {
  name = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
}

resource "aws_ssm_parameter" "origin_secret" {
  name        = local.secret_param
  description = "CloudFront → origin shared secret (${var.origin_secret_header})"
  type        = "SecureString"
  value       = var.origin_secret
}

resource "aws_cloudwatch_log_group" "live" {
  name              = "/${var.name}/live"
  retention_in_days = var.log_retention_days
}

# ---------------------------------------------------------------- security groups

resource "aws_security_group" "alb" {
  name        = "${var.name}-live-alb"
  description = "Live HTTP origin: CloudFront only"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "alb_cloudfront" {
  security_group_id = aws_security_group.alb.id
  description       = "CloudFront origin-facing addresses"
  prefix_list_id    = data.aws_ec2_managed_prefix_list.cloudfront.id
  from_port         = 80
  to_port           = 80
  ip_protocol       = "tcp"
}

resource "aws_vpc_security_group_egress_rule" "alb_hosts" {
  security_group_id            = aws_security_group.alb.id
  referenced_security_group_id = aws_security_group.hosts.id
  from_port                    = local.http_port
  to_port                      = local.http_port
  ip_protocol                  = "tcp"
}

resource "aws_security_group" "nlb" {
  name        = "${var.name}-live-nlb"
  description = "RTMP publishers"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "nlb_rtmp" {
  for_each          = toset(var.rtmp_allowed_cidrs)
  security_group_id = aws_security_group.nlb.id
  cidr_ipv4         = each.value
  from_port         = local.rtmp_port
  to_port           = local.rtmp_port
  ip_protocol       = "tcp"
}

resource "aws_vpc_security_group_egress_rule" "nlb_hosts" {
  for_each                     = toset([tostring(local.rtmp_port), tostring(local.status_port)])
  security_group_id            = aws_security_group.nlb.id
  referenced_security_group_id = aws_security_group.hosts.id
  from_port                    = tonumber(each.value)
  to_port                      = tonumber(each.value)
  ip_protocol                  = "tcp"
}

resource "aws_security_group" "hosts" {
  name        = "${var.name}-live-hosts"
  description = "Live hosts: RTMP and health from the NLB, HTTP from the ALB, peers"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "hosts_from_nlb" {
  for_each                     = toset([tostring(local.rtmp_port), tostring(local.status_port)])
  security_group_id            = aws_security_group.hosts.id
  referenced_security_group_id = aws_security_group.nlb.id
  from_port                    = tonumber(each.value)
  to_port                      = tonumber(each.value)
  ip_protocol                  = "tcp"
}

resource "aws_vpc_security_group_ingress_rule" "hosts_from_alb" {
  security_group_id            = aws_security_group.hosts.id
  referenced_security_group_id = aws_security_group.alb.id
  from_port                    = local.http_port
  to_port                      = local.http_port
  ip_protocol                  = "tcp"
}

resource "aws_vpc_security_group_ingress_rule" "hosts_peers" {
  security_group_id            = aws_security_group.hosts.id
  referenced_security_group_id = aws_security_group.hosts.id
  from_port                    = local.peer_port
  to_port                      = local.peer_port
  ip_protocol                  = "tcp"
}

resource "aws_vpc_security_group_ingress_rule" "hosts_metrics" {
  security_group_id = aws_security_group.hosts.id
  description       = "Prometheus: ingest status/metrics and nginx /metrics (peer port)"
  cidr_ipv4         = data.aws_vpc.this.cidr_block
  from_port         = local.peer_port
  to_port           = local.status_port
  ip_protocol       = "tcp"
}

resource "aws_vpc_security_group_egress_rule" "hosts_all" {
  security_group_id = aws_security_group.hosts.id
  description       = "ECR, SSM, logs, peers, on_publish callbacks"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "-1"
}

# ---------------------------------------------------------------- load balancers

resource "aws_lb" "rtmp" {
  name                             = "${var.name}-rtmp"
  load_balancer_type               = "network"
  internal                         = false
  subnets                          = var.public_subnet_ids
  security_groups                  = [aws_security_group.nlb.id]
  enable_cross_zone_load_balancing = true
}

resource "aws_lb_target_group" "rtmp" {
  name                 = "${var.name}-rtmp"
  port                 = local.rtmp_port
  protocol             = "TCP"
  vpc_id               = var.vpc_id
  target_type          = "instance"
  deregistration_delay = 30
  # Publishers are long-lived: a deregistered host's streams are cut so
  # encoders reconnect (to a healthy host) instead of hanging.
  connection_termination = true

  health_check {
    protocol            = "HTTP"
    port                = tostring(local.status_port)
    path                = "/streams"
    interval            = 10
    healthy_threshold   = 2
    unhealthy_threshold = 2
  }
}

resource "aws_lb_listener" "rtmp" {
  load_balancer_arn = aws_lb.rtmp.arn
  port              = local.rtmp_port
  protocol          = "TCP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.rtmp.arn
  }
}

resource "aws_lb" "http" {
  name               = "${var.name}-live-http"
  load_balancer_type = "application"
  internal           = false # CloudFront reaches it; the SG admits CloudFront only
  subnets            = var.public_subnet_ids
  security_groups    = [aws_security_group.alb.id]
  # Longer than a blocked playlist request (cirrus_block_timeout 10 s).
  idle_timeout               = 60
  drop_invalid_header_fields = true
}

resource "aws_lb_target_group" "http" {
  name                 = "${var.name}-live-http"
  port                 = local.http_port
  protocol             = "HTTP"
  vpc_id               = var.vpc_id
  target_type          = "instance"
  deregistration_delay = 15

  health_check {
    path                = "/healthz"
    port                = tostring(local.http_port)
    matcher             = "200"
    interval            = 10
    healthy_threshold   = 2
    unhealthy_threshold = 2
  }
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.http.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.http.arn
  }
}

# ---------------------------------------------------------------- IAM

data "aws_iam_policy_document" "ec2_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "host" {
  name               = "${var.name}-live-host"
  assume_role_policy = data.aws_iam_policy_document.ec2_assume.json
}

resource "aws_iam_role_policy_attachment" "ssm_core" {
  role       = aws_iam_role.host.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

data "aws_iam_policy_document" "host" {
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }
  statement {
    sid       = "EcrPull"
    actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
    resources = [var.ecr_repository_arn]
  }
  statement {
    sid     = "ReadSecrets"
    actions = ["ssm:GetParameter"]
    resources = compact([
      aws_ssm_parameter.origin_secret.arn,
      var.stream_keys_parameter != "" ? "arn:aws:ssm:${var.region}:${data.aws_caller_identity.current.account_id}:parameter/${trimprefix(var.stream_keys_parameter, "/")}" : "",
    ])
  }
  statement {
    sid       = "FindPeers"
    actions   = ["ec2:DescribeInstances"] # no resource-level permissions
    resources = ["*"]
  }
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.live.arn}:*"]
  }
}

data "aws_caller_identity" "current" {}

resource "aws_iam_role_policy" "host" {
  name   = "live-host"
  role   = aws_iam_role.host.id
  policy = data.aws_iam_policy_document.host.json
}

resource "aws_iam_instance_profile" "host" {
  name = "${var.name}-live-host"
  role = aws_iam_role.host.name
}

# ---------------------------------------------------------------- hosts

resource "aws_launch_template" "live" {
  name_prefix            = "${var.name}-live-"
  image_id               = data.aws_ssm_parameter.al2023.value
  instance_type          = var.instance_type
  vpc_security_group_ids = [aws_security_group.hosts.id]
  update_default_version = true

  iam_instance_profile {
    arn = aws_iam_instance_profile.host.arn
  }

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required" # IMDSv2 only
    http_put_response_hop_limit = 2
  }

  monitoring {
    enabled = true
  }

  user_data = base64encode(templatefile("${path.module}/user_data.sh.tftpl", {
    region                = var.region
    image                 = var.image
    registry              = split("/", var.image)[0]
    asg_name              = local.asg_name
    secret_param          = local.secret_param
    secret_header         = var.origin_secret_header
    stream_keys_parameter = var.stream_keys_parameter
    live_preset           = var.live_preset
    log_group             = aws_cloudwatch_log_group.live.name
    http_port             = local.http_port
    peer_port             = local.peer_port
    status_port           = local.status_port
    worker_api            = var.worker_api
  }))

  tag_specifications {
    resource_type = "instance"
    tags          = { Name = "${var.name}-live", Role = "cirrus-live" }
  }
}

resource "aws_autoscaling_group" "live" {
  name                      = local.asg_name
  min_size                  = var.min_hosts
  max_size                  = var.max_hosts
  desired_capacity          = var.desired_hosts
  vpc_zone_identifier       = var.private_subnet_ids
  health_check_type         = "ELB"
  health_check_grace_period = 180
  default_instance_warmup   = 120
  target_group_arns         = [aws_lb_target_group.rtmp.arn, aws_lb_target_group.http.arn]

  launch_template {
    id      = aws_launch_template.live.id
    version = aws_launch_template.live.latest_version
  }

  instance_refresh {
    strategy = "Rolling"
    preferences {
      min_healthy_percentage = 50
    }
  }

  lifecycle {
    ignore_changes = [desired_capacity]
  }
}

resource "aws_autoscaling_policy" "cpu" {
  name                   = "${var.name}-live-cpu"
  autoscaling_group_name = aws_autoscaling_group.live.name
  policy_type            = "TargetTrackingScaling"

  target_tracking_configuration {
    predefined_metric_specification {
      predefined_metric_type = "ASGAverageCPUUtilization"
    }
    target_value = var.cpu_target_percent
    # Scale-in cuts the streams of the host that goes: leave it to people.
    disable_scale_in = true
  }
}
