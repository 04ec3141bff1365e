"""The typed configuration models. Every default is the original design's setting (read from
:mod:`pipeline_model.defaults`), so ``PipelineConfig()`` describes exactly the tutorial's stack.

The fields hold the user's input as given: a name left unset is ``None`` (the default name), and
``name_suffix`` stays as written. :attr:`PipelineConfig.names` computes every AWS name from them,
once (:func:`pipeline_model.names.pipeline_names`). Invalid values are rejected when the object is
built: field rules by pydantic, rules across fields by one model validator per model that runs
the pure check functions below and reports every broken rule as a :class:`Problem`.
"""

from __future__ import annotations

import re
from pathlib import Path
from collections.abc import Callable, Iterable
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from .. import message_format
from .. import defaults
from .. import limits
from .. import mapping as _mapping
from .. import ordering as _ordering
from ..stack_profiles import StackProfileName
from ..errors import Problem
from ..limits import CONSUMER_DEADLINE_MARGIN_MS, CONSUMER_MESSAGE_BUDGET_MS, LOG_RETENTION_DAYS, consumer_batch_ms
from ..names import PipelineNames, settings_names
from ..packaging import check_pattern
from .backend import check_key
from .capacity import CapacityConfig
from .filter_policy import check_filter_policy
from .text import check_tree
from .naming import _EMAIL, _LAYER_ARN, _REGION, _ROLE_ARN, _TAG_TEXT, check_code, name_problems

#: Re-exported (pipeline_model.config.POWERTOOLS_VERSION): the release the handlers are tested against.
POWERTOOLS_VERSION = defaults.POWERTOOLS_VERSION

#: The pydantic error type of a model's rules; its ctx["problems"] holds the Problems (fields
#: relative to the model), which pipeline_model.config.files turns into the ConfigError's problems.
RULES_ERROR = "pipeline_rules"


def raise_problems(problems: Iterable[Problem]) -> None:
    """Raise every problem at once, as data, from a model validator (nothing if there is none)."""
    found = tuple(problems)
    if found:
        raise PydanticCustomError(RULES_ERROR, "{text}", {"text": "; ".join(map(str, found)), "problems": found})


def _blank_is_none(value: Any) -> Any:
    """A name given as "" means the default name (as in earlier releases)."""
    return None if value == "" else value


class _Model(BaseModel):
    # strict: no silent conversion (true is not 1, "10" is not 10, 3.0 is not 3).
    # Each field's docstring (the line below it) is its description (README's table is made from them).
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, strict=True,
                              use_attribute_docstrings=True)


Seconds = Annotated[int, Field(ge=1, le=900, description="Lambda timeout in seconds (1-900)")]
Memory = Annotated[int, Field(ge=128, le=10240, description="Lambda memory in MB (128-10240)")]


class FunctionConfig(_Model):
    """Size and limits of one Lambda function."""

    timeout: Seconds = defaults.FUNCTION_TIMEOUT_SECONDS
    """Timeout in seconds."""
    memory_size: Memory = defaults.FUNCTION_MEMORY_MB
    """Memory in MB."""
    reserved_concurrency: Annotated[int, Field(ge=-1, le=10000)] = defaults.RESERVED_CONCURRENCY
    """Reserved concurrent executions; -1 = unreserved (the account's pool)."""
    log_retention_days: int = defaults.LOG_RETENTION_DAYS
    """Retention of the function's log group, in days (a value CloudWatch Logs accepts)."""
    package_include: list[str] = Field(default_factory=list)
    """Glob patterns (relative to the code folder; '**' = any folders) of further files to package besides Python modules and package data, e.g. "data/*.json"; a secret-looking file ships only when named exactly (docs/packaging.md)."""
    package_exclude: list[str] = Field(default_factory=list)
    """Glob patterns of files or folders never to package; they win over package_include (docs/packaging.md)."""

    @field_validator("package_include", "package_exclude")
    @classmethod
    def _patterns(cls, value: list[str]) -> list[str]:
        for pattern in value:
            problem = check_pattern(pattern)
            if problem:
                raise ValueError(problem)
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        # A Literal of ints would take true for 1; a strict int and this set do not.
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(f"{value} is not a CloudWatch Logs retention; use one of {', '.join(map(str, LOG_RETENTION_DAYS))}")
        return value


#: PublishBatch requests the producer keeps in flight (functions/producer/app.py holds the same default and
#: maximum; a test keeps them equal). Default and range measured by `make bench` (docs/producer-throughput.md).
DEFAULT_PUBLISH_CONCURRENCY = defaults.PUBLISH_CONCURRENCY
MAX_PUBLISH_CONCURRENCY = limits.MAX_PUBLISH_CONCURRENCY


#: An SNS message attribute name: A-Z a-z 0-9 _ - . (no leading, trailing or doubled period), at most 256
#: characters, not starting with "AWS." or "Amazon." in any case (Amazon SNS, "Message attribute items").
_SNS_ATTRIBUTE_NAME = re.compile(r"(?!\.)(?!.*\.\.)[A-Za-z0-9_.-]{1,256}(?<!\.)")
_RESERVED_ATTRIBUTE_PREFIXES = ("aws.", "amazon.")


class ProducerConfig(FunctionConfig):
    """The producer function: size and limits, how it publishes and what."""

    publish_concurrency: Annotated[int, Field(ge=1, le=MAX_PUBLISH_CONCURRENCY)] = DEFAULT_PUBLISH_CONCURRENCY
    """PublishBatch requests in flight at once per invocation (1-16; 1 = one after another). FIFO topics: each item's changes still go one at a time, in stream order (see docs/producer-throughput.md)."""
    message_attributes: list[str] = Field(default_factory=list)
    """Item fields the producer also sends as SNS message attributes, for filter policies (besides eventName and tableName): top-level attributes of the item's new image (old image for REMOVE); S is sent as String, N as Number, BOOL as String "true"/"false"; a field that is missing, of another type, empty or over 1,024 bytes is not sent. At most 8; SNS attribute names (A-Z a-z 0-9 _ - ., no leading/trailing/double '.', not 'AWS.'/'Amazon.'). See docs/fanout.md."""

    @field_validator("message_attributes")
    @classmethod
    def _message_attributes(cls, value: list[str]) -> list[str]:
        if len(value) > message_format.MAX_LIFTED_ATTRIBUTES:
            raise ValueError(
                f"{len(value)} fields given: at most {message_format.MAX_LIFTED_ATTRIBUTES} (SNS delivers at most 10 message "
                f"attributes to a raw-delivery queue, and the producer always sends {', '.join(message_format.MESSAGE_ATTRIBUTES)})")
        for name in value:
            if not _SNS_ATTRIBUTE_NAME.fullmatch(name) or name.lower().startswith(_RESERVED_ATTRIBUTE_PREFIXES):
                raise ValueError(
                    f"{name!r} is not an SNS message attribute name (1-256 of A-Z a-z 0-9 _ - ., no leading, trailing "
                    "or doubled '.', not starting with 'AWS.' or 'Amazon.')")
            if name in message_format.MESSAGE_ATTRIBUTES:
                raise ValueError(f"{name!r} is sent on every message already")
        if len(set(value)) != len(value):
            raise ValueError("the same field is listed twice")
        return value


class SubscriberConfig(_Model):
    """One queue subscribed to the topic, with its consumer function."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,30}$")] = defaults.SUBSCRIBER_NAME
    """The subscriber's name: lower case, digits, _; unique; names its logical ids and default AWS names."""
    queue_name: str | None = None
    """None = the default name: "data-processing-queue" for the subscriber named "main", else "<name>-queue" (+ '.fifo' when ordering = "per-item"); name_suffix is appended (before '.fifo'). 1-76 characters of A-Z a-z 0-9 _ - (the DLQ adds "-dlq"); unique; ends in '.fifo' exactly when ordering = "per-item"."""
    function_name: str | None = None
    """None = the default name: "sqs-message-consumer" for the subscriber named "main", else "<name>-consumer"; name_suffix is appended. 1-64 characters of A-Z a-z 0-9 _ -; unique."""
    code: str | Path = defaults.CONSUMER_CODE
    """The consumer's code: a handler shipped with the package ("consumer") or a folder path holding app.py (a string or a Path), absolute or relative to the folder of the app's entry file (main.py here; the working directory under python -m or -c)."""
    batch_size: Annotated[int, Field(ge=1, le=10000)] = defaults.SUBSCRIBER_BATCH_SIZE
    """Messages per consumer invocation: 1-10, or up to 10000 with maximum_batching_window_seconds >= 1; batch_size x 50 ms + 2,250 ms must fit the consumer timeout. With ordering = "per-item" (FIFO queues): 1-10 and no batching window."""
    maximum_batching_window_seconds: Annotated[int, Field(ge=0, le=300)] = defaults.SUBSCRIBER_BATCHING_WINDOW_SECONDS
    """How long the trigger gathers messages before invoking; 0 = not at all."""
    visibility_timeout_seconds: Annotated[int, Field(ge=0, le=43200)] = defaults.VISIBILITY_TIMEOUT_SECONDS
    """Queue visibility timeout: at least 6x the consumer timeout."""
    message_retention_seconds: Annotated[int, Field(ge=60, le=1209600)] = defaults.MESSAGE_RETENTION_SECONDS
    """How long the queue keeps a message."""
    max_receive_count: Annotated[int, Field(ge=1, le=1000)] = defaults.MAX_RECEIVE_COUNT
    """Receives before a message moves to the dead-letter queue."""
    idempotency_ttl_seconds: Annotated[int, Field(ge=60, le=31536000)] = defaults.IDEMPOTENCY_TTL_SECONDS
    """How long a processed message is remembered. Must outlast every redelivery: a producer retry or a replay can republish a record until the stream trims it (24 h after it was written), and the copy can wait in the queue until its retention ends: at least message_retention_seconds + 86400."""
    raw_message_delivery: bool = defaults.RAW_MESSAGE_DELIVERY
    """Deliver the published message without the SNS envelope."""
    filter_policy: dict[str, Any] | str | None = None
    """SNS subscription filter policy, as a table/object or a JSON string; checked by SNS's rules (see "Fan-out"): numeric ranges [">" or ">=", low, "<" or "<=", high] with low < high, numbers within +-1e9."""
    filter_policy_scope: Literal["MessageAttributes", "MessageBody"] = defaults.FILTER_POLICY_SCOPE
    """What the filter policy matches: message attributes or the message body."""
    function: FunctionConfig = FunctionConfig()
    """The consumer function's timeout, memory, concurrency and log retention."""
    maximum_concurrency: Annotated[int | None, Field(ge=_mapping.MAXIMUM_CONCURRENCY_MIN,
                                                     le=_mapping.MAXIMUM_CONCURRENCY_MAX)] = None
    """The most consumer invocations this queue's mapping runs at once (the mapping's scaling_config; AWS allows 2-1000); None = not set (up to the function's reserved concurrency or the account's pool). At most function.reserved_concurrency when that is set."""
    metrics: bool = False
    """Ask the queue's mapping for its EventCount metrics in CloudWatch (the mapping's metrics_config: processed, filtered-out and dropped events)."""

    _blank_names = field_validator("queue_name", "function_name", mode="before")(_blank_is_none)
    _code = field_validator("code")(lambda v: check_code(v))

    @model_validator(mode="after")
    def _rules(self) -> SubscriberConfig:
        """Every rule across this subscriber's fields, all reported at once. A filter policy given as
        JSON text is kept as the object it parses to."""
        problems: list[Problem] = []
        if self.filter_policy is not None:
            try:
                object.__setattr__(self, "filter_policy",
                                   check_filter_policy(self.filter_policy, self.filter_policy_scope))
            except ValueError as error:
                problems.append(Problem("filter_policy", str(error)))
        problems += [problem for check in SUBSCRIBER_CHECKS for problem in check(self)]
        raise_problems(problems)
        return self


def check_batching(sub: SubscriberConfig) -> list[Problem]:
    if sub.batch_size > 10 and sub.maximum_batching_window_seconds < 1:
        return [Problem("batch_size", f"{sub.batch_size} is above 10: SQS event source mappings allow 1-10 unless "
                                      "maximum_batching_window_seconds is at least 1 (then up to 10000)")]
    return []


def check_visibility(sub: SubscriberConfig) -> list[Problem]:
    needed = 6 * sub.function.timeout
    if sub.visibility_timeout_seconds < needed:
        return [Problem("visibility_timeout_seconds",
                        f"{sub.visibility_timeout_seconds} must be at least 6x the consumer timeout "
                        f"({sub.function.timeout} s), i.e. >= {needed}, so a message is not redelivered while a "
                        "consumer still works on it")]
    return []


def check_batch_fits_timeout(sub: SubscriberConfig) -> list[Problem]:
    """The consumer must be able to finish a full batch before its timeout (README "Handlers")."""
    needed = consumer_batch_ms(sub.batch_size)
    timeout_ms = sub.function.timeout * 1000
    if needed <= timeout_ms:
        return []
    fits = (timeout_ms - CONSUMER_DEADLINE_MARGIN_MS) // CONSUMER_MESSAGE_BUDGET_MS
    return [Problem(
        "batch_size",
        f"{sub.batch_size} messages cannot finish within the consumer timeout of {sub.function.timeout} s: the rule "
        f"is batch_size x {CONSUMER_MESSAGE_BUDGET_MS} ms + {CONSUMER_DEADLINE_MARGIN_MS} ms <= function.timeout, "
        f"here {needed} ms",
        (f"lower batch_size to {fits} or " if fits >= 1 else "") + f"raise function.timeout to {-(-needed // 1000)} s",
    )]


def check_maximum_concurrency(sub: SubscriberConfig) -> list[Problem]:
    """A mapping allowed more invocations than the function's reserved concurrency would be throttled:
    the messages it took go back to the queue and, after max_receive_count receives, to the DLQ."""
    reserved, maximum = sub.function.reserved_concurrency, sub.maximum_concurrency
    if maximum is None or reserved < 0 or maximum <= reserved:
        return []
    if reserved < _mapping.MAXIMUM_CONCURRENCY_MIN:
        hint = (f"reserved_concurrency {reserved} is below the mapping's minimum of "
                f"{_mapping.MAXIMUM_CONCURRENCY_MIN}: leave maximum_concurrency unset")
    else:
        hint = f"lower maximum_concurrency to {reserved} or raise function.reserved_concurrency to {maximum}"
    return [Problem(
        "maximum_concurrency",
        f"{maximum} is above the consumer's function.reserved_concurrency ({reserved}): the extra invocations "
        "would be throttled and their messages return to the queue, then reach the DLQ", hint)]


#: The rules across one subscriber's fields (each pure: subscriber -> problems).
SUBSCRIBER_CHECKS: tuple[Callable[[SubscriberConfig], list[Problem]], ...] = (
    check_batching, check_visibility, check_batch_fits_timeout, check_maximum_concurrency,
)


class StreamConfig(_Model):
    """How the producer reads the table's stream."""

    starting_position: Literal["TRIM_HORIZON", "LATEST"] = defaults.STARTING_POSITION
    """Where a new stream mapping starts: TRIM_HORIZON (so changes written before the mapping exists are not skipped) or LATEST."""
    batch_size: Annotated[int, Field(ge=1, le=10000)] = defaults.STREAM_BATCH_SIZE
    """Stream records per producer invocation."""
    maximum_batching_window_seconds: Annotated[int, Field(ge=0, le=300)] = defaults.STREAM_BATCHING_WINDOW_SECONDS
    """How long the stream mapping gathers records before invoking; 0 = not at all."""
    maximum_retry_attempts: Annotated[int, Field(ge=0, le=10000)] = defaults.STREAM_MAXIMUM_RETRY_ATTEMPTS
    """Retries of a failing batch before it goes to the stream failure queue."""
    maximum_record_age_seconds: Annotated[int, Field(ge=60, le=604800)] = defaults.STREAM_MAXIMUM_RECORD_AGE_SECONDS
    """Records older than this go to the on-failure destination instead of being retried. With on_failure = "queue": at most the stream's 24 h retention minus a 6 h replay margin (64800), since a record must still be in the stream when it is replayed; with on_failure = "s3": at most 82800 (the batch must reach the bucket before the stream trims it)."""
    parallelization_factor: Annotated[int, Field(ge=1, le=10)] = defaults.STREAM_PARALLELIZATION_FACTOR
    """Concurrent batches per stream shard."""
    bisect_batch_on_function_error: bool = defaults.STREAM_BISECT_BATCH_ON_FUNCTION_ERROR
    """Split a failing batch in two and retry each half, isolating a bad record."""
    on_failure: Literal["queue", "s3"] = defaults.STREAM_ON_FAILURE
    """Where a batch that exhausted its retries goes: "queue" = the stream failure queue (a pointer: shard and sequence numbers; the records must be replayed within the stream's 24 h retention) or "s3" = a bucket of the pipeline's own holding the invocation record with the records themselves, replayable at any later time (docs/operations.md, 'Replay from S3')."""
    failure_retention_days: Annotated[int, Field(ge=1, le=limits.FAILURE_RETENTION_DAYS_MAX)] = defaults.STREAM_FAILURE_RETENTION_DAYS
    """With on_failure = "s3": days the bucket keeps a failed batch (and a replayed batch's old version) before its lifecycle rule deletes it (1-3650)."""
    event_names: list[_mapping.EventName] | None = None
    """The changes the producer publishes: some of "INSERT", "MODIFY", "REMOVE" (the mapping's filter_criteria on eventName; the others are dropped by Lambda before the producer runs, never published, never retried); None = every change."""
    metrics: bool = False
    """Ask the stream mapping for its EventCount metrics in CloudWatch (the mapping's metrics_config: processed, filtered-out and dropped events)."""

    @field_validator("event_names")
    @classmethod
    def _event_names(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return value
        if not value:
            raise ValueError("an empty list would publish nothing; name at least one of INSERT, MODIFY, REMOVE "
                             "(or leave event_names unset for every change)")
        repeated = sorted({name for name in value if value.count(name) > 1})
        if repeated:
            raise ValueError(f"{', '.join(repeated)} given more than once")
        return value

    @model_validator(mode="after")
    def _leaves_replay_time(self) -> StreamConfig:
        """With the failure queue (a pointer into the stream), a failed batch must leave time to replay it before
        the stream trims it. The failure bucket keeps the records themselves: no margin is needed."""
        value, most = self.maximum_record_age_seconds, limits.STREAM_RETENTION_SECONDS - limits.REPLAY_MARGIN_SECONDS
        if self.on_failure == "queue" and value > most:
            raise_problems([Problem(
                "maximum_record_age_seconds",
                f"{value} leaves less than {limits.REPLAY_MARGIN_SECONDS // 3600} h to replay: a record reaches the stream "
                f"failure queue at this age and DynamoDB Streams keeps it {limits.STREAM_RETENTION_SECONDS // 3600} h; use at "
                f"most {most} (see docs/operations.md, 'Replay')",
                'or on_failure = "s3", which keeps the records themselves')])
        most = limits.STREAM_RETENTION_SECONDS - limits.FAILURE_DELIVERY_MARGIN_SECONDS
        if self.on_failure == "s3" and value > most:
            raise_problems([Problem(
                "maximum_record_age_seconds",
                f"{value} leaves less than {limits.FAILURE_DELIVERY_MARGIN_SECONDS // 3600} h before DynamoDB Streams trims "
                f"a record ({limits.STREAM_RETENTION_SECONDS // 3600} h): a batch must reach the failure bucket before its "
                f"records are gone; use at most {most}")])
        return self


class S3BackendConfig(_Model):
    """Remote state in S3, locked by S3 itself (use_lockfile) and/or DynamoDB. Without it, state is local."""

    bucket: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")]
    """S3 bucket holding the state."""
    key: str | None = None
    """Object key of the state file; default "<stack_name>/terraform.tfstate", so each stack (and environment) has its own. 1-1024 of A-Z a-z 0-9 ! - _ . * ' ( ) and / between parts; two stacks of one app never share bucket and key."""
    region: str | None = None
    """The bucket's region; None = the environment's region."""
    dynamodb_table: Annotated[str | None, Field(pattern=r"^[A-Za-z0-9_.-]{3,255}$")] = None
    """DynamoDB lock table: deprecated in Terraform 1.11 and OpenTofu 1.10 (use_lockfile replaces it)."""
    use_lockfile: bool = defaults.BACKEND_USE_LOCKFILE
    """S3 native state locking (a .tflock object next to the state; Terraform >= 1.10, OpenTofu >= 1.10)."""
    encrypt: bool = defaults.BACKEND_ENCRYPT
    """Encrypt the state object."""

    # Terraform reads backend settings literally (no templates): check_key's characters exclude "$", "%", "{".
    _key = field_validator("key")(lambda v: v if v is None else check_key(v))

    @model_validator(mode="after")
    def _locked(self) -> S3BackendConfig:
        if not self.use_lockfile and self.dynamodb_table is None:
            raise_problems([Problem(
                "use_lockfile", "state must be locked",
                "set use_lockfile = true (S3 native locking, Terraform/OpenTofu >= 1.10) or dynamodb_table "
                "(deprecated since Terraform 1.11 / OpenTofu 1.10)")])
        return self

    @field_validator("region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is not None and not _REGION.fullmatch(value):
            raise ValueError(f"{value!r} is not an AWS region name (expected something like us-east-1)")
        return value


#: How the functions may read their event sources (SecurityConfig.iam).
IamMode = Literal["managed", "scoped"]


class SecurityConfig(_Model):
    """Secure defaults; each can be turned off or tuned."""

    customer_managed_key: bool = defaults.CUSTOMER_MANAGED_KEY
    """One customer-managed KMS key (rotated yearly) for the topics and every queue."""
    key_deletion_window_days: Annotated[int, Field(ge=7, le=30)] = defaults.KEY_DELETION_WINDOW_DAYS
    """Waiting period before a deleted key is gone (7-30 days)."""
    enforce_tls: bool = defaults.ENFORCE_TLS
    """Topic and queue policies deny any request made without TLS."""
    point_in_time_recovery: bool = defaults.POINT_IN_TIME_RECOVERY
    """Point-in-time recovery of the table."""
    deletion_protection: bool | None = None
    """None = on for the environments "production"/"prod", off elsewhere."""
    tracing: bool = defaults.TRACING
    """X-Ray active tracing on both functions."""
    iam: IamMode = defaults.IAM
    """How the functions may read their event sources: "managed" (the original design: AWSLambdaDynamoDBExecutionRole on the producer, AWSLambdaSQSQueueExecutionRole on each consumer, which allow reading every stream or queue of the account) or "scoped" (inline statements naming only the function's own stream or queue); see docs/security.md, 'Least privilege'."""
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

    enabled: bool = defaults.ALARMS_ENABLED
    """Create the alarms and the alarm topic."""
    email: str | None = None
    """Subscribe this address to the alarm topic (AWS sends a confirmation mail)."""
    queue_age_seconds: Annotated[int, Field(ge=60, le=1209600)] = defaults.ALARM_QUEUE_AGE_SECONDS
    """Oldest message in a subscriber queue, seconds."""
    iterator_age_ms: Annotated[int, Field(ge=1000, le=604800000)] = defaults.ALARM_ITERATOR_AGE_MS
    """Stream iterator age of the producer, milliseconds."""
    period_seconds: Literal[60, 300, 900, 3600] = defaults.ALARM_PERIOD_SECONDS
    """Alarm period in seconds."""
    evaluation_periods: Annotated[int, Field(ge=1, le=100)] = defaults.ALARM_EVALUATION_PERIODS
    """Periods an alarm's condition must hold before it fires."""

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.fullmatch(value):
            raise ValueError(f"{value!r} is not an e-mail address")
        return value


class DeliveryStatusLoggingConfig(_Model):
    """SNS delivery status logging of the fan-out topic's deliveries to the subscriber queues, in CloudWatch Logs."""

    enabled: bool = defaults.DELIVERY_STATUS_LOGGING
    """Log the topic's deliveries to SQS: an IAM role SNS assumes (only for this topic) and two log groups, sns/<region>/<account>/<topic> (successes) and .../Failure (every failed delivery). See docs/operations.md, 'Delivery status logging'."""
    success_sample_rate: Annotated[int, Field(ge=0, le=100)] = defaults.DELIVERY_SUCCESS_SAMPLE_RATE
    """Percentage of successful deliveries logged (0-100); 0 = failures only. Each logged delivery is a CloudWatch Logs event (ingestion is billed)."""
    log_retention_days: int = defaults.DELIVERY_LOG_RETENTION_DAYS
    """Retention of the two log groups, in days (a value CloudWatch Logs accepts); the pipeline creates them so that the retention applies from the first delivery."""

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(f"{value} is not a CloudWatch Logs retention; use one of {', '.join(map(str, LOG_RETENTION_DAYS))}")
        return value


class PipelineConfig(_Model):
    """Everything one environment of the pipeline needs. Defaults = the original design."""

    environment: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,15}$")] = defaults.ENVIRONMENT
    """The environment's name (lower case, digits, -); production/prod turn deletion protection on."""
    name_suffix: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{0,16}$")] = ""
    """Appended to the stack name and every AWS resource name (e.g. "-dev"; before '.fifo'), so that environments deployed to one account never collide: 0-16 characters of A-Z a-z 0-9 _ -. Kept as given; the names (config.names) carry it."""
    stack_name: str | None = None
    """None = "event-driven-pipeline" (+ name_suffix). The stack (and directory under cdktf.out/stacks/), the KMS alias and the dashboard name: a letter, then letters, digits or -, at most 63."""
    region: str = defaults.REGION
    """The AWS region of every resource: a region name such as us-east-1 (commercial, China or GovCloud)."""
    tags: dict[str, str] = Field(default_factory=lambda: dict(defaults.TAGS))
    """Default tags of every resource: at most 50, no 'aws:' keys; letters, digits, spaces and _ . : / = + - @."""
    table_name: str | None = None
    """None = "application-data-table" (+ name_suffix). The source table (with its stream): 3-255 characters of A-Z a-z 0-9 _ . -"""
    topic_name: str | None = None
    """None = "data-processing-topic" (+ name_suffix, + '.fifo' when ordering = "per-item"). The fan-out topic: 1-256 characters of A-Z a-z 0-9 _ -; ends in '.fifo' exactly when ordering = "per-item"."""
    producer_function_name: str | None = None
    """None = "dynamodb-stream-producer" (+ name_suffix). The producer function (stream -> topic): 1-64 characters of A-Z a-z 0-9 _ -"""
    producer_code: str | Path = defaults.PRODUCER_CODE
    """The producer's code: a handler shipped with the package ("producer") or a folder path holding app.py (a string or a Path), absolute or relative to the folder of the app's entry file (main.py here; the working directory under python -m or -c)."""
    stream_failure_queue_name: str | None = None
    """None = "dynamodb-stream-producer-failures" (+ name_suffix). Stream records that still fail after the retries land here (on-failure destination); SQS name rules, never '.fifo' (Lambda's on-failure destinations take standard queues only)."""
    runtime: Literal["python3.12"] = defaults.RUNTIME
    """Lambda runtime of both functions."""
    powertools_version: Annotated[str, Field(pattern=r"^([0-9]+\.[0-9]+\.[0-9]+|latest)?$")] = defaults.POWERTOOLS_VERSION
    """Powertools for AWS Lambda (Python) release both functions use. With powertools_layer "ssm": "" = no layer at all (then vendor the library yourself)."""
    powertools_layer: str = defaults.POWERTOOLS_LAYER
    """Where the functions get Powertools: "ssm" = AWS's public layer, its ARN read at plan time from the public SSM parameter for powertools_version; a layer ARN (same region); or "none" = no layer, the function zips carry powertools_version (installed at synth)."""
    architecture: Literal["x86_64", "arm64"] = defaults.ARCHITECTURE
    """Lambda architecture of both functions (and of the Powertools layer)."""
    producer: ProducerConfig = ProducerConfig()
    """The producer function's timeout, memory, concurrency, log retention, publish concurrency, and the item fields it sends as message attributes."""
    stream: StreamConfig = StreamConfig()
    """How the producer reads the table's stream."""
    security: SecurityConfig = SecurityConfig()
    """Secure defaults; each can be turned off or tuned (see 'Secure by default')."""
    alarms: AlarmsConfig = AlarmsConfig()
    """CloudWatch alarms, published to the alarm topic."""
    dashboard: bool = defaults.DASHBOARD
    """Create a CloudWatch dashboard of the pipeline."""
    delivery_status_logging: DeliveryStatusLoggingConfig = DeliveryStatusLoggingConfig()
    """SNS delivery status logging of the topic's deliveries to the queues (CloudWatch Logs); off by default."""
    alarm_topic_name: str | None = None
    """None = "data-processing-alarms" (+ name_suffix). Name of the alarm topic (when alarms are enabled): 1-256 characters of A-Z a-z 0-9 _ -"""
    backend: S3BackendConfig | None = None
    """Optional remote state; None keeps Terraform's local backend (no AWS account needed to synth)."""
    subscribers: list[SubscriberConfig] = Field(default_factory=lambda: [SubscriberConfig()], min_length=1, max_length=50)
    """The topic's subscribers (1-50), each a queue -> consumer; default: one named main."""
    ordering: _ordering.Ordering = defaults.ORDERING
    """"none" (standard topic and queues, the original design) or "per-item": a FIFO topic and FIFO queues, so each item's changes reach every consumer in stream order (see 'Per-item ordering')."""
    stack_profile: StackProfileName = defaults.STACK_PROFILE
    """"tutorial" (hashicorp/aws ~> 5.0 and the module majors the tutorial was written for; the default stack unchanged) or "current" (hashicorp/aws >= 6.28, < 7, Terraform >= 1.5.7, the newest module majors, subscriber queues of 1 MiB). One profile per stack; see docs/upgrading.md."""
    capacity: CapacityConfig | None = None
    """Optional: the peak this environment must carry; `make capacity` (and synth) checks it against AWS's quotas (see docs/capacity.md)."""

    _blank_names = field_validator(
        "stack_name", "table_name", "topic_name", "producer_function_name", "stream_failure_queue_name",
        "alarm_topic_name", mode="before",
    )(_blank_is_none)
    _producer_code = field_validator("producer_code")(lambda v: check_code(v))

    @field_validator("name_suffix", mode="before")
    @classmethod
    def _name_suffix(cls, value: Any) -> Any:
        if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_-]{0,16}", value):
            raise ValueError(f"{value!r} must be 1-16 characters of A-Z a-z 0-9 _ - (or empty)")
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
    def _rules(self) -> PipelineConfig:
        """Every rule across fields (names, ordering, windows, partitions), all reported at once."""
        raise_problems(problem for check in PIPELINE_CHECKS for problem in check(self))
        return self

    @cached_property
    def names(self) -> PipelineNames:
        """Every AWS name of this environment, computed once from the raw fields (pipeline_model.names)."""
        return settings_names(self, self.stack_name)

    def model_copy(self, *, update: dict[str, Any] | None = None, deep: bool = False) -> PipelineConfig:
        """As pydantic's (no validation), without the copied object's cached names: they are computed
        again from the copy's fields."""
        copied = super().model_copy(update=update, deep=deep)
        copied.__dict__.pop("names", None)
        return copied

    @property
    def deletion_protection(self) -> bool:
        """Table deletion protection: explicit setting, else on only in production."""
        explicit = self.security.deletion_protection
        return explicit if explicit is not None else self.environment in defaults.PRODUCTION_ENVIRONMENTS

    @property
    def partition(self) -> str:
        return partition_of(self.region)

    def powertools_layer_parameter(self) -> str | None:
        """Public SSM parameter holding the Powertools layer ARN for this runtime and architecture."""
        if self.powertools_layer != "ssm" or not self.powertools_version:
            return None
        return (
            f"/aws/service/powertools/python/{self.architecture}/{self.runtime}/{self.powertools_version}"
        )


def partition_of(region: str) -> str:
    """The AWS partition of a region name."""
    if "-gov-" in region:
        return "aws-us-gov"
    return "aws-cn" if region.startswith("cn-") else "aws"


# --- the rules across a pipeline's fields: pure functions, config -> problems ------------------------

def check_names(config: PipelineConfig) -> list[Problem]:
    """The computed names: AWS's name rules, unique within each service."""
    return name_problems(config)


def check_ordering(config: PipelineConfig) -> list[Problem]:
    """The '.fifo' rules of the computed names and the FIFO mapping limits (pipeline_model.ordering)."""
    return _ordering.check(config, config.names)


def check_powertools_source(config: PipelineConfig) -> list[Problem]:
    problems = []
    layer = config.powertools_layer
    if layer == "ssm" and config.region.startswith("cn-"):
        problems.append(Problem(
            "powertools_layer", f"'ssm' reads AWS's public Powertools parameter, which {config.region} does not have "
            "(China regions)", "give the layer ARN, or 'none' to package Powertools into the function zips"))
    if layer == "none" and not re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+", config.powertools_version):
        problems.append(Problem(
            "powertools_version", f"powertools_layer = 'none' packages an exact release; "
            f"{config.powertools_version!r} is not one", f"use e.g. {defaults.POWERTOOLS_VERSION!r}"))
    match = _LAYER_ARN.fullmatch(layer)
    if match and (match["region"] != config.region or not layer.startswith(f"arn:{config.partition}:")):
        problems.append(Problem(
            "powertools_layer", f"{layer!r} is not in {config.region} ({config.partition}); a function can only "
            "use layers of its own region"))
    return problems


def check_idempotency_window(config: PipelineConfig) -> list[Problem]:
    problems = []
    for index, sub in enumerate(config.subscribers):
        # A replay (make replay) republishes a record until the stream trims it, 24 h after it was written.
        needed = sub.message_retention_seconds + limits.STREAM_RETENTION_SECONDS
        if sub.idempotency_ttl_seconds < needed:
            problems.append(Problem(
                f"subscribers.{index}.idempotency_ttl_seconds",
                f"{sub.idempotency_ttl_seconds} is shorter than message_retention_seconds + the stream's 24 h "
                f"retention = {needed} (a replay can republish a record until the stream trims it); a duplicate "
                "arriving after that would run the business logic again"))
    return problems


def check_key_users_partition(config: PipelineConfig) -> list[Problem]:
    return [Problem("security.key_users", f"{arn!r} is not in this region's partition {config.partition!r}")
            for arn in config.security.key_users if not arn.startswith(f"arn:{config.partition}:")]


#: The rules across a pipeline's fields, run together by PipelineConfig's one model validator.
def check_tokens(config: PipelineConfig) -> list[Problem]:
    """No string or number of the configuration is a cdktf token placeholder (config/text.py)."""
    found = check_tree(config.model_dump())
    return [found] if found is not None else []


def _policy_keys(policy: dict[str, Any]) -> Iterable[tuple[str, Any]]:
    """The (key, value) pairs of a filter policy's top level, through ``$or`` branches."""
    for key, value in policy.items():
        if key == "$or" and isinstance(value, list):
            for branch in value:
                if isinstance(branch, dict):
                    yield from _policy_keys(branch)
        else:
            yield key, value


def _body_problems(policy: dict[str, Any], allowed: Iterable[str], path: str) -> list[str]:
    """What a MessageBody policy names that the message body does not have (``path``: where, for the text)."""
    allowed = tuple(allowed)
    problems = []
    for key, value in _policy_keys(policy):
        where = repr(path + key)
        if key not in allowed:
            problems.append(f"{where} is not a key of the message body{' object' if path else ''} "
                            f"(it has {', '.join(allowed)})")
        elif isinstance(value, dict):
            if key in message_format.MESSAGE_BODY_IMAGES:
                continue  # item attributes: any name
            if key in message_format.MESSAGE_BODY_OBJECTS:
                problems += _body_problems(value, message_format.MESSAGE_BODY_OBJECTS[key], f"{path}{key}.")
            else:
                problems.append(f"{where} is not an object in the message body: match its value with a list")
        elif key in message_format.MESSAGE_BODY_IMAGES or key in message_format.MESSAGE_BODY_OBJECTS:
            problems.append(f"{where} is an object in the message body: match its fields, "
                            f"e.g. {{\"{key}\": {{\"<field>\": [...]}}}}")
    return problems


def check_routing(config: PipelineConfig) -> list[Problem]:
    """Every filter policy names only what the producer publishes, so no subscription can match nothing:
    message attributes it sends (eventName, tableName, producer.message_attributes), keys of the body."""
    problems = []
    sent = (*message_format.MESSAGE_ATTRIBUTES, *config.producer.message_attributes)
    for index, sub in enumerate(config.subscribers):
        if not isinstance(sub.filter_policy, dict):
            continue
        field = f"subscribers.{index}.filter_policy"
        if sub.filter_policy_scope == "MessageAttributes":
            unknown = sorted({key for key, _ in _policy_keys(sub.filter_policy)} - set(sent))
            if unknown:
                problems.append(Problem(
                    field, f"names the message attribute{'s' if len(unknown) > 1 else ''} "
                    f"{', '.join(map(repr, unknown))}, which the producer never sends (it sends {', '.join(sent)}): "
                    "the queue would receive nothing",
                    "lift the item field into an attribute with producer.message_attributes = "
                    f"[{', '.join(map(repr, unknown))}], or filter on eventName/tableName (docs/fanout.md)"))
        else:
            for text in _body_problems(sub.filter_policy, message_format.MESSAGE_BODY_KEYS, ""):
                problems.append(Problem(
                    field, text, "item fields are under newImage/oldImage, e.g. {\"newImage\": {\"kind\": [\"order\"]}} "
                    "(docs/fanout.md)"))
    return problems


PIPELINE_CHECKS: tuple[Callable[[PipelineConfig], list[Problem]], ...] = (
    check_tokens, check_names, check_ordering, check_powertools_source, check_idempotency_window,
    check_key_users_partition, check_routing,
)
