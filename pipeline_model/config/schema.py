"""The typed configuration models. Every default is the original design's setting, so
``PipelineConfig()`` describes exactly the tutorial's stack; invalid values are rejected when
the object is built."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from .. import ordering as _ordering
from .filter_policy import check_filter_policy
from .naming import (
    _EMAIL,
    _LAYER_ARN,
    _REGION,
    _ROLE_ARN,
    _STACK,
    _TAG_TEXT,
    _check_name,
    _unique_or_raise,
    check_code,
    default_subscriber_names,
)


#: Powertools for AWS Lambda (Python) release the handlers are written and tested against
#: (the Pipfile pins the same version; a test keeps the two equal).
POWERTOOLS_VERSION = "3.37.0"


class _Model(BaseModel):
    # strict: no silent conversion (true is not 1, "10" is not 10, 3.0 is not 3).
    # Each field's docstring (the line below it) is its description (README's table is made from them).
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, strict=True,
                              use_attribute_docstrings=True)


Seconds = Annotated[int, Field(ge=1, le=900, description="Lambda timeout in seconds (1-900)")]
Memory = Annotated[int, Field(ge=128, le=10240, description="Lambda memory in MB (128-10240)")]


#: The retention periods CloudWatch Logs accepts, in days.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)


class FunctionConfig(_Model):
    """Size and limits of one Lambda function."""

    timeout: Seconds = 3
    """Timeout in seconds."""
    memory_size: Memory = 128
    """Memory in MB."""
    reserved_concurrency: Annotated[int, Field(ge=-1, le=10000)] = -1
    """Reserved concurrent executions; -1 = unreserved (the account's pool)."""
    log_retention_days: int = 14
    """Retention of the function's log group, in days (a value CloudWatch Logs accepts)."""

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        # A Literal of ints would take true for 1; a strict int and this set do not.
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(f"{value} is not a CloudWatch Logs retention; use one of {', '.join(map(str, LOG_RETENTION_DAYS))}")
        return value


#: PublishBatch requests the producer keeps in flight (functions/producer/app.py holds the same default and
#: maximum; a test keeps them equal). Default and range measured by `make bench` (docs/producer-throughput.md).
DEFAULT_PUBLISH_CONCURRENCY = 8
MAX_PUBLISH_CONCURRENCY = 16


class ProducerConfig(FunctionConfig):
    """The producer function: size and limits, and how it publishes."""

    publish_concurrency: Annotated[int, Field(ge=1, le=MAX_PUBLISH_CONCURRENCY)] = DEFAULT_PUBLISH_CONCURRENCY
    """PublishBatch requests in flight at once per invocation (1-16; 1 = one after another). FIFO topics: each item's changes still go one at a time, in stream order (see docs/producer-throughput.md)."""


class SubscriberConfig(_Model):
    """One queue subscribed to the topic, with its consumer function."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,30}$")] = "main"
    """The subscriber's name: lower case, digits, _; unique; names its logical ids and default AWS names."""
    queue_name: str = ""
    """Default: "data-processing-queue" for the subscriber named "main", else "<name>-queue"; 1-76 characters of A-Z a-z 0-9 _ - (the DLQ adds "-dlq"); unique; ends in '.fifo' exactly when ordering = "per-item" (the default name then gets it)."""
    function_name: str = ""
    """Default: "sqs-message-consumer" for the subscriber named "main", else "<name>-consumer"; 1-64 characters of A-Z a-z 0-9 _ -; unique."""
    code: str = "consumer"
    """The consumer's code: a handler shipped with the package ("consumer") or a folder path holding app.py, absolute or relative to the app's working directory."""
    batch_size: Annotated[int, Field(ge=1, le=10000)] = 10
    """Messages per consumer invocation: 1-10, or up to 10000 with maximum_batching_window_seconds >= 1; batch_size x 50 ms + 2,250 ms must fit the consumer timeout. With ordering = "per-item" (FIFO queues): 1-10 and no batching window."""
    maximum_batching_window_seconds: Annotated[int, Field(ge=0, le=300)] = 0
    """How long the trigger gathers messages before invoking; 0 = not at all."""
    visibility_timeout_seconds: Annotated[int, Field(ge=0, le=43200)] = 30
    """Queue visibility timeout: at least 6x the consumer timeout."""
    message_retention_seconds: Annotated[int, Field(ge=60, le=1209600)] = 345600
    """How long the queue keeps a message."""
    max_receive_count: Annotated[int, Field(ge=1, le=1000)] = 5
    """Receives before a message moves to the dead-letter queue."""
    idempotency_ttl_seconds: Annotated[int, Field(ge=60, le=31536000)] = 432000
    """How long a processed message is remembered. Must outlast every redelivery: a producer retry can republish a record up to the stream's maximum record age after it was written, and the copy can wait in the queue until its retention ends."""
    raw_message_delivery: bool = False
    """Deliver the published message without the SNS envelope."""
    filter_policy: dict[str, Any] | str | None = None
    """SNS subscription filter policy, as a table/object or a JSON string; checked by SNS's rules (see "Fan-out"): numeric ranges [">" or ">=", low, "<" or "<=", high] with low < high, numbers within +-1e9."""
    filter_policy_scope: Literal["MessageAttributes", "MessageBody"] = "MessageAttributes"
    """What the filter policy matches: message attributes or the message body."""
    function: FunctionConfig = FunctionConfig()
    """The consumer function's timeout, memory, concurrency and log retention."""

    _queue = field_validator("queue_name")(lambda v: _check_name("sqs queue", v))
    _function = field_validator("function_name")(lambda v: _check_name("lambda function", v))

    _code = field_validator("code")(lambda v: check_code(v))

    @model_validator(mode="before")
    @classmethod
    def _default_names(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            queue, function = default_subscriber_names(data.get("name", "main"))
            data["queue_name"] = data.get("queue_name") or queue
            data["function_name"] = data.get("function_name") or function
        return data

    @property
    def dlq_name(self) -> str:
        """The sqs module names the dead-letter queue ``<queue_name>-dlq`` (``<stem>-dlq.fifo`` for ``<stem>.fifo``)."""
        return _ordering.dlq_name(self.queue_name)

    @property
    def idempotency_table_name(self) -> str:
        return f"{self.function_name}-idempotency"

    @model_validator(mode="after")
    def _filter_policy(self) -> "SubscriberConfig":
        if self.filter_policy is not None:
            try:
                policy = check_filter_policy(self.filter_policy, self.filter_policy_scope)
            except ValueError as error:
                raise ValueError(f"filter_policy: {error}") from None
            object.__setattr__(self, "filter_policy", policy)
        return self

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

    @model_validator(mode="after")
    def _batch_fits_timeout(self) -> "SubscriberConfig":
        """The consumer must be able to finish a full batch before its timeout (README "Handlers")."""
        from ..contract import CONSUMER_DEADLINE_MARGIN_MS, CONSUMER_MESSAGE_BUDGET_MS, consumer_batch_ms

        needed = consumer_batch_ms(self.batch_size)
        if needed > self.function.timeout * 1000:
            fits = (self.function.timeout * 1000 - CONSUMER_DEADLINE_MARGIN_MS) // CONSUMER_MESSAGE_BUDGET_MS
            raise ValueError(
                f"batch_size: {self.batch_size} messages cannot finish within the consumer timeout of "
                f"{self.function.timeout} s: the rule is batch_size x {CONSUMER_MESSAGE_BUDGET_MS} ms + "
                f"{CONSUMER_DEADLINE_MARGIN_MS} ms <= function.timeout, here {needed} ms; "
                + (f"lower batch_size to {fits} or " if fits >= 1 else "")
                + f"raise function.timeout to {-(-needed // 1000)} s"
            )
        return self


class StreamConfig(_Model):
    """How the producer reads the table's stream."""

    starting_position: Literal["TRIM_HORIZON", "LATEST"] = "TRIM_HORIZON"
    """Where a new stream mapping starts: TRIM_HORIZON (so changes written before the mapping exists are not skipped) or LATEST."""
    batch_size: Annotated[int, Field(ge=1, le=10000)] = 100
    """Stream records per producer invocation."""
    maximum_batching_window_seconds: Annotated[int, Field(ge=0, le=300)] = 0
    """How long the stream mapping gathers records before invoking; 0 = not at all."""
    maximum_retry_attempts: Annotated[int, Field(ge=0, le=10000)] = 10
    """Retries of a failing batch before it goes to the stream failure queue."""
    maximum_record_age_seconds: Annotated[int, Field(ge=60, le=604800)] = 86400
    """Records older than this go to the stream failure queue instead of being retried."""
    parallelization_factor: Annotated[int, Field(ge=1, le=10)] = 1
    """Concurrent batches per stream shard."""
    bisect_batch_on_function_error: bool = True
    """Split a failing batch in two and retry each half, isolating a bad record."""


class S3BackendConfig(_Model):
    """Remote state in S3, locked by S3 itself (use_lockfile) and/or DynamoDB. Without it, state is local."""

    bucket: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")]
    """S3 bucket holding the state."""
    key: Annotated[str, Field(min_length=1, max_length=1024)] = "event-driven-pipeline/terraform.tfstate"
    """Object key of the state file."""
    region: str | None = None
    """The bucket's region; None = the environment's region."""
    dynamodb_table: Annotated[str | None, Field(pattern=r"^[A-Za-z0-9_.-]{3,255}$")] = None
    """DynamoDB lock table: deprecated in Terraform 1.11 and OpenTofu 1.10 (use_lockfile replaces it)."""
    use_lockfile: bool = False
    """S3 native state locking (a .tflock object next to the state; Terraform >= 1.10, OpenTofu >= 1.10)."""
    encrypt: bool = True
    """Encrypt the state object."""

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        # Terraform reads backend settings literally (no templates), so "$${" would not be an
        # escape there but part of the key: template syntax is refused instead.
        if "${" in value or "%{" in value or any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise ValueError(f"{value!r}: no control characters and no Terraform template syntax ('${{', '%{{')")
        return value

    @model_validator(mode="after")
    def _locked(self) -> S3BackendConfig:
        if not self.use_lockfile and self.dynamodb_table is None:
            raise ValueError(
                "use_lockfile: state must be locked: set use_lockfile = true (S3 native locking, "
                "Terraform/OpenTofu >= 1.10) or dynamodb_table (deprecated since Terraform 1.11 / OpenTofu 1.10)"
            )
        return self

    @field_validator("region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is not None and not _REGION.fullmatch(value):
            raise ValueError(f"{value!r} is not an AWS region name (expected something like us-east-1)")
        return value


class SecurityConfig(_Model):
    """Secure defaults; each can be turned off or tuned."""

    customer_managed_key: bool = True
    """One customer-managed KMS key (rotated yearly) for the topics and every queue."""
    key_deletion_window_days: Annotated[int, Field(ge=7, le=30)] = 30
    """Waiting period before a deleted key is gone (7-30 days)."""
    enforce_tls: bool = True
    """Topic and queue policies deny any request made without TLS."""
    point_in_time_recovery: bool = True
    """Point-in-time recovery of the table."""
    deletion_protection: bool | None = None
    """None = on for the environments "production"/"prod", off elsewhere."""
    tracing: bool = True
    """X-Ray active tracing on both functions."""
    key_users: list[str] = Field(default_factory=list, max_length=20)
    """IAM role ARNs allowed to use the messaging key directly (Decrypt, GenerateDataKey*). Not needed to read or write the queues and topics: any principal of the account may use the key through SQS and SNS, as its IAM permissions on the queue or topic allow."""

    @field_validator("key_users")
    @classmethod
    def _key_users(cls, value: list[str]) -> list[str]:
        for arn in value:
            if not _ROLE_ARN.fullmatch(arn):
                raise ValueError(
                    f"{arn!r} is not an IAM role ARN (arn:<partition>:iam::<12-digit account>:role/<path/>name)"
                )
        if len(set(value)) != len(value):
            raise ValueError("the same role is listed twice")
        return value


class AlarmsConfig(_Model):
    """CloudWatch alarms, published to an alarm topic."""

    enabled: bool = True
    """Create the alarms and the alarm topic."""
    email: str | None = None
    """Subscribe this address to the alarm topic (AWS sends a confirmation mail)."""
    queue_age_seconds: Annotated[int, Field(ge=60, le=1209600)] = 300
    """Oldest message in a subscriber queue, seconds."""
    iterator_age_ms: Annotated[int, Field(ge=1000, le=604800000)] = 60000
    """Stream iterator age of the producer, milliseconds."""
    period_seconds: Literal[60, 300, 900, 3600] = 300
    """Alarm period in seconds."""
    evaluation_periods: Annotated[int, Field(ge=1, le=100)] = 1
    """Periods an alarm's condition must hold before it fires."""

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.fullmatch(value):
            raise ValueError(f"{value!r} is not an e-mail address")
        return value


def suffixed_subscriber(sub: dict[str, Any], suffix: str) -> dict[str, Any]:
    """A subscriber's data with ``suffix`` on its queue and function names (the defaults when unset)."""
    sub = dict(sub)
    queue, function = default_subscriber_names(sub.get("name", "main"))
    sub["queue_name"] = _ordering.with_suffix(sub.get("queue_name") or queue, suffix)
    sub["function_name"] = f"{sub.get('function_name') or function}{suffix}"
    return sub


class PipelineConfig(_Model):
    """Everything one environment of the pipeline needs. Defaults = the original design."""

    environment: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,15}$")] = "production"
    """The environment's name (lower case, digits, -); production/prod turn deletion protection on."""
    name_suffix: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{0,16}$")] = ""
    """Appended to the stack name and every AWS resource name (e.g. "-dev"), so that environments deployed to one account never collide. Applied when the object is built (the built object holds the final names and an empty suffix)."""
    stack_name: str = "event-driven-pipeline"
    """The stack (and directory under cdktf.out/stacks/), the KMS alias and the dashboard name: a letter, then letters, digits or -, at most 63."""
    region: str = "us-east-1"
    """The AWS region of every resource: a region name such as us-east-1 (commercial, China or GovCloud)."""
    tags: dict[str, str] = Field(
        default_factory=lambda: {"Environment": "Production", "Project": "EventDrivenArchitecture"}
    )
    """Default tags of every resource: at most 50, no 'aws:' keys; letters, digits, spaces and _ . : / = + - @."""
    table_name: str = "application-data-table"
    """The source table (with its stream): 3-255 characters of A-Z a-z 0-9 _ . -"""
    topic_name: str = "data-processing-topic"
    """The fan-out topic: 1-256 characters of A-Z a-z 0-9 _ -; ends in '.fifo' exactly when ordering = "per-item" (the default name then gets it)."""
    producer_function_name: str = "dynamodb-stream-producer"
    """The producer function (stream -> topic): 1-64 characters of A-Z a-z 0-9 _ -"""
    producer_code: str = "producer"
    """The producer's code: a handler shipped with the package ("producer") or a folder path holding app.py, absolute or relative to the app's working directory."""
    stream_failure_queue_name: str = "dynamodb-stream-producer-failures"
    """Stream records that still fail after the retries land here (on-failure destination); SQS name rules, never '.fifo' (Lambda's on-failure destinations take standard queues only)."""
    runtime: Literal["python3.12"] = "python3.12"
    """Lambda runtime of both functions."""
    powertools_version: Annotated[str, Field(pattern=r"^(\d+\.\d+\.\d+|latest)?$")] = POWERTOOLS_VERSION
    """Powertools for AWS Lambda (Python) release both functions use. With powertools_layer "ssm": "" = no layer at all (then vendor the library yourself)."""
    powertools_layer: str = "ssm"
    """Where the functions get Powertools: "ssm" = AWS's public layer, its ARN read at plan time from the public SSM parameter for powertools_version; a layer ARN (same region); or "none" = no layer, the function zips carry powertools_version (installed at synth)."""
    architecture: Literal["x86_64", "arm64"] = "x86_64"
    """Lambda architecture of both functions (and of the Powertools layer)."""
    producer: ProducerConfig = ProducerConfig()
    """The producer function's timeout, memory, concurrency, log retention and publish concurrency."""
    stream: StreamConfig = StreamConfig()
    """How the producer reads the table's stream."""
    security: SecurityConfig = SecurityConfig()
    """Secure defaults; each can be turned off or tuned (see 'Secure by default')."""
    alarms: AlarmsConfig = AlarmsConfig()
    """CloudWatch alarms, published to the alarm topic."""
    dashboard: bool = True
    """Create a CloudWatch dashboard of the pipeline."""
    alarm_topic_name: str = "data-processing-alarms"
    """Name of the alarm topic (when alarms are enabled): 1-256 characters of A-Z a-z 0-9 _ -"""
    backend: S3BackendConfig | None = None
    """Optional remote state; None keeps Terraform's local backend (no AWS account needed to synth)."""
    subscribers: list[SubscriberConfig] = Field(default_factory=lambda: [SubscriberConfig()], min_length=1, max_length=50)
    """The topic's subscribers (1-50), each a queue -> consumer; default: one named main."""
    ordering: _ordering.Ordering = "none"
    """"none" (standard topic and queues, the original design) or "per-item": a FIFO topic and FIFO queues, so each item's changes reach every consumer in stream order (see 'Per-item ordering')."""

    _applied_name_suffix: str = PrivateAttr("")

    @model_validator(mode="before")
    @classmethod
    def _apply_suffix(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not data.get("name_suffix"):
            return data
        suffix = data["name_suffix"]
        if not isinstance(suffix, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,16}", suffix):
            raise ValueError(f"name_suffix: {suffix!r} must be 1-16 characters of A-Z a-z 0-9 _ -")
        data = dict(data)
        for name in (
            "stack_name", "table_name", "topic_name", "producer_function_name",
            "stream_failure_queue_name", "alarm_topic_name",
        ):
            data[name] = _ordering.with_suffix(data.get(name) or cls.model_fields[name].default, suffix)
        subs = data.get("subscribers")
        subs = [{}] if subs is None else subs
        if not isinstance(subs, list) or not all(isinstance(sub, (dict, BaseModel)) for sub in subs):
            raise ValueError("subscribers: must be a list of tables/objects, one per subscriber")
        data["subscribers"] = [
            suffixed_subscriber(sub.model_dump() if isinstance(sub, BaseModel) else sub, suffix) for sub in subs
        ]
        # Applied once: the built object holds the final names, and rebuilding it from
        # model_dump() must not append the suffix a second time.
        data["name_suffix"] = ""
        return data

    # Defined after _apply_suffix on purpose: pydantic runs "before" model validators in reverse order of
    # definition, so the ".fifo" default names exist before the suffix is applied to them.
    @model_validator(mode="before")
    @classmethod
    def _fifo_names(cls, data: Any) -> Any:
        return _ordering.fifo_defaults(
            data, cls.model_fields["topic_name"].default, lambda name: default_subscriber_names(name)[0]
        )

    # Defined after the "before" validators on purpose: this wrap validator runs first and sees the
    # name_suffix before _apply_suffix applies and clears it.
    @model_validator(mode="wrap")
    @classmethod
    def _remember_suffix(cls, data: Any, handler: Any) -> "PipelineConfig":
        suffix = data.get("name_suffix") if isinstance(data, dict) else None
        config = handler(data)
        if isinstance(suffix, str) and suffix:
            config._applied_name_suffix = suffix
        return config

    @property
    def applied_name_suffix(self) -> str:
        """The name_suffix this object was built with (already in its names; ``name_suffix`` itself is "")."""
        return self._applied_name_suffix

    def named_like_the_others(self, sub: dict[str, Any], suffix: str) -> dict[str, Any]:
        """A subscriber to add to this configuration, named as if it had been in the data the configuration
        was built from: the per-item default queue name ('.fifo') and ``suffix`` (its name_suffix)."""
        if not suffix:
            return sub
        filled = _ordering.fifo_defaults(
            {"ordering": self.ordering, "topic_name": self.topic_name, "subscribers": [sub]},
            self.topic_name, lambda name: default_subscriber_names(name)[0],
        )["subscribers"][0]
        return suffixed_subscriber(filled, suffix)

    @model_validator(mode="after")
    def _ordering_rules(self) -> "PipelineConfig":
        _ordering.check(self)
        return self

    _table = field_validator("table_name")(lambda v: _check_name("dynamodb table", v))
    _topic = field_validator("topic_name")(lambda v: _check_name("sns topic", v))
    _producer = field_validator("producer_function_name")(lambda v: _check_name("lambda function", v))
    _alarm_topic = field_validator("alarm_topic_name")(lambda v: _check_name("sns topic", v))
    _failures = field_validator("stream_failure_queue_name")(lambda v: _check_name("sqs queue", v))
    _producer_code = field_validator("producer_code")(lambda v: check_code(v))

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

    @field_validator("powertools_layer")
    @classmethod
    def _powertools_layer(cls, value: str) -> str:
        if value not in ("ssm", "none") and not _LAYER_ARN.fullmatch(value):
            raise ValueError(
                f"{value!r} must be 'ssm', 'none' or a Lambda layer version ARN "
                "(arn:<partition>:lambda:<region>:<account>:layer:<name>:<version>)"
            )
        return value

    @model_validator(mode="after")
    def _powertools_source(self) -> "PipelineConfig":
        layer = self.powertools_layer
        if layer == "ssm" and self.region.startswith("cn-"):
            raise ValueError(
                f"powertools_layer: 'ssm' reads AWS's public Powertools parameter, which {self.region} does not "
                "have (China regions): give the layer ARN, or 'none' to package Powertools into the function zips"
            )
        if layer == "none" and not re.fullmatch(r"\d+\.\d+\.\d+", self.powertools_version):
            raise ValueError(
                f"powertools_version: powertools_layer = 'none' packages an exact release; "
                f"{self.powertools_version!r} is not one (use e.g. {POWERTOOLS_VERSION!r})"
            )
        match = _LAYER_ARN.fullmatch(layer)
        if match and (match["region"] != self.region or not layer.startswith(f"arn:{self.partition}:")):
            raise ValueError(
                f"powertools_layer: {layer!r} is not in {self.region} ({self.partition}); a function can only "
                "use layers of its own region"
            )
        return self

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
            if not (_TAG_TEXT.fullmatch(key) and _TAG_TEXT.fullmatch(tag)):
                raise ValueError(
                    f"tag {key!r}={tag!r}: use only letters, digits, spaces and _ . : / = + - @"
                )
        return value

    @model_validator(mode="after")
    def _idempotency_window(self) -> "PipelineConfig":
        for index, sub in enumerate(self.subscribers):
            needed = sub.message_retention_seconds + self.stream.maximum_record_age_seconds
            if sub.idempotency_ttl_seconds < needed:
                raise ValueError(
                    f"subscribers.{index}.idempotency_ttl_seconds: {sub.idempotency_ttl_seconds} is shorter than "
                    f"message_retention_seconds + stream.maximum_record_age_seconds = {needed}; a duplicate "
                    "arriving after that would run the business logic again"
                )
        return self

    @model_validator(mode="after")
    def _key_users_partition(self) -> "PipelineConfig":
        for arn in self.security.key_users:
            if not arn.startswith(f"arn:{self.partition}:"):
                raise ValueError(f"security.key_users: {arn!r} is not in this region's partition {self.partition!r}")
        return self

    @model_validator(mode="after")
    def _unique(self) -> "PipelineConfig":
        """Names must differ within each service: AWS would refuse (or silently share) a second one."""
        _unique_or_raise("subscribers[].name", [s.name for s in self.subscribers])
        _unique_or_raise("subscribers[].queue_name", [s.queue_name for s in self.subscribers])
        _unique_or_raise(
            "function names (producer_function_name, subscribers[].function_name)",
            [self.producer_function_name, *(s.function_name for s in self.subscribers)],
        )
        _unique_or_raise(
            "queue names (stream_failure_queue_name, subscribers[].queue_name and their '-dlq' queues)",
            [self.stream_failure_queue_name, *(n for s in self.subscribers for n in (s.queue_name, s.dlq_name))],
        )
        _unique_or_raise("topic names (topic_name, alarm_topic_name)", [self.topic_name, self.alarm_topic_name])
        _unique_or_raise(
            "table names (table_name and the subscribers' idempotency tables)",
            [self.table_name, *(s.idempotency_table_name for s in self.subscribers)],
        )
        return self

    @property
    def deletion_protection(self) -> bool:
        """Table deletion protection: explicit setting, else on only in production."""
        explicit = self.security.deletion_protection
        return explicit if explicit is not None else self.environment in ("production", "prod")

    @property
    def partition(self) -> str:
        if "-gov-" in self.region:
            return "aws-us-gov"
        return "aws-cn" if self.region.startswith("cn-") else "aws"

    def powertools_layer_parameter(self) -> str | None:
        """Public SSM parameter holding the Powertools layer ARN for this runtime and architecture."""
        if self.powertools_layer != "ssm" or not self.powertools_version:
            return None
        return (
            f"/aws/service/powertools/python/{self.architecture}/{self.runtime}/{self.powertools_version}"
        )

    def aws_names(self) -> list[str]:
        """Every AWS resource name this environment creates (used to detect collisions)."""
        names = [
            self.table_name, self.topic_name, self.producer_function_name,
            self.stream_failure_queue_name, self.alarm_topic_name,
            f"alias/{self.stack_name}", self.stack_name,  # KMS alias, dashboard
        ]
        for sub in self.subscribers:
            names += [sub.queue_name, sub.dlq_name, sub.function_name, sub.idempotency_table_name]
        return names

    @property
    def function_names(self) -> list[str]:
        return [self.producer_function_name, *(s.function_name for s in self.subscribers)]

    def iam_names(self) -> list[str]:
        """IAM names this environment creates. IAM is global: they must differ across every
        environment of an account, whatever the region. The lambda module names each function's
        role after the function and its inline policies (logs, tracing, inline) after the role."""
        return [f"role {name}" for name in self.function_names]
