"""``EventPipelineProps``: everything one pipeline can be told, typed, frozen, each field with a
default and a description, and no fact about the environment (region, partition and account come
from the stack; backend and stack name are the app's).

``EventPipelineProps()`` is the original design: a complete, secure pipeline. The configuration
file's path to it is :func:`props_from_config`, the one function from config to props.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pipeline_model import defaults
from pipeline_model.config import (
    AlarmsConfig,
    DeliveryStatusLoggingConfig,
    PipelineConfig,
    ProducerConfig,
    SecurityConfig,
    StreamConfig,
    SubscriberConfig,
)
from pipeline_model.config.files import validation_problems
from pipeline_model.config.schema import raise_problems
from pipeline_model.errors import ConfigError
from pipeline_model.names import PipelineNames, settings_names
from pipeline_model.ordering import Ordering
from pipeline_model.stack_profiles import StackProfileName

#: The fields of PipelineConfig that describe the app, not a pipeline (never props).
APP_FIELDS = ("environment", "region", "backend", "stack_name", "tags", "name_suffix")


class EventPipelineProps(BaseModel):
    """What an :class:`~constructs_lib.EventPipeline` builds. Every field has a default; the
    defaults are the original design with this project's secure settings."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, use_attribute_docstrings=True,
                              arbitrary_types_allowed=True)

    name: str | None = None
    """The pipeline's name: its KMS key alias is alias/<name> and its dashboard <name>. None = "event-driven-pipeline"."""
    name_suffix: str = Field(default="", pattern=r"^[A-Za-z0-9_-]{0,16}$")
    """Appended to every AWS name the pipeline creates (before '.fifo'), e.g. "-dev"."""
    table_name: str | None = None
    """The source table (with its stream). None = "application-data-table"."""
    topic_name: str | None = None
    """The fan-out topic. None = "data-processing-topic" (+ ".fifo" with ordering "per-item")."""
    producer_function_name: str | None = None
    """The producer function (stream -> topic). None = "dynamodb-stream-producer"."""
    stream_failure_queue_name: str | None = None
    """Where stream records that still fail after the retries are kept. None = "dynamodb-stream-producer-failures"."""
    alarm_topic_name: str | None = None
    """The alarm topic. None = "data-processing-alarms"."""
    producer_code: str | Path = defaults.PRODUCER_CODE
    """The producer's code: "producer" (shipped) or a folder holding app.py (str or Path; a relative path is resolved against the folder of the app's entry file)."""
    runtime: str = defaults.RUNTIME
    """Lambda runtime of every function of the pipeline."""
    architecture: str = defaults.ARCHITECTURE
    """Lambda architecture of every function (and of the Powertools layer): x86_64 or arm64."""
    powertools_version: str = defaults.POWERTOOLS_VERSION
    """Powertools for AWS Lambda (Python) release the functions use."""
    powertools_layer: str = defaults.POWERTOOLS_LAYER
    """"ssm" (AWS's public layer, its ARN read from the public SSM parameter), a layer version ARN, or "none" (packaged into the zips)."""
    producer: ProducerConfig = ProducerConfig()
    """The producer's timeout, memory, concurrency, log retention, publish concurrency, and the item fields it sends as message attributes (docs/fanout.md)."""
    stream: StreamConfig = StreamConfig()
    """How the producer reads the table's stream."""
    subscribers: tuple[SubscriberConfig, ...] = (SubscriberConfig(),)
    """The topic's subscribers (queue -> consumer each); default: one named main."""
    ordering: Ordering = defaults.ORDERING
    """"none" (standard topic and queues) or "per-item" (FIFO topic and queues: each item's changes in order)."""
    security: SecurityConfig = SecurityConfig()
    """Encryption, TLS-only policies, point-in-time recovery, deletion protection (None = on: a pipeline built from props has no environment name to go by), tracing."""
    alarms: AlarmsConfig = AlarmsConfig()
    """CloudWatch alarms, published to the alarm topic."""
    dashboard: bool = defaults.DASHBOARD
    """Create a CloudWatch dashboard of the pipeline."""
    delivery_status_logging: DeliveryStatusLoggingConfig = DeliveryStatusLoggingConfig()
    """SNS delivery status logging of the topic's deliveries to the queues: a role SNS assumes for this topic only, two log groups with a retention, the success sample rate (docs/operations.md, 'Delivery status logging'). Off by default."""
    tags: dict[str, str] = Field(default_factory=dict)
    """Tags of every resource the pipeline creates (besides the provider's default_tags)."""
    stack_profile: StackProfileName | None = None
    """The module majors the pipeline is built on: "tutorial" (hashicorp/aws 5) or "current" (hashicorp/aws 6, subscriber queues of 1 MiB); None = the stack's (set by aws_provider(stack, region, profile=...), else "tutorial"). One profile per stack."""

    if not TYPE_CHECKING:  # type checkers see the fields' own signature
        def __init__(self, **data: Any) -> None:
            try:
                super().__init__(**data)
            except ValidationError as error:
                raise ConfigError(validation_problems(error, "props.")) from None

    @model_validator(mode="after")
    def _valid(self) -> "EventPipelineProps":
        # The pipeline's rules (names, ordering, limits) are the configuration's: checked by the
        # same model, with the same messages. The region's own rules wait for the stack's region
        # (EventPipeline): until then, a region the given ARNs agree with.
        try:
            settings_model(self, _region_of_arns(self))
        except ConfigError as error:
            raise_problems(error.problems)
        return self

    @property
    def names(self) -> PipelineNames:
        """Every AWS name the pipeline creates."""
        return settings_names(self, self.name)

    @property
    def fifo(self) -> bool:
        return self.ordering == "per-item"

    @property
    def deletion_protection(self) -> bool:
        """Table deletion protection: the explicit setting, else on."""
        explicit = self.security.deletion_protection
        return True if explicit is None else explicit


def settings_model(props: EventPipelineProps, region: str | None = None) -> PipelineConfig:
    """The configuration model checking ``props`` by the pipeline's rules (``region`` = the stack's,
    when known, for the region's own rules), raising :class:`ConfigError` whose problems name the
    props' fields."""
    data: dict[str, Any] = {
        name: getattr(props, name) for name in type(props).model_fields
        if name not in ("name", "tags") and not (name == "stack_profile" and props.stack_profile is None)
    }
    data.update(stack_name=props.name, subscribers=list(props.subscribers),
                security=props.security.model_copy(update={"deletion_protection": props.deletion_protection}))
    if region is not None:
        data["region"] = region
    try:
        return PipelineConfig(**data)
    except ValidationError as error:
        raise ConfigError(validation_problems(error)) from None


#: A region of each partition, for checking ARNs before the stack's region is known.
_PARTITION_REGION = {"aws": "us-east-1", "aws-cn": "cn-north-1", "aws-us-gov": "us-gov-west-1"}


def _region_of_arns(props: EventPipelineProps) -> str | None:
    layer = props.powertools_layer.split(":")
    if len(layer) > 4 and layer[0] == "arn":
        return layer[3]
    for arn in props.security.key_users:
        parts = arn.split(":")
        if len(parts) > 1 and parts[1] in _PARTITION_REGION:
            return _PARTITION_REGION[parts[1]]
    return None


def props_from_config(config: PipelineConfig) -> EventPipelineProps:
    """The one function from configuration to props: the pipeline's fields as the user gave them
    (names are computed from them, with the same name_suffix, by ``props.names``); the app's fields
    (environment, region, backend, stack) stay with the app. The configuration's tags tag every
    resource the pipeline creates."""
    return EventPipelineProps(
        name=config.stack_name, name_suffix=config.name_suffix, table_name=config.table_name,
        topic_name=config.topic_name, producer_function_name=config.producer_function_name,
        stream_failure_queue_name=config.stream_failure_queue_name, alarm_topic_name=config.alarm_topic_name,
        producer_code=config.producer_code, runtime=config.runtime, architecture=config.architecture,
        powertools_version=config.powertools_version, powertools_layer=config.powertools_layer,
        producer=config.producer, stream=config.stream, subscribers=tuple(config.subscribers),
        ordering=config.ordering,
        security=config.security.model_copy(update={"deletion_protection": config.deletion_protection}),
        alarms=config.alarms, dashboard=config.dashboard, delivery_status_logging=config.delivery_status_logging,
        tags=dict(config.tags),
        stack_profile=config.stack_profile,
    )
