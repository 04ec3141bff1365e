"""The terraform-aws-modules this project uses: sources and versions, one place per stack profile.

The profiles are pure data and live in ``pipeline_model.stack_profiles`` (scripts and tests read them
without cdktf); this module re-exports them. The module-level names below are the default
(``tutorial``) profile's values, which the constructs use until they are handed a profile.
"""

from __future__ import annotations

from pipeline_model.stack_profiles import (  # noqa: F401  (re-exported)
    CURRENT,
    DEFAULT_PROFILE,
    PROFILES,
    TUTORIAL,
    ModuleSource,
    ProfileError,
    StackProfile,
    profile,
)

DYNAMODB_TABLE = TUTORIAL.dynamodb_table
SNS = TUTORIAL.sns
SQS = TUTORIAL.sqs
LAMBDA = TUTORIAL.lambda_

ALL = dict(TUTORIAL.modules)

# Provider and Terraform constraints written into the synthesized JSON. The pinned module
# majors need hashicorp/aws >= 5.98, which "~> 5.0" admits.
TERRAFORM_REQUIRED_VERSION = TUTORIAL.terraform_required_version
AWS_PROVIDER_SOURCE = TUTORIAL.aws_provider_source
AWS_PROVIDER_VERSION = TUTORIAL.aws_provider_version
