"""One Terraform stack per environment: provider, version constraints, pipeline, outputs."""

from __future__ import annotations

from constructs import Construct

from . import modules
from .aws import AwsProvider, AwsProviderDefaultTags
from .cdk import LocalBackend, TerraformOutput, TerraformStack, s3_backend
from pipeline_model.config import PipelineConfig
from pipeline_model.config.backend import state_key

from .pipeline import EventPipeline
from .subscriber import Subscriber


def aws_provider(stack: TerraformStack, region: str, tags: dict[str, str] | None = None,
                 profile: str = modules.DEFAULT_PROFILE) -> AwsProvider:
    """The AWS provider of ``stack``, with the Terraform and hashicorp/aws constraints of stack
    profile ``profile`` (``tutorial``: ``~> 5.0``; ``current``: ``>= 6.28, < 7``), which the stack's
    constructs then build on (see :func:`constructs_lib.modules.stack_profile`)."""
    chosen = modules.stack_profile(stack, profile, by="aws_provider")
    provider = AwsProvider(
        stack,
        "aws",
        region=region,
        default_tags=[AwsProviderDefaultTags(tags=dict(tags))] if tags else None,
    )
    # The prebuilt provider pins the exact version it was generated from; write the profile's
    # constraints instead.
    stack.add_override("terraform.required_version", chosen.terraform_required_version)
    stack.add_override("terraform.required_providers.aws.source", chosen.aws_provider_source)
    stack.add_override("terraform.required_providers.aws.version", chosen.aws_provider_version)
    return provider


class PipelineStack(TerraformStack):
    def __init__(self, scope: Construct, config: PipelineConfig) -> None:
        super().__init__(scope, config.names.stack)
        self.config = config
        aws_provider(self, config.region, config.tags, profile=config.stack_profile)
        if config.backend is not None:
            b = config.backend
            # use_lockfile: S3 native locking; the DynamoDB lock is deprecated (Terraform 1.11,
            # OpenTofu 1.10). Both may be set while moving from one to the other.
            s3_backend(
                self,
                use_lockfile=b.use_lockfile,
                bucket=b.bucket,
                key=state_key(config),
                region=b.region or config.region,
                dynamodb_table=b.dynamodb_table,
                encrypt=b.encrypt,
            )
        else:
            # cdktf's default local backend writes an absolute path of this machine into the
            # JSON. This relative path (from cdktf.out/stacks/<stack>/, where terraform runs)
            # names the same file at the project root.
            LocalBackend(self, path=f"../../../terraform.{config.names.stack}.tfstate")
        self.pipeline = EventPipeline.from_config(self, "pipeline", config)

        p = self.pipeline
        outputs = {
            "table_name": p.table.table_name,
            "topic_arn": p.topic.topic_arn,
            "producer_function_name": p.producer.function_name,
        }
        if p.stream_failures is not None:
            outputs["stream_failure_queue_url"] = p.stream_failures.queue_url
        if p.failure_bucket is not None:
            outputs["stream_failure_bucket"] = p.failure_bucket.bucket_name
        if p.alarm_topic is not None:
            outputs["alarm_topic_arn"] = p.alarm_topic.topic_arn
        if p.dashboard is not None:
            outputs["dashboard_url"] = p.dashboard.url
        for name, value in outputs.items():
            TerraformOutput(self, name, value=value)
        # Every subscriber's, also of those added later with add_subscriber.
        p.on_subscriber(self._subscriber_outputs)

    def _subscriber_outputs(self, sub: Subscriber) -> None:
        name = sub.names.name
        TerraformOutput(self, f"queue_url_{name}", value=sub.queue.queue_url)
        TerraformOutput(self, f"dlq_url_{name}", value=sub.queue.dlq_url)
        TerraformOutput(self, f"delivery_dlq_url_{name}", value=sub.queue.delivery_dlq.queue_url)
        TerraformOutput(self, f"consumer_function_name_{name}", value=sub.function.function_name)
