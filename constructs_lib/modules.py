"""The terraform-aws-modules this project uses: the one place for sources and versions."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModuleSource:
    source: str
    version: str


DYNAMODB_TABLE = ModuleSource("terraform-aws-modules/dynamodb-table/aws", "~> 4.0")
SNS = ModuleSource("terraform-aws-modules/sns/aws", "~> 6.0")
SQS = ModuleSource("terraform-aws-modules/sqs/aws", "~> 4.0")
LAMBDA = ModuleSource("terraform-aws-modules/lambda/aws", "~> 7.0")

ALL = {"dynamodb_table": DYNAMODB_TABLE, "sns": SNS, "sqs": SQS, "lambda": LAMBDA}

# Provider and Terraform constraints written into the synthesized JSON. The pinned module
# majors need hashicorp/aws >= 5.98, which "~> 5.0" admits.
TERRAFORM_REQUIRED_VERSION = ">= 1.3.0"
AWS_PROVIDER_SOURCE = "hashicorp/aws"
AWS_PROVIDER_VERSION = "~> 5.0"

#: What each pinned module requires of hashicorp/aws (their versions.tf, newest tag in each major):
#: dynamodb-table 4.x and sns 6.x ">= 5.98", sqs 4.x ">= 4.36", lambda 7.x ">= 5.79".
TUTORIAL_AWS_REQUIREMENT = {
    "dynamodb-table": ">= 5.98",
    "sns": ">= 5.98",
    "sqs": ">= 4.36",
    "lambda": ">= 5.79",
}
