terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.60"
      # the replica of the outputs bucket lives in its own region
      configuration_aliases = [aws.replica]
    }
  }
}
