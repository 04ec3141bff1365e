"""The pipeline's configuration: one typed, validated object.

Every value has the original design's setting as its default, so
``PipelineConfig()`` describes exactly the tutorial's stack. Invalid values are
rejected when the object is built, before any cdktf or jsii code runs, with a
:class:`ConfigError` that names the field and the rule it broke.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

# --- naming rules AWS enforces (documented service quotas) --------------------------------
_NAME_RULES: dict[str, tuple[re.Pattern[str], int, str]] = {
    "dynamodb table": (re.compile(r"^[A-Za-z0-9_.-]{3,255}$"), 255, "3-255 characters of A-Z a-z 0-9 _ . -"),
    "sns topic": (re.compile(r"^[A-Za-z0-9_-]{1,256}$"), 256, "1-256 characters of A-Z a-z 0-9 _ -"),
    # The sqs module names the dead-letter queue "<name>-dlq", so 4 characters are reserved.
    "sqs queue": (re.compile(r"^[A-Za-z0-9_-]{1,76}$"), 76, "1-76 characters of A-Z a-z 0-9 _ - (80 minus the '-dlq' suffix)"),
    "lambda function": (re.compile(r"^[A-Za-z0-9_-]{1,64}$"), 64, "1-64 characters of A-Z a-z 0-9 _ -"),
}

_REGION = re.compile(
    r"^(us|eu|ap|sa|ca|me|af|il|mx)(-gov|-iso|-isob)?-"
    r"(north|south|east|west|central|northeast|southeast|northwest|southwest)-[1-9]$"
)
_FUNCTION_DIR = re.compile(r"^[a-z][a-z0-9_]*$")
_STACK = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,62}$")


class ConfigError(ValueError):
    """Invalid pipeline configuration. The message names each field and the rule it broke."""


def _check_name(kind: str, value: str) -> str:
    pattern, _limit, rule = _NAME_RULES[kind]
    if not pattern.fullmatch(value):
        raise ValueError(f"{value!r} is not a valid {kind} name: use {rule}")
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


Seconds = Annotated[int, Field(ge=1, le=900, description="Lambda timeout in seconds (1-900)")]
Memory = Annotated[int, Field(ge=128, le=10240, description="Lambda memory in MB (128-10240)")]


class FunctionConfig(_Model):
    """Size and limits of one Lambda function."""

    timeout: Seconds = 3
    memory_size: Memory = 128
    reserved_concurrency: Annotated[int, Field(ge=-1, le=10000)] = -1
    log_retention_days: Literal[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] = 14


class SubscriberConfig(_Model):
    """One queue subscribed to the topic, with its consumer function."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,30}$")] = "main"
    queue_name: str = "data-processing-queue"
    function_name: str = "sqs-message-consumer"
    code: str = "consumer"
    batch_size: Annotated[int, Field(ge=1, le=10000)] = 10
    maximum_batching_window_seconds: Annotated[int, Field(ge=0, le=300)] = 0
    visibility_timeout_seconds: Annotated[int, Field(ge=0, le=43200)] = 30
    message_retention_seconds: Annotated[int, Field(ge=60, le=1209600)] = 345600
    max_receive_count: Annotated[int, Field(ge=1, le=1000)] = 5
    idempotency_ttl_seconds: Annotated[int, Field(ge=60, le=31536000)] = 3600
    raw_message_delivery: bool = False
    filter_policy: dict[str, Any] | None = None
    filter_policy_scope: Literal["MessageAttributes", "MessageBody"] = "MessageAttributes"
    function: FunctionConfig = FunctionConfig()

    _queue = field_validator("queue_name")(lambda v: _check_name("sqs queue", v))
    _function = field_validator("function_name")(lambda v: _check_name("lambda function", v))

    @field_validator("code")
    @classmethod
    def _code_dir(cls, value: str) -> str:
        if not _FUNCTION_DIR.fullmatch(value):
            raise ValueError(f"{value!r} must be a folder name under functions/ (lower case, digits, _)")
        return value

    @property
    def dlq_name(self) -> str:
        """The sqs module names the dead-letter queue ``<queue_name>-dlq``."""
        return f"{self.queue_name}-dlq"

    @property
    def idempotency_table_name(self) -> str:
        return f"{self.function_name}-idempotency"

    @model_validator(mode="after")
    def _sqs_rules(self) -> "SubscriberConfig":
        if self.batch_size > 10 and self.maximum_batching_window_seconds < 1:
            raise ValueError(
                f"batch_size {self.batch_size} is above 10: SQS event source mappings allow 1-10 "
                "unless maximum_batching_window_seconds is at least 1 (then up to 10000)"
            )
        needed = 6 * self.function.timeout
        if self.visibility_timeout_seconds < needed:
            raise ValueError(
                f"visibility_timeout_seconds ({self.visibility_timeout_seconds}) must be at least 6x the "
                f"consumer timeout ({self.function.timeout} s), i.e. >= {needed}, so a message is not "
                "redelivered while a consumer still works on it"
            )
        return self


class StreamConfig(_Model):
    """How the producer reads the table's stream."""

    starting_position: Literal["TRIM_HORIZON", "LATEST"] = "TRIM_HORIZON"
    batch_size: Annotated[int, Field(ge=1, le=10000)] = 100
    maximum_batching_window_seconds: Annotated[int, Field(ge=0, le=300)] = 0
    maximum_retry_attempts: Annotated[int, Field(ge=0, le=10000)] = 10
    maximum_record_age_seconds: Annotated[int, Field(ge=60, le=604800)] = 86400
    parallelization_factor: Annotated[int, Field(ge=1, le=10)] = 1


class PipelineConfig(_Model):
    """Everything one environment of the pipeline needs. Defaults = the original design."""

    environment: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,15}$")] = "production"
    stack_name: str = "event-driven-pipeline"
    region: str = "us-east-1"
    tags: dict[str, str] = Field(
        default_factory=lambda: {"Environment": "Production", "Project": "EventDrivenArchitecture"}
    )
    table_name: str = "application-data-table"
    topic_name: str = "data-processing-topic"
    producer_function_name: str = "dynamodb-stream-producer"
    #: Stream records that still fail after the retries land here (on-failure destination).
    stream_failure_queue_name: str = "dynamodb-stream-producer-failures"
    runtime: Literal["python3.12"] = "python3.12"
    producer: FunctionConfig = FunctionConfig()
    stream: StreamConfig = StreamConfig()
    subscribers: list[SubscriberConfig] = Field(default_factory=lambda: [SubscriberConfig()], min_length=1, max_length=50)

    _table = field_validator("table_name")(lambda v: _check_name("dynamodb table", v))
    _topic = field_validator("topic_name")(lambda v: _check_name("sns topic", v))
    _producer = field_validator("producer_function_name")(lambda v: _check_name("lambda function", v))
    _failures = field_validator("stream_failure_queue_name")(lambda v: _check_name("sqs queue", v))

    @field_validator("stack_name")
    @classmethod
    def _stack(cls, value: str) -> str:
        if not _STACK.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid stack name: start with a letter, then letters, digits or -, at most 63")
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if not _REGION.fullmatch(value):
            raise ValueError(f"{value!r} is not an AWS region name (expected something like us-east-1 or eu-west-2)")
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > 50:
            raise ValueError(f"{len(value)} tags given: AWS allows at most 50 per resource")
        for key, tag in value.items():
            if not 1 <= len(key) <= 128 or key.lower().startswith("aws:"):
                raise ValueError(f"tag key {key!r} must be 1-128 characters and must not start with 'aws:'")
            if len(tag) > 256:
                raise ValueError(f"tag {key!r}: value longer than 256 characters")
        return value

    @model_validator(mode="after")
    def _unique(self) -> "PipelineConfig":
        _unique_or_raise("subscribers[].name", [s.name for s in self.subscribers])
        _unique_or_raise("subscribers[].queue_name", [s.queue_name for s in self.subscribers])
        _unique_or_raise(
            "function names (producer_function_name, subscribers[].function_name)",
            [self.producer_function_name, *(s.function_name for s in self.subscribers)],
        )
        return self

    def aws_names(self) -> list[str]:
        """Every AWS resource name this environment creates (used to detect collisions)."""
        names = [self.table_name, self.topic_name, self.producer_function_name, self.stream_failure_queue_name]
        for sub in self.subscribers:
            names += [sub.queue_name, sub.dlq_name, sub.function_name, sub.idempotency_table_name]
        return names


def _unique_or_raise(field: str, values: list[str]) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{field}: {value!r} is used twice; each must be unique")
        seen.add(value)


# --- construction with readable errors ------------------------------------------------------

def _describe(error: ValidationError, prefix: str = "") -> str:
    lines = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown field (check the spelling; see README 'Configuration')"
        lines.append(f"  {prefix}{where}: {message}")
    return "invalid pipeline configuration:\n" + "\n".join(lines)


def build_config(data: dict[str, Any] | None = None, /, **overrides: Any) -> PipelineConfig:
    """Build a validated :class:`PipelineConfig`, raising :class:`ConfigError` on bad input."""
    values = {**(data or {}), **overrides}
    try:
        return PipelineConfig(**values)
    except ValidationError as error:
        raise ConfigError(_describe(error)) from None
