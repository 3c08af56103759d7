output "nlb_dns_name" {
  description = "RTMP endpoint host."
  value       = aws_lb.rtmp.dns_name
}

output "alb_dns_name" {
  description = "HTTP origin for CloudFront's /live/*."
  value       = aws_lb.http.dns_name
}

output "alb_arn_suffix" {
  description = "ALB dimension for CloudWatch."
  value       = aws_lb.http.arn_suffix
}

output "nlb_arn_suffix" {
  description = "NLB dimension for CloudWatch."
  value       = aws_lb.rtmp.arn_suffix
}

output "rtmp_target_group_arn_suffix" {
  description = "RTMP target group dimension."
  value       = aws_lb_target_group.rtmp.arn_suffix
}

output "http_target_group_arn_suffix" {
  description = "HTTP target group dimension."
  value       = aws_lb_target_group.http.arn_suffix
}

output "asg_name" {
  description = "The live hosts' auto-scaling group."
  value       = aws_autoscaling_group.live.name
}

output "asg_arn" {
  description = "Its ARN."
  value       = aws_autoscaling_group.live.arn
}
