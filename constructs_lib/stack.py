"""One Terraform stack per environment: provider, version constraints, pipeline, outputs."""

from __future__ import annotations

from cdktf import TerraformOutput, TerraformStack
from constructs import Construct

from . import modules
from .aws import AwsProvider, AwsProviderDefaultTags
from .config import PipelineConfig
from .pipeline import EventPipeline


class PipelineStack(TerraformStack):
    def __init__(self, scope: Construct, config: PipelineConfig) -> None:
        super().__init__(scope, config.stack_name)
        self.config = config
        AwsProvider(
            self,
            "aws",
            region=config.region,
            default_tags=[AwsProviderDefaultTags(tags=dict(config.tags))],
        )
        # The prebuilt provider pins the exact version it was generated from; keep the
        # original design's constraints instead.
        self.add_override("terraform.required_version", modules.TERRAFORM_REQUIRED_VERSION)
        self.add_override("terraform.required_providers.aws.version", modules.AWS_PROVIDER_VERSION)
        self.pipeline = EventPipeline(self, "pipeline", config=config)

        p = self.pipeline
        TerraformOutput(self, "table_name", value=p.table.table_name)
        TerraformOutput(self, "topic_arn", value=p.topic.topic_arn)
        TerraformOutput(self, "producer_function_name", value=p.producer.function_name)
        for sub in p.subscribers:
            TerraformOutput(self, f"queue_url_{sub.config.name}", value=sub.queue.queue_url)
            TerraformOutput(self, f"consumer_function_name_{sub.config.name}", value=sub.function.function_name)
