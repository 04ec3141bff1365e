"""The producer's message size budget: what every subscribed queue can take (issue #20, "Message size end to end").

A queue stores either SNS's JSON envelope around the message or, with raw message delivery, the message itself
(body + attributes); either must fit the queue's ``max_message_size``, and the message must also fit SNS's own
publish limit. :func:`message_budget` is one subscriber's limit, :func:`producer_budget` the producer's (the
smallest of its subscribers'), passed to it in ``MESSAGE_SIZE_BUDGET`` (:func:`budget_environment`). The envelope's
layout and its longest field values live in ``functions/shared/pipeline_message.py`` (the producer counts with it,
in its zip); this module reads it from there. Sources and numbers: docs/message-size.md.
"""

from __future__ import annotations

from collections.abc import Iterable

from .lambda_runtime import shared_module

_message = shared_module("pipeline_message")

#: SNS's publish limit (body + attributes), less the producer's accounting headroom.
SNS_MESSAGE_BYTES: int = _message.MAX_MESSAGE_BYTES
#: SQS's default maximum message size (the queues' own unless the stack sets ``max_message_size``).
DEFAULT_QUEUE_MESSAGE_BYTES: int = _message.DEFAULT_QUEUE_MESSAGE_BYTES
#: The producer's environment variable.
BUDGET_VARIABLE: str = _message.BUDGET_VARIABLE


def message_budget(max_message_size: int | None, raw_delivery: bool) -> int:
    """The largest delivery one subscriber's queue takes, in bytes: with ``raw_delivery`` the message's raw size
    (body + attributes, never above SNS's publish limit), otherwise the whole SNS envelope (as
    ``pipeline_message.envelope_size`` counts it). ``max_message_size`` None: SQS's default."""
    size = DEFAULT_QUEUE_MESSAGE_BYTES if max_message_size is None else int(max_message_size)
    if size <= 0:
        raise ValueError(f"max_message_size must be a positive number of bytes, not {max_message_size!r}")
    return min(size, SNS_MESSAGE_BYTES) if raw_delivery else size


def producer_budget(subscribers: Iterable[tuple[int | None, bool]]):
    """The producer's ``pipeline_message.Budget`` for subscribers given as (max_message_size, raw_delivery): the
    smallest raw budget (SNS's limit at most) and the smallest envelope budget (None when every subscriber uses
    raw delivery)."""
    raw, envelope = SNS_MESSAGE_BYTES, None
    for size, raw_delivery in subscribers:
        budget = message_budget(size, raw_delivery)
        if raw_delivery:
            raw = min(raw, budget)
        else:
            envelope = budget if envelope is None else min(envelope, budget)
    return _message.Budget(raw, envelope)


def budget_environment(subscribers: Iterable[tuple[int | None, bool]]) -> dict[str, str]:
    """``{"MESSAGE_SIZE_BUDGET": ...}`` for the producer's environment."""
    return {BUDGET_VARIABLE: producer_budget(subscribers).to_text()}
