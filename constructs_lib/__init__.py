"""cdktf constructs for the DynamoDB stream -> SNS -> SQS -> Lambda pipeline."""

from .config import ConfigError, PipelineConfig, SubscriberConfig, build_config

__all__ = ["ConfigError", "PipelineConfig", "SubscriberConfig", "build_config"]
