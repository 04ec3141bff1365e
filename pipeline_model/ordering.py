"""Per-item ordering (``ordering = "per-item"``): the FIFO naming and validation rules, in one place.

Under ``ordering = "per-item"`` the fan-out topic is an SNS FIFO topic and every subscriber queue (and its
dead-letter queue) an SQS FIFO queue; the producer gives each message the group id of its item (see
functions/shared/pipeline_message.py), so each item's changes reach every consumer in stream order. Under
``"none"`` (the default, the original design) everything stays standard.

What this module decides (the configuration and the constructs call it; nothing else repeats these rules):

* names: a FIFO topic's or queue's name ends in ``.fifo`` and a standard one's must not. Default names get the
  suffix automatically under per-item (:mod:`pipeline_model.names` computes them); a name the configuration
  gives must carry it itself (or not), so a name never changes behind the user's back. ``name_suffix`` goes
  before ``.fifo``.
* the sqs module names a FIFO queue's dead-letter queue ``<name without .fifo>-dlq.fifo``.
* the stream failure queue stays standard in both modes: it is the stream event source mapping's on-failure
  destination, and Lambda destinations do not accept FIFO queues (it receives batch descriptions, not changes;
  ``tools/replay_stream_failures.py`` republishes through the producer, which sets the group ids again).
* the alarm topic stays standard: CloudWatch alarms publish to standard topics, and its email subscription
  needs one.
* module inputs: FIFO topic / queues with content-based deduplication off (the producer sets the deduplication
  id to the stream record's eventID), deduplication and throughput scoped to the message group (one group per
  item: many groups, so the per-group quotas are the ones that matter).
"""

from __future__ import annotations

from typing import Any, Literal

from .errors import Problem

Ordering = Literal["none", "per-item"]
ORDERINGS: tuple[str, ...] = ("none", "per-item")
FIFO_SUFFIX = ".fifo"


def is_fifo(config: Any) -> bool:
    """Whether a PipelineConfig asks for per-item ordering."""
    return getattr(config, "ordering", "none") == "per-item"


def is_fifo_name(name: str) -> bool:
    return name.endswith(FIFO_SUFFIX)


def stem(name: str) -> str:
    """The name without its ``.fifo`` suffix."""
    return name[: -len(FIFO_SUFFIX)] if is_fifo_name(name) else name


def with_suffix(name: str, suffix: str) -> str:
    """``name_suffix`` appended to a name, before ``.fifo`` when there is one (``q.fifo`` + ``-dev`` = ``q-dev.fifo``)."""
    return f"{stem(name)}{suffix}{FIFO_SUFFIX}" if is_fifo_name(name) else f"{name}{suffix}"


def dlq_name(queue_name: str) -> str:
    """The dead-letter queue's name as the sqs module builds it: ``<q>-dlq``, or ``<q>-dlq.fifo`` for ``<q>.fifo``."""
    return with_suffix(queue_name, "-dlq")


#: SQS queue names: at most 80 characters.
QUEUE_NAME_MAX_CHARS = 80
DELIVERY_DLQ_SUFFIX = "-delivery-dlq"


def delivery_dlq_name(queue_name: str) -> str:
    """The queue keeping what SNS could not deliver to ``queue_name`` (the subscription's redrive policy):
    ``<q>-delivery-dlq`` (``<q>-delivery-dlq.fifo`` for ``<q>.fifo``: SNS requires a FIFO dead-letter queue for a
    FIFO subscription). A queue name too long for that keeps its first characters and a hash of the whole name."""
    name = with_suffix(queue_name, DELIVERY_DLQ_SUFFIX)
    if len(name) <= QUEUE_NAME_MAX_CHARS:
        return name
    import hashlib

    digest = hashlib.sha256(queue_name.encode("utf-8")).hexdigest()[:8]
    tail = f"-{digest}{DELIVERY_DLQ_SUFFIX}"
    keep = QUEUE_NAME_MAX_CHARS - len(tail) - (len(FIFO_SUFFIX) if is_fifo_name(queue_name) else 0)
    return with_suffix(stem(queue_name)[:keep], tail)


def check(config: Any, names: Any) -> list[Problem]:
    """The computed names (``names``, a PipelineNames) and the settings fit the ordering; one Problem per
    broken rule, naming the user's field. Default names get ``.fifo`` under per-item (pipeline_model.names);
    a name the configuration gives must carry it itself (or not), so a name never changes behind the
    user's back."""
    fifo = is_fifo(config)
    problems: list[Problem] = []
    if is_fifo_name(names.stream_failure_queue):
        problems.append(Problem(
            "stream_failure_queue_name", f"{names.stream_failure_queue!r} must not end in '.fifo': it is the "
            "stream mapping's on-failure destination, and Lambda destinations accept only standard queues"))
    if is_fifo_name(names.alarm_topic):
        problems.append(Problem(
            "alarm_topic_name", f"{names.alarm_topic!r} must not end in '.fifo': CloudWatch alarms and the "
            "email subscription need a standard topic"))
    if fifo and not is_fifo_name(names.topic):
        problems.append(Problem(
            "topic_name", f"{names.topic!r} must end in '.fifo' with ordering = 'per-item' (the topic is an "
            "SNS FIFO topic)", "leave topic_name unset to get the default name with the suffix"))
    if not fifo and is_fifo_name(names.topic):
        problems.append(Problem(
            "topic_name", f"{names.topic!r} ends in '.fifo', a FIFO topic's name",
            "set ordering = 'per-item' or drop the suffix"))
    for index, (sub, sub_names) in enumerate(zip(config.subscribers, names.subscribers)):
        where = f"subscribers.{index}."
        if fifo and not is_fifo_name(sub_names.queue):
            problems.append(Problem(
                f"{where}queue_name", f"{sub_names.queue!r} is a standard queue, which would lose the per-item "
                "order: with ordering = 'per-item' every subscriber queue is a FIFO queue and its name ends in "
                "'.fifo'", "leave queue_name unset to get the default name with the suffix"))
        if not fifo and is_fifo_name(sub_names.queue):
            problems.append(Problem(
                f"{where}queue_name", f"{sub_names.queue!r} ends in '.fifo', a FIFO queue's name",
                "set ordering = 'per-item' or drop the suffix"))
        if fifo:
            problems += [Problem(where + p.field, p.rule, p.hint) for p in fifo_mapping_problems(sub)]
    # Filter policies: SNS FIFO topics match both scopes (MessageAttributes and MessageBody), and raw delivery
    # to SQS FIFO queues works, so neither needs a rule here.
    return problems


def fifo_mapping_problems(sub: Any) -> list[Problem]:
    """The ways a SubscriberConfig's mapping settings do not suit a FIFO queue (fields relative to the subscriber)."""
    problems = []
    if sub.batch_size > 10:
        problems.append(Problem("batch_size", f"{sub.batch_size} is above 10: Lambda reads FIFO queues in batches "
                                              "of at most 10 (ordering = 'per-item')"))
    if sub.maximum_batching_window_seconds:
        problems.append(Problem("maximum_batching_window_seconds", "must be 0 with ordering = 'per-item': Lambda's "
                                                                   "batching window is not supported for FIFO queues"))
    return problems


def fifo_mapping_problem(sub: Any) -> str | None:
    """``"<field>: <rule>"`` of the first of :func:`fifo_mapping_problems`, or None (for callers that
    want one line)."""
    problems = fifo_mapping_problems(sub)
    return str(problems[0]) if problems else None


#: sns module inputs of a FIFO topic (``Topic`` with ``TopicProps(fifo=True)``).
FIFO_TOPIC_INPUTS: dict[str, Any] = {
    "fifo_topic": True, "content_based_deduplication": False, "fifo_throughput_scope": "MessageGroup",
}
#: sqs module inputs of a FIFO queue and its DLQ (``Queue`` with ``QueueProps(fifo=True)``); the module
#: makes the DLQ FIFO too and gives it these deduplication and throughput settings.
FIFO_QUEUE_INPUTS: dict[str, Any] = {
    "fifo_queue": True,
    "content_based_deduplication": False,
    "deduplication_scope": "messageGroup",
    "fifo_throughput_limit": "perMessageGroupId",
}


def fifo_name_problem(name: str, fifo: bool, what: str) -> str | None:
    """Why ``name`` does not fit a FIFO (or standard) topic or queue, or None."""
    if fifo and not is_fifo_name(name):
        return f"{name!r}: a FIFO {what}'s name must end in '.fifo'"
    if not fifo and is_fifo_name(name):
        return f"{name!r} ends in '.fifo', which only a FIFO {what} may (set fifo=True)"
    return None
