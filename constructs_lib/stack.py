"""One Terraform stack per environment: provider, version constraints, pipeline, outputs."""

from __future__ import annotations

from cdktf import LocalBackend, S3Backend, TerraformOutput, TerraformStack
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
        self.add_override("terraform.required_providers.aws.source", modules.AWS_PROVIDER_SOURCE)
        self.add_override("terraform.required_providers.aws.version", modules.AWS_PROVIDER_VERSION)
        if config.backend is not None:
            b = config.backend
            S3Backend(
                self,
                bucket=b.bucket,
                key=b.key,
                region=b.region or config.region,
                dynamodb_table=b.dynamodb_table,
                encrypt=b.encrypt,
            )
        else:
            # cdktf's default local backend writes an absolute path of this machine into the
            # JSON. This relative path (from cdktf.out/stacks/<stack>/, where terraform runs)
            # names the same file at the project root.
            LocalBackend(self, path=f"../../../terraform.{config.stack_name}.tfstate")
        self.pipeline = EventPipeline(self, "pipeline", config=config)

        p = self.pipeline
        TerraformOutput(self, "table_name", value=p.table.table_name)
        TerraformOutput(self, "topic_arn", value=p.topic.topic_arn)
        TerraformOutput(self, "producer_function_name", value=p.producer.function_name)
        for sub in p.subscribers:
            TerraformOutput(self, f"queue_url_{sub.config.name}", value=sub.queue.queue_url)
            TerraformOutput(self, f"consumer_function_name_{sub.config.name}", value=sub.function.function_name)
