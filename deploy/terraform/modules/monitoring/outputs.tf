output "topic_arns" {
  description = "Alarm topics: regional and us-east-1 (CloudFront)."
  value       = [aws_sns_topic.alarms.arn, aws_sns_topic.alarms_us_east_1.arn]
}
