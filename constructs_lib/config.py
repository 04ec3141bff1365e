"""The pipeline's configuration: one typed, validated object.

Every value has the original design's setting as its default, so
``PipelineConfig()`` describes exactly the tutorial's stack. Invalid values are
rejected when the object is built, before any cdktf or jsii code runs, with a
:class:`ConfigError` that names the field and the rule it broke.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from . import ordering as _ordering

# --- naming rules AWS enforces (documented service quotas) --------------------------------
_NAME_RULES: dict[str, tuple[re.Pattern[str], int, str]] = {
    "dynamodb table": (re.compile(r"^[A-Za-z0-9_.-]{3,255}$"), 255, "3-255 characters of A-Z a-z 0-9 _ . -"),
    # A FIFO topic's or queue's name ends in ".fifo", within the same limit (constructs_lib/ordering.py).
    "sns topic": (
        re.compile(r"^(?:[A-Za-z0-9_-]{1,256}|[A-Za-z0-9_-]{1,251}\.fifo)$"), 256,
        "1-256 characters of A-Z a-z 0-9 _ - (a FIFO topic: ending in '.fifo')",
    ),
    # The sqs module names the dead-letter queue "<name>-dlq" ("<name>-dlq.fifo"), so 4 characters are reserved.
    "sqs queue": (
        re.compile(r"^(?:[A-Za-z0-9_-]{1,76}|[A-Za-z0-9_-]{1,71}\.fifo)$"), 76,
        "1-76 characters of A-Z a-z 0-9 _ - (80 minus the '-dlq' suffix; a FIFO queue: ending in '.fifo')",
    ),
    "lambda function": (re.compile(r"^[A-Za-z0-9_-]{1,64}$"), 64, "1-64 characters of A-Z a-z 0-9 _ -"),
}

# Commercial, China and GovCloud regions (the partitions this project's ARNs and URLs know).
_REGION = re.compile(
    r"^(us|eu|ap|sa|ca|me|af|il|mx|cn)(-gov)?-"
    r"(north|south|east|west|central|northeast|southeast|northwest|southwest)-[1-9]$"
)
# Tag keys and values: letters, digits, spaces and _ . : / = + - @ (AWS tagging rules). A plain
# space only: \s would also let tabs, newlines and other control characters through.
_TAG_TEXT = re.compile(r"^[\w .:/=+\-@]*$")
_FUNCTION_DIR = re.compile(r"^[a-z][a-z0-9_]*$")
_STACK = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,62}$")


#: Powertools for AWS Lambda (Python) release the handlers are written and tested against
#: (the Pipfile pins the same version; a test keeps the two equal).
POWERTOOLS_VERSION = "3.37.0"


# ARNs a configuration may name: role ARNs (security.key_users), layer version ARNs (powertools_layer).
_PARTITION = r"(aws|aws-cn|aws-us-gov)"
_ROLE_ARN = re.compile(rf"^arn:{_PARTITION}:iam::\d{{12}}:role/([A-Za-z0-9_+=,.@-]+/)*[A-Za-z0-9_+=,.@-]{{1,64}}$")
_LAYER_ARN = re.compile(
    rf"^arn:{_PARTITION}:lambda:(?P<region>[a-z0-9-]+):\d{{12}}:layer:[A-Za-z0-9_-]{{1,140}}:[1-9][0-9]{{0,8}}$"
)


class ConfigError(ValueError):
    """Invalid pipeline configuration. The message names each field and the rule it broke."""


def _check_name(kind: str, value: str) -> str:
    pattern, _limit, rule = _NAME_RULES[kind]
    if not pattern.fullmatch(value):
        raise ValueError(f"{value!r} is not a valid {kind} name: use {rule}")
    return value


class _Model(BaseModel):
    # strict: no silent conversion (true is not 1, "10" is not 10, 3.0 is not 3).
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, strict=True)


Seconds = Annotated[int, Field(ge=1, le=900, description="Lambda timeout in seconds (1-900)")]
Memory = Annotated[int, Field(ge=128, le=10240, description="Lambda memory in MB (128-10240)")]


#: The retention periods CloudWatch Logs accepts, in days.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)


class FunctionConfig(_Model):
    """Size and limits of one Lambda function."""

    timeout: Seconds = 3
    memory_size: Memory = 128
    reserved_concurrency: Annotated[int, Field(ge=-1, le=10000)] = -1
    log_retention_days: int = 14

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        # A Literal of ints would take true for 1; a strict int and this set do not.
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(f"{value} is not a CloudWatch Logs retention; use one of {', '.join(map(str, LOG_RETENTION_DAYS))}")
        return value


# SNS subscription filter policy limits (Amazon SNS quotas).
FILTER_POLICY_MAX_KEYS = 5
FILTER_POLICY_MAX_COMBINATIONS = 150
FILTER_POLICY_MAX_BYTES = 256 * 1024
_FILTER_OPERATORS = {"prefix", "suffix", "anything-but", "numeric", "exists", "equals-ignore-case", "cidr"}


_NUMERIC_OPERATORS = {"=", "<", "<=", ">", ">="}
#: SNS numeric matching covers -1e9..1e9 (Amazon SNS message filtering).
NUMERIC_LIMIT = 1_000_000_000


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_operator(where: str, item: dict[str, Any]) -> None:
    """One ``{operator: operand}`` object of a filter policy, checked as SNS checks it."""
    if len(item) != 1 or set(item) - _FILTER_OPERATORS:
        raise ValueError(
            f"{where}: {json.dumps(item)} is not a filter operator (one of {', '.join(sorted(_FILTER_OPERATORS))})"
        )
    (operator, operand), = item.items()
    bad = f"{where}: {json.dumps(item)}:"
    if operator in ("prefix", "suffix"):
        if not (isinstance(operand, str) and operand) and not (
            isinstance(operand, dict) and set(operand) == {"equals-ignore-case"} and isinstance(operand["equals-ignore-case"], str)
        ):
            raise ValueError(f"{bad} {operator} takes a non-empty string")
    elif operator in ("equals-ignore-case", "cidr"):
        if not isinstance(operand, str) or not operand:
            raise ValueError(f"{bad} {operator} takes a non-empty string")
    elif operator == "exists":
        if not isinstance(operand, bool):
            raise ValueError(f"{bad} exists takes true or false")
    elif operator == "numeric":
        pairs = operand if isinstance(operand, list) else []
        if (
            len(pairs) not in (2, 4)
            or not all(op in _NUMERIC_OPERATORS for op in pairs[0::2])
            or not all(_is_number(n) for n in pairs[1::2])
        ):
            raise ValueError(f"{bad} numeric takes [operator, number] or two such pairs (operators = < <= > >=)")
        for number in pairs[1::2]:
            if not -NUMERIC_LIMIT <= number <= NUMERIC_LIMIT:  # also false for NaN
                raise ValueError(f"{bad} SNS matches numbers from -1e9 to 1e9 only")
        if len(pairs) == 4:
            (low_op, low, high_op, high) = pairs
            if low_op not in (">", ">=") or high_op not in ("<", "<="):
                raise ValueError(
                    f"{bad} a numeric range is [\">\" or \">=\", lower, \"<\" or \"<=\", upper] in that order"
                )
            if not low < high:
                raise ValueError(f"{bad} the range is empty: its lower bound must be less than its upper bound")
    elif operator == "anything-but":
        values = operand if isinstance(operand, list) else [operand]
        if isinstance(operand, dict):
            if set(operand) not in ({"prefix"}, {"suffix"}) or not isinstance(next(iter(operand.values())), str):
                raise ValueError(f"{bad} anything-but takes values or {{\"prefix\"|\"suffix\": string}}")
        elif not values or not all(isinstance(v, str) or _is_number(v) for v in values):
            raise ValueError(f"{bad} anything-but takes a string, a number or a list of them")


def check_filter_policy(policy: Any, scope: str) -> dict[str, Any]:
    """Validate an SNS filter policy the way SNS does at subscription time; return it as a dict."""
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except json.JSONDecodeError as error:
            raise ValueError(f"is not valid JSON: {error}") from None
    if not isinstance(policy, dict) or not policy:
        raise ValueError("must be a non-empty JSON object mapping attribute names to lists of values")
    if _deeper_than(policy, MAX_DEPTH):
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
    size = len(json.dumps(policy).encode())
    if size > FILTER_POLICY_MAX_BYTES:
        raise ValueError(f"is {size} bytes; SNS allows at most {FILTER_POLICY_MAX_BYTES}")
    leaves: list[tuple[str, list[Any]]] = []
    or_branches = 0

    def walk(node: dict[str, Any], path: str) -> None:
        nonlocal or_branches
        if not node:
            raise ValueError(f"{path.rstrip('.') or 'policy'}: empty object")
        for key, value in node.items():
            where = f"{path}{key}"
            if key == "$or":
                if not isinstance(value, list) or len(value) < 2 or not all(isinstance(v, dict) for v in value):
                    raise ValueError(f"{where}: must be a list of at least two filter objects")
                or_branches += len(value) - 1
                for index, branch in enumerate(value):
                    walk(branch, f"{where}[{index}].")
            elif isinstance(value, dict):
                if scope != "MessageBody":
                    raise ValueError(
                        f"{where}: nested objects are only allowed with filter_policy_scope = 'MessageBody'"
                    )
                walk(value, where + ".")
            elif isinstance(value, list) and value:
                for item in value:
                    if isinstance(item, dict):
                        _check_operator(where, item)
                    elif not isinstance(item, (str, int, float, bool)) and item is not None:
                        raise ValueError(f"{where}: values must be strings, numbers, booleans, null or operators")
                leaves.append((where, value))
            else:
                raise ValueError(f"{where}: must be a non-empty list of values (SNS matches against a list)")

    walk(policy, "")
    if len(leaves) > FILTER_POLICY_MAX_KEYS:
        raise ValueError(f"uses {len(leaves)} attribute keys; SNS allows at most {FILTER_POLICY_MAX_KEYS}")
    combinations = 1
    for _, values in leaves:
        combinations *= len(values)
    combinations += or_branches  # each extra $or branch is matched on its own
    if combinations > FILTER_POLICY_MAX_COMBINATIONS:
        raise ValueError(
            f"has {combinations} combinations of values; SNS allows at most {FILTER_POLICY_MAX_COMBINATIONS}"
        )
    return policy


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether lists/dicts nest deeper than ``limit`` (iterative: depth cannot exhaust the stack)."""
    stack = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return False


def default_subscriber_names(name: str) -> tuple[str, str]:
    """(queue name, function name) of a subscriber that does not name them itself."""
    if name == "main":  # the original design's single subscriber
        return "data-processing-queue", "sqs-message-consumer"
    stem = str(name).replace("_", "-")
    return f"{stem}-queue", f"{stem}-consumer"


class SubscriberConfig(_Model):
    """One queue subscribed to the topic, with its consumer function."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,30}$")] = "main"
    #: Default: "data-processing-queue" for the subscriber named "main", else "<name>-queue".
    queue_name: str = ""
    #: Default: "sqs-message-consumer" for the subscriber named "main", else "<name>-consumer".
    function_name: str = ""
    code: str = "consumer"
    batch_size: Annotated[int, Field(ge=1, le=10000)] = 10
    maximum_batching_window_seconds: Annotated[int, Field(ge=0, le=300)] = 0
    visibility_timeout_seconds: Annotated[int, Field(ge=0, le=43200)] = 30
    message_retention_seconds: Annotated[int, Field(ge=60, le=1209600)] = 345600
    max_receive_count: Annotated[int, Field(ge=1, le=1000)] = 5
    #: How long a processed message is remembered. Must outlast every redelivery: a producer
    #: retry can republish a record up to the stream's maximum record age after it was written,
    #: and the copy can wait in the queue until its retention ends.
    idempotency_ttl_seconds: Annotated[int, Field(ge=60, le=31536000)] = 432000
    raw_message_delivery: bool = False
    #: SNS subscription filter policy, as a table/object or a JSON string.
    filter_policy: dict[str, Any] | str | None = None
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
        from .contract import CONSUMER_DEADLINE_MARGIN_MS, CONSUMER_MESSAGE_BUDGET_MS, consumer_batch_ms

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
    batch_size: Annotated[int, Field(ge=1, le=10000)] = 100
    maximum_batching_window_seconds: Annotated[int, Field(ge=0, le=300)] = 0
    maximum_retry_attempts: Annotated[int, Field(ge=0, le=10000)] = 10
    maximum_record_age_seconds: Annotated[int, Field(ge=60, le=604800)] = 86400
    parallelization_factor: Annotated[int, Field(ge=1, le=10)] = 1
    #: Split a failing batch in two and retry each half, isolating a bad record.
    bisect_batch_on_function_error: bool = True


class S3BackendConfig(_Model):
    """Remote state in S3, locked by S3 itself (use_lockfile) and/or DynamoDB. Without it, state is local."""

    bucket: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")]
    key: Annotated[str, Field(min_length=1, max_length=1024)] = "event-driven-pipeline/terraform.tfstate"
    region: str | None = None
    #: DynamoDB lock table: deprecated in Terraform 1.11 and OpenTofu 1.10 (use_lockfile replaces it).
    dynamodb_table: Annotated[str | None, Field(pattern=r"^[A-Za-z0-9_.-]{3,255}$")] = None
    #: S3 native state locking (a .tflock object next to the state; Terraform >= 1.10, OpenTofu >= 1.10).
    use_lockfile: bool = False
    encrypt: bool = True

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

    #: One customer-managed KMS key (rotated yearly) for the topics and every queue.
    customer_managed_key: bool = True
    key_deletion_window_days: Annotated[int, Field(ge=7, le=30)] = 30
    #: Topic and queue policies deny any request made without TLS.
    enforce_tls: bool = True
    point_in_time_recovery: bool = True
    #: None = on for the environments "production"/"prod", off elsewhere.
    deletion_protection: bool | None = None
    #: X-Ray active tracing on both functions.
    tracing: bool = True
    #: IAM role ARNs allowed to use the messaging key directly (Decrypt, GenerateDataKey*).
    #: Not needed to read or write the queues and topics: any principal of the account may use
    #: the key through SQS and SNS, as its IAM permissions on the queue or topic allow.
    key_users: list[str] = Field(default_factory=list, max_length=20)

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


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class AlarmsConfig(_Model):
    """CloudWatch alarms, published to an alarm topic."""

    enabled: bool = True
    #: Subscribe this address to the alarm topic (AWS sends a confirmation mail).
    email: str | None = None
    #: Oldest message in a subscriber queue, seconds.
    queue_age_seconds: Annotated[int, Field(ge=60, le=1209600)] = 300
    #: Stream iterator age of the producer, milliseconds.
    iterator_age_ms: Annotated[int, Field(ge=1000, le=604800000)] = 60000
    period_seconds: Literal[60, 300, 900, 3600] = 300
    evaluation_periods: Annotated[int, Field(ge=1, le=100)] = 1

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.fullmatch(value):
            raise ValueError(f"{value!r} is not an e-mail address")
        return value


class PipelineConfig(_Model):
    """Everything one environment of the pipeline needs. Defaults = the original design."""

    environment: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,15}$")] = "production"
    #: Appended to the stack name and every AWS resource name (e.g. "-dev"), so that
    #: environments deployed to one account never collide. Applied when the object is
    #: built (the built object holds the final names and an empty suffix).
    name_suffix: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{0,16}$")] = ""
    stack_name: str = "event-driven-pipeline"
    region: str = "us-east-1"
    tags: dict[str, str] = Field(
        default_factory=lambda: {"Environment": "Production", "Project": "EventDrivenArchitecture"}
    )
    table_name: str = "application-data-table"
    topic_name: str = "data-processing-topic"
    producer_function_name: str = "dynamodb-stream-producer"
    #: Folder under functions/ with the producer's app.py.
    producer_code: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")] = "producer"
    #: Stream records that still fail after the retries land here (on-failure destination).
    stream_failure_queue_name: str = "dynamodb-stream-producer-failures"
    runtime: Literal["python3.12"] = "python3.12"
    #: Powertools for AWS Lambda (Python) release both functions use.
    #: With powertools_layer "ssm": "" = no layer at all (then vendor the library yourself).
    powertools_version: Annotated[str, Field(pattern=r"^(\d+\.\d+\.\d+|latest)?$")] = POWERTOOLS_VERSION
    #: Where the functions get Powertools: "ssm" = AWS's public layer, its ARN read at plan time
    #: from the public SSM parameter for powertools_version; a layer ARN (same region); or
    #: "none" = no layer, the function zips carry powertools_version (installed at synth).
    powertools_layer: str = "ssm"
    architecture: Literal["x86_64", "arm64"] = "x86_64"
    producer: FunctionConfig = FunctionConfig()
    stream: StreamConfig = StreamConfig()
    security: SecurityConfig = SecurityConfig()
    alarms: AlarmsConfig = AlarmsConfig()
    dashboard: bool = True
    #: Name of the alarm topic (when alarms are enabled).
    alarm_topic_name: str = "data-processing-alarms"
    #: Optional remote state; None keeps Terraform's local backend (no AWS account needed to synth).
    backend: S3BackendConfig | None = None
    subscribers: list[SubscriberConfig] = Field(default_factory=lambda: [SubscriberConfig()], min_length=1, max_length=50)
    #: "per-item": FIFO topic and queues, each item's changes processed in stream order (constructs_lib/ordering.py).
    ordering: _ordering.Ordering = "none"

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
        suffixed = []
        for sub in subs:
            sub = sub.model_dump() if isinstance(sub, BaseModel) else dict(sub)
            queue, function = default_subscriber_names(sub.get("name", "main"))
            sub["queue_name"] = _ordering.with_suffix(sub.get("queue_name") or queue, suffix)
            sub["function_name"] = f"{sub.get('function_name') or function}{suffix}"
            suffixed.append(sub)
        data["subscribers"] = suffixed
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

    @model_validator(mode="after")
    def _ordering_rules(self) -> "PipelineConfig":
        _ordering.check(self)
        return self

    _table = field_validator("table_name")(lambda v: _check_name("dynamodb table", v))
    _topic = field_validator("topic_name")(lambda v: _check_name("sns topic", v))
    _producer = field_validator("producer_function_name")(lambda v: _check_name("lambda function", v))
    _alarm_topic = field_validator("alarm_topic_name")(lambda v: _check_name("sns topic", v))
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


def _unique_or_raise(field: str, values: list[str]) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{field}: {value!r} is used twice; each must be unique")
        seen.add(value)


# --- construction with readable errors ------------------------------------------------------

_PLAIN_PART = re.compile(r"^[A-Za-z0-9_$-]{1,64}$")


def path_part(part: Any) -> str:
    """One step of a field path in a message: plain names as they are, anything else quoted
    (a key with a newline or an escape sequence must not break or colour the error line)."""
    text = str(part)
    return text if _PLAIN_PART.fullmatch(text) else repr(text)


def _describe(error: ValidationError, prefix: str = "") -> str:
    lines = []
    for item in error.errors():
        where = ".".join(path_part(part) for part in item["loc"]) or "(top level)"
        message = item["msg"].removeprefix("Value error, ")
        head, _, rest = message.partition(": ")
        if rest and not item["loc"]:  # a model-wide rule that names its own field
            where, message = head, rest
        elif rest and head in _FIELD_NAMES:  # a cross-field rule about one field of a nested model
            where, message = f"{where}.{head}", rest
        if item["type"] == "extra_forbidden":
            message = "unknown field (check the spelling; see README 'Configuration')"
        lines.append(f"  {prefix}{where}: {message}")
    return "invalid pipeline configuration:\n" + "\n".join(lines)


_FIELD_NAMES = {
    name
    for model in (PipelineConfig, SubscriberConfig, StreamConfig, SecurityConfig, AlarmsConfig, S3BackendConfig)
    for name in model.model_fields
}


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and key not in ("tags", "filter_policy"):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


#: Deepest nesting a configuration may use (a filter policy inside an environment needs ~10).
MAX_DEPTH = 32
#: Longest integer a configuration may write (the largest limit here, 604800000, has 9 digits).
MAX_INT_DIGITS = 18
#: Python refuses int() of longer texts anyway; while parsing, allow a little more, so that a long
#: number is reported by its field rather than by the parser.
_PARSE_INT_DIGITS = 10_000


class _Duplicates(dict):
    """A JSON object that repeated a key (kept so the error can name where)."""

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        seen: set[str] = set()
        repeated: set[str] = set()
        for key, _ in pairs:
            (repeated if key in seen else seen).add(key)
        self.repeated = sorted(repeated)


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    return _Duplicates(pairs) if len(set(keys)) != len(keys) else dict(pairs)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def check_plain_data(data: Any, where: str = "") -> None:
    """Reject what no field can use and what would break later code: nesting deeper than
    :data:`MAX_DEPTH`, integers longer than :data:`MAX_INT_DIGITS`, non-finite floats, repeated
    JSON keys. Iterative, so depth itself cannot exhaust the stack. ConfigError names the field."""
    stack: list[tuple[Any, str, int]] = [(data, where, 0)]
    while stack:
        value, path, depth = stack.pop()
        name = path or "(top level)"
        if depth > MAX_DEPTH:
            raise ConfigError(f"invalid pipeline configuration:\n  {name}: nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, _Duplicates):
            raise ConfigError(
                f"invalid pipeline configuration:\n  {name}: key {value.repeated[0]!r} appears twice "
                "(a repeated key would silently replace the first value)"
            )
        if isinstance(value, dict):
            stack.extend((v, f"{path}.{path_part(k)}" if path else path_part(k), depth + 1) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, f"{path}.{i}" if path else str(i), depth + 1) for i, v in enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**MAX_INT_DIGITS:
            raise ConfigError(
                f"invalid pipeline configuration:\n  {name}: a number longer than {MAX_INT_DIGITS} digits; "
                "no setting takes one that large"
            )
        elif isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"invalid pipeline configuration:\n  {name}: {value} is not a finite number")


def read_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse a .toml or .json configuration file into a dict (ConfigError on any problem)."""
    file = Path(path)
    if file.is_dir():
        raise ConfigError(f"configuration file {file}: is a directory; name a .toml or .json file")
    if not file.is_file():
        raise ConfigError(f"configuration file {file} does not exist")
    if file.suffix not in (".toml", ".json"):
        raise ConfigError(f"configuration file {file}: use a .toml or .json file")
    try:
        raw = file.read_bytes()
    except OSError as error:
        raise ConfigError(f"configuration file {file}: cannot be read ({error.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"configuration file {file}: is not UTF-8 text (byte 0x{raw[error.start]:02x} at offset {error.start})"
        ) from None
    kind = file.suffix[1:].upper()
    previous_digits = sys.get_int_max_str_digits()
    try:
        sys.set_int_max_str_digits(_PARSE_INT_DIGITS)
        if kind == "TOML":
            data = tomllib.loads(text)
        else:
            data = json.loads(text, object_pairs_hook=_json_object, parse_constant=_no_constant)
    except RecursionError:
        raise ConfigError(f"configuration file {file}: nested deeper than {MAX_DEPTH} levels") from None
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(f"configuration file {file} is not valid {kind}: {error}") from None
    except ValueError as error:  # a number too long even to read, NaN/Infinity in JSON
        detail = "a number is too long to read" if "digits" in str(error) else str(error)
        raise ConfigError(f"configuration file {file} is not valid {kind}: {detail}") from None
    finally:
        sys.set_int_max_str_digits(previous_digits)
    if not isinstance(data, dict):
        raise ConfigError(f"configuration file {file}: the top level must be a table/object")
    check_plain_data(data)
    return data


def environments_from_dict(data: dict[str, Any]) -> list[PipelineConfig]:
    """One config per environment.

    A file either holds one environment's fields at the top level, or an ``environments``
    table (one entry per environment) plus optional ``defaults`` shared by all. In the second
    form each environment's ``environment`` defaults to its key and its ``name_suffix`` to
    ``-<key>``, so environments never collide unless a file insists.
    """
    if "environments" not in data:
        unknown = set(data) - set(PipelineConfig.model_fields)
        if "defaults" in data and not unknown - {"defaults"}:
            raise ConfigError("invalid pipeline configuration:\n  defaults: only allowed together with 'environments'")
        return [build_config(data)]
    extra = set(data) - {"environments", "defaults"}
    if extra:
        raise ConfigError(
            "invalid pipeline configuration:\n  "
            + ", ".join(sorted(extra))
            + ": unknown top-level field next to 'environments' (put shared values under 'defaults')"
        )
    envs = data["environments"]
    if not isinstance(envs, dict) or not envs:
        raise ConfigError("invalid pipeline configuration:\n  environments: must map at least one name to its settings")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise ConfigError("invalid pipeline configuration:\n  defaults: must be a table/object of settings")
    configs = []
    for name, settings in envs.items():
        if not _PLAIN_PART.fullmatch(name) or name.startswith("$"):
            raise ConfigError(
                f"invalid pipeline configuration:\n  environments: {name!r} is not an environment name "
                "(1-64 characters of A-Z a-z 0-9 _ -)"
            )
        if not isinstance(settings, dict) and settings is not None:
            raise ConfigError(
                f"invalid pipeline configuration:\n  environments.{name}: must be a table/object of settings"
            )
        merged = _merge(defaults, settings or {})
        merged.setdefault("environment", name)
        merged.setdefault("name_suffix", f"-{name}")
        try:
            configs.append(PipelineConfig(**merged))
        except ValidationError as error:
            raise ConfigError(_describe(error, prefix=f"environments.{name}.")) from None
    check_no_collisions(configs)
    return configs


def check_no_collisions(configs: list[PipelineConfig]) -> None:
    """Stack names, AWS names within one region, and IAM names anywhere must differ across
    environments."""
    stacks: dict[str, str] = {}
    names: dict[tuple[str, str], str] = {}
    for config in configs:
        if config.stack_name in stacks:
            raise ConfigError(
                f"invalid pipeline configuration:\n  environments {stacks[config.stack_name]!r} and "
                f"{config.environment!r} both use stack_name {config.stack_name!r}"
            )
        stacks[config.stack_name] = config.environment
        for name in config.aws_names():
            key = (config.region, name)
            if key in names and names[key] != config.environment:
                raise ConfigError(
                    f"invalid pipeline configuration:\n  environments {names[key]!r} and {config.environment!r} "
                    f"both create {name!r} in {config.region}: give one a name_suffix or other names"
                )
            names[key] = config.environment
        for name in config.iam_names():
            key = ("iam", name)
            if key in names and names[key] != config.environment:
                raise ConfigError(
                    f"invalid pipeline configuration:\n  environments {names[key]!r} and {config.environment!r} "
                    f"both create the IAM {name!r}; IAM names are account-wide, in every region: give one "
                    "a name_suffix or other function names"
                )
            names[key] = config.environment


def build_config(data: dict[str, Any] | None = None, /, **overrides: Any) -> PipelineConfig:
    """Build a validated :class:`PipelineConfig`, raising :class:`ConfigError` on bad input."""
    values = {**(data or {}), **overrides}
    try:
        return PipelineConfig(**values)
    except ValidationError as error:
        raise ConfigError(_describe(error)) from None
