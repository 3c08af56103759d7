terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.60+: aws_batch_job_queue's compute_environment_order block
      version = "~> 5.60"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = merge({ Project = "cirrus", Stack = var.name }, var.tags)
  }
}

# CloudFront publishes its metrics in us-east-1 only, so the alarms on them
# (and the SNS topic they notify) live there.
provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"

  default_tags {
    tags = merge({ Project = "cirrus", Stack = var.name }, var.tags)
  }
}

# The replica of the outputs bucket (outputs_replica_bucket), whose policy
# the cdn module writes, may live in another region.
provider "aws" {
  alias  = "replica"
  region = var.outputs_replica_region != "" ? var.outputs_replica_region : var.region

  default_tags {
    tags = merge({ Project = "cirrus", Stack = var.name }, var.tags)
  }
}
