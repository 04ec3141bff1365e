"""Every AWS name a pipeline creates, computed once, from the raw inputs, in one function
(:func:`pipeline_names`), like a Terraform module's ``locals``.

A name the user gives is used as given; a default name gets ``.fifo`` under per-item ordering;
``name_suffix`` goes on every name (before ``.fifo``). Nothing else in the project derives names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from dataclasses import dataclass

from . import defaults
from .ordering import FIFO_SUFFIX, delivery_dlq_name, dlq_name, with_suffix


@dataclass(frozen=True)
class SubscriberNames:
    """The AWS names of one subscriber."""

    name: str
    queue: str
    dlq: str
    function: str
    idempotency_table: str
    #: What SNS could not deliver to the queue (the subscription's redrive policy), apart from the consumer's DLQ.
    delivery_dlq: str = ""


@dataclass(frozen=True)
class PipelineNames:
    """The AWS names of one pipeline."""

    stack: str
    table: str
    topic: str
    producer_function: str
    stream_failure_queue: str
    alarm_topic: str
    key_alias: str
    dashboard: str
    subscribers: tuple[SubscriberNames, ...]
    #: The stream failure bucket's name prefix (with stream.on_failure = "s3"): bucket names are global, so
    #: Terraform appends a unique suffix (bucket_prefix, at most 37 characters).
    failure_bucket_prefix: str = ""
    #: The name prefix of the role SNS assumes to write delivery status logs (with delivery_status_logging):
    #: IAM names are account-wide, so Terraform appends a unique suffix (name_prefix, at most 38 characters).
    delivery_logs_role_prefix: str = ""

    def subscriber(self, name: str) -> SubscriberNames:
        for sub in self.subscribers:
            if sub.name == name:
                return sub
        raise KeyError(name)

    @property
    def function_names(self) -> list[str]:
        return [self.producer_function, *(s.function for s in self.subscribers)]

    def aws_names(self) -> list[str]:
        """Every regional AWS name (table, topics, queues, functions, KMS alias, dashboard)."""
        names = [self.table, self.topic, self.producer_function, self.stream_failure_queue, self.alarm_topic,
                 self.key_alias, self.dashboard]
        for sub in self.subscribers:
            names += [sub.queue, sub.dlq, sub.delivery_dlq, sub.function, sub.idempotency_table]
        return names

    def iam_names(self) -> list[str]:
        """IAM names (account-wide, every region): the lambda module names each function's role
        after the function and its inline policies after the role."""
        return [f"role {name}" for name in self.function_names]


def default_subscriber_names(name: str) -> tuple[str, str]:
    """(queue, function) of a subscriber that names neither: the original design's names for
    the subscriber "main", else ``<name>-queue`` and ``<name>-consumer`` (``_`` becomes ``-``)."""
    if name == defaults.SUBSCRIBER_NAME:
        return defaults.MAIN_QUEUE_NAME, defaults.MAIN_FUNCTION_NAME
    stem = name.replace("_", "-")
    return f"{stem}-queue", f"{stem}-consumer"


def subscriber_names(name: str, queue: str | None = None, function: str | None = None, *,
                     suffix: str = "", fifo: bool = False) -> SubscriberNames:
    default_queue, default_function = default_subscriber_names(name)
    queue = with_suffix(queue or default_queue + (FIFO_SUFFIX if fifo else ""), suffix)
    function = f"{function or default_function}{suffix}"
    return SubscriberNames(name=name, queue=queue, dlq=dlq_name(queue), function=function,
                           idempotency_table=f"{function}-idempotency", delivery_dlq=delivery_dlq_name(queue))


def pipeline_names(*, stack: str | None = None, table: str | None = None, topic: str | None = None,
                   producer_function: str | None = None, stream_failure_queue: str | None = None,
                   alarm_topic: str | None = None, suffix: str = "", fifo: bool = False,
                   subscribers: Iterable[tuple[str, str | None, str | None]] = ()) -> PipelineNames:
    """The names of a pipeline from its raw inputs: ``None`` = the default name.

    ``subscribers`` holds (name, queue name or None, function name or None) per subscriber.
    """
    stack = f"{stack or defaults.STACK_NAME}{suffix}"
    return PipelineNames(
        stack=stack,
        table=f"{table or defaults.TABLE_NAME}{suffix}",
        topic=with_suffix(topic or defaults.TOPIC_NAME + (FIFO_SUFFIX if fifo else ""), suffix),
        producer_function=f"{producer_function or defaults.PRODUCER_FUNCTION_NAME}{suffix}",
        stream_failure_queue=with_suffix(stream_failure_queue or defaults.STREAM_FAILURE_QUEUE_NAME, suffix),
        alarm_topic=with_suffix(alarm_topic or defaults.ALARM_TOPIC_NAME, suffix),
        key_alias=f"alias/{stack}",
        dashboard=stack,
        subscribers=tuple(subscriber_names(n, q, f, suffix=suffix, fifo=fifo) for n, q, f in subscribers),
        failure_bucket_prefix=failure_bucket_prefix(stack),
        delivery_logs_role_prefix=delivery_logs_role_prefix(stack),
    )


#: S3's bucket_prefix limit (Terraform appends 26 characters; bucket names have at most 63).
BUCKET_PREFIX_MAX = 37
_FAILURES = "-failures-"


def failure_bucket_prefix(stack: str) -> str:
    """``<stack>-failures-`` in S3's bucket name characters (lower case, digits, -), cut to fit bucket_prefix."""
    stem = re.sub(r"[^a-z0-9-]+", "-", stack.lower())[: BUCKET_PREFIX_MAX - len(_FAILURES)].strip("-") or "pipeline"
    return f"{stem}{_FAILURES}"


#: IAM's name_prefix limit for roles (Terraform appends 26 characters; role names have at most 64).
ROLE_PREFIX_MAX = 38
_DELIVERY_LOGS = "-sns-logs-"


def delivery_logs_role_prefix(stack: str) -> str:
    """``<stack>-sns-logs-`` in IAM's role name characters, cut to fit name_prefix."""
    stem = re.sub(r"[^A-Za-z0-9+=,.@_-]+", "-", stack)[: ROLE_PREFIX_MAX - len(_DELIVERY_LOGS)].strip("-") or "pipeline"
    return f"{stem}{_DELIVERY_LOGS}"


def delivery_log_groups(region: str, account: str, topic: str) -> tuple[str, str]:
    """The log groups SNS writes a topic's delivery status to: (successes, failures). AWS documents the
    convention ``sns/<region>/<account-id>/<topic-name>``; failed deliveries go to the same name + ``/Failure``."""
    success = f"sns/{region}/{account}/{topic}"
    return success, f"{success}/Failure"


def settings_names(settings: Any, stack: str | None) -> PipelineNames:
    """The names of a pipeline's settings (a ``PipelineConfig`` or ``EventPipelineProps``: the same name
    fields, ``name_suffix``, ``ordering`` and ``subscribers``); ``stack`` is the base of the KMS alias and
    the dashboard name (the configuration's ``stack_name``, the props' ``name``)."""
    return pipeline_names(
        stack=stack, table=settings.table_name, topic=settings.topic_name,
        producer_function=settings.producer_function_name, stream_failure_queue=settings.stream_failure_queue_name,
        alarm_topic=settings.alarm_topic_name, suffix=settings.name_suffix, fifo=settings.ordering == "per-item",
        subscribers=[(s.name, s.queue_name, s.function_name) for s in settings.subscribers],
    )
