"""Consumer: SQS (fed by the SNS topic) -> business.process(message), once per stream record.

* Body: either the SNS envelope (``{"Type": "Notification", "Message": "<payload JSON>", ...}``) or, with raw
  message delivery, the payload itself; both are detected per message, by ``pipeline_message.parse_body`` (the
  module that builds the producer's messages, carried by every function zip). Numbers are parsed exactly
  (``parse_float=Decimal``; ints are exact).
* Each payload goes to ``business.process(message)``, looked up at call time so it can be monkeypatched.
* Partial batch response (Powertools BatchProcessor): only failed messages are reported (by SQS messageId);
  a malformed body fails that message alone. Requires ``function_response_types = ["ReportBatchItemFailures"]``
  on the event source mapping.
* FIFO queues (``ordering = "per-item"``; the records carry ``attributes.MessageGroupId``): Powertools
  ``SqsFifoPartialProcessor(skip_group_on_error=True)``. After a message fails, every later message of the SAME
  group (the same item) in the batch is reported too, without being processed, so SQS redelivers them in order
  behind it; messages of other groups go on. (Its default, ``skip_group_on_error=False``, would report every
  message after the first failure, holding back unrelated items too. AWS's Lambda guide recommends that
  stop-at-first-failure form for FIFO queues in general; with one group per item, per-group skipping keeps
  every item's order and lets the other items progress.) Standard queues keep the BatchProcessor above.
* Idempotency (Powertools, DynamoDB table ``IDEMPOTENCY_TABLE``: hash key ``id`` (S), TTL ``expiration``):
  the key is the producer's ``eventID`` plus ``SUBSCRIBER_NAME``, so SNS/SQS redeliveries and producer
  retries run the business logic once. A failing ``process`` is not recorded (a retry runs it again).
  A duplicate arriving while the first copy is still in progress fails (and is retried later).
  Without ``IDEMPOTENCY_TABLE`` the consumer runs without deduplication and logs a warning once.

* Every failed message is logged with its SQS ``messageId`` (malformed bodies, bodies nested too deeply to
  parse, business failures, idempotency store errors), and so is every message left for redelivery by the
  deadline below.

Deadline (the function timeout defaults to 3 s). Letting the invocation time out is the worst outcome: Lambda
then treats the whole batch as failed, so messages already processed come back, and a message still in progress
can run again in a second invocation. So:

* Idempotency client bounds: ``connect_timeout`` 0.5 s, ``read_timeout`` 0.5 s, standard-mode retries with at most
  2 attempts. One HTTP attempt is bounded by ``ATTEMPT_BOUND_MS`` = 1,000 ms (DynamoDB answers in milliseconds).
* No DynamoDB attempt (first or retry) starts with less than ``ATTEMPT_MARGIN_MS`` = one attempt + 250 ms left:
  the call fails at once instead, so the message fails and is reported.
* No message starts with less than ``DEADLINE_MARGIN_MS`` = two attempts + 250 ms = 2,250 ms left (a message makes
  two idempotency calls: "in progress" before the business logic and "completed" after it). The first message of
  an invocation is always started, so every invocation makes progress; its calls are still bounded as above.
  Messages not started are logged ("deadline reached") and reported in ``batchItemFailures`` in batch order;
  SQS redelivers them after the visibility timeout.
* If the "completed" write fails (or is refused at the deadline) after the business logic ran, the message is
  reported as failed and its redelivery runs the business logic again once the "in progress" record expires
  (at this invocation's deadline): at least once, as for any failure between the business logic and the write.
* ``cdktf synth`` refuses a ``batch_size`` that cannot fit: ``batch_size x MESSAGE_BUDGET_MS (50 ms) +
  DEADLINE_MARGIN_MS <= timeout`` (pipeline_model/contract.py holds the same numbers; a test keeps them equal).
  Business logic slower than about 50 ms per message needs a larger timeout or a smaller batch.
  Without a context (or without ``get_remaining_time_in_millis``) there is no deadline check.

Environment, read once at init (a Lambda function's environment does not change between invocations):
``IDEMPOTENCY_TABLE`` (optional, strongly recommended), ``SUBSCRIBER_NAME`` (optional),
``IDEMPOTENCY_TTL_SECONDS`` (optional, default 432000 = 5 days; must cover the longest gap between two
deliveries of one record: queue retention + stream maximum record age). A value that is not a positive whole
number of seconds fails the function at init, with a message naming the variable. The idempotency client is
created once, at init, and only when ``IDEMPOTENCY_TABLE`` is set.
"""

from __future__ import annotations

import os
import re
from typing import Any

import business
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    SqsFifoPartialProcessor,
    process_partial_response,
)
from lambda_deadline import DeadlineReached, remaining_ms
from pipeline_message import MalformedMessage, parse_body

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "consumer"))

DEFAULT_IDEMPOTENCY_TTL_SECONDS = 5 * 24 * 3600

# Client bounds, margins and the per-message budget: see "Deadline" in the module docstring.
CONNECT_TIMEOUT_S = 0.5
READ_TIMEOUT_S = 0.5
MAX_ATTEMPTS = 2
ATTEMPT_BOUND_MS = int((CONNECT_TIMEOUT_S + READ_TIMEOUT_S) * 1000)
RETURN_SLACK_MS = 250
ATTEMPT_MARGIN_MS = ATTEMPT_BOUND_MS + RETURN_SLACK_MS
DEADLINE_MARGIN_MS = 2 * ATTEMPT_BOUND_MS + RETURN_SLACK_MS
MESSAGE_BUDGET_MS = 50


class ConfigurationError(ValueError):
    """A bad environment variable: raised at import, so the function fails at init with this message."""


def idempotency_ttl_seconds(environ=os.environ) -> int:
    """``IDEMPOTENCY_TTL_SECONDS`` as a positive whole number of seconds (unset or empty: the default)."""
    raw = environ.get("IDEMPOTENCY_TTL_SECONDS", "")
    if raw.strip() == "":
        return DEFAULT_IDEMPOTENCY_TTL_SECONDS
    if not re.fullmatch(r"\s*[0-9]{1,10}\s*", raw) or int(raw) <= 0:
        raise ConfigurationError(
            f"IDEMPOTENCY_TTL_SECONDS={raw[:40]!r}: must be a positive whole number of seconds "
            f"(default {DEFAULT_IDEMPOTENCY_TTL_SECONDS})"
        )
    return int(raw)


IDEMPOTENCY_TABLE = os.environ.get("IDEMPOTENCY_TABLE") or None
SUBSCRIBER_NAME = os.environ.get("SUBSCRIBER_NAME", "")
IDEMPOTENCY_TTL_SECONDS = idempotency_ttl_seconds()  # a bad value fails the function at init

# The Lambda context of the invocation in progress (one at a time per container), for the attempt guard.
_context: Any = None


def _guard_attempt(request: Any = None, **kwargs: Any) -> None:
    """botocore ``request-created`` hook on the idempotency client: refuse an attempt that could outlive the function."""
    left = remaining_ms(_context)
    if left is not None and left < ATTEMPT_MARGIN_MS:
        raise DeadlineReached(f"{left} ms left (< {ATTEMPT_MARGIN_MS} ms): not starting a DynamoDB request")


def idempotency_client() -> Any:
    """The bounded, deadline-guarded DynamoDB client of the idempotency store."""
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "dynamodb",
        config=Config(
            retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
            connect_timeout=CONNECT_TIMEOUT_S,
            read_timeout=READ_TIMEOUT_S,
        ),
    )
    client.meta.events.register("request-created.dynamodb", _guard_attempt, unique_id="consumer-deadline")
    return client


processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
#: For FIFO queues: a failed message holds back the later messages of its group only.
fifo_processor = SqsFifoPartialProcessor(skip_group_on_error=True)
# As for the standard processor: a batch whose every message failed is a partial response listing them all, not an
# exception (this processor's constructor does not take the setting, so it is set on the instance).
fifo_processor.raise_on_entire_batch_failure = False


def is_fifo_event(event: Any) -> bool:
    """Whether the SQS event comes from a FIFO queue (its records carry a MessageGroupId)."""
    records = event.get("Records") if isinstance(event, dict) else None
    return isinstance(records, list) and any(
        isinstance(r, dict) and isinstance(r.get("attributes"), dict) and r["attributes"].get("MessageGroupId")
        for r in records
    )


# ---------------------------------------------------------------------------------------------- idempotency


def _run(message: dict) -> None:
    business.process(message)  # looked up at call time: business.process may be replaced


if IDEMPOTENCY_TABLE is None:
    logger.warning("IDEMPOTENCY_TABLE is not set: running WITHOUT idempotency (duplicates are processed again)")
    #: The idempotency client (None without IDEMPOTENCY_TABLE) and the Powertools configuration.
    dynamodb = None
    idempotency_config = None
    run_once = _run
else:
    # Imported only here, so containers without idempotency (and their cold import) do not pay for it.
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    dynamodb = idempotency_client()
    idempotency_config = IdempotencyConfig(expires_after_seconds=IDEMPOTENCY_TTL_SECONDS, raise_on_no_idempotency_key=True)

    @idempotent_function(
        data_keyword_argument="key",
        persistence_store=DynamoDBPersistenceLayer(table_name=IDEMPOTENCY_TABLE, boto3_client=dynamodb),
        config=idempotency_config,
        key_prefix=f"consumer:{SUBSCRIBER_NAME or 'default'}",
    )
    def _process_once(*, key: dict, message: dict) -> None:
        _run(message)

    def run_once(message: dict) -> None:
        """The business logic, once per eventID and subscriber."""
        _process_once(key={"eventID": message["eventID"], "subscriber": SUBSCRIBER_NAME}, message=message)


# ---------------------------------------------------------------------------------------------- handler


def _describe(exc: BaseException) -> str:
    try:
        return repr(exc)[:1000]
    except Exception:  # a broken __repr__ must not hide the failure
        return type(exc).__name__


def handler(event: dict, context: Any) -> dict:
    if idempotency_config is not None and context is not None and hasattr(context, "get_remaining_time_in_millis"):
        # In-progress records expire when this invocation would time out, so a crash does not block retries.
        idempotency_config.register_lambda_context(context)
    started = 0
    not_started: list[str] = []
    handled: set[str] = set()  # messages record_handler saw (the FIFO processor skips the rest of a failed group)

    def record_handler(record) -> None:
        nonlocal started
        handled.add(record.message_id)
        left = remaining_ms(context)
        if started and left is not None and left < DEADLINE_MARGIN_MS:
            not_started.append(record.message_id)
            raise DeadlineReached(f"{left} ms left (< {DEADLINE_MARGIN_MS} ms): message not started")
        started += 1
        try:
            message = parse_body(record.body)
        except MalformedMessage as exc:
            logger.error("malformed message", extra={"messageId": record.message_id, "error": str(exc)})
            raise
        except Exception as exc:
            logger.error("message failed", extra={"messageId": record.message_id, "error": _describe(exc)})
            raise
        try:
            run_once(message)
        except Exception as exc:
            logger.warning(
                "message failed",
                extra={"messageId": record.message_id, "eventID": message.get("eventID"), "error": _describe(exc)},
            )
            raise

    global _context
    _context = context
    fifo = is_fifo_event(event)
    try:
        response = process_partial_response(
            event=event, record_handler=record_handler, processor=fifo_processor if fifo else processor, context=context
        )
        if fifo:
            held = [f["itemIdentifier"] for f in response.get("batchItemFailures", []) if f["itemIdentifier"] not in handled]
            if held:
                logger.warning(
                    "held back behind a failed message of the same group (item): reported for redelivery in order",
                    extra={"messageIds": held},
                )
        return response
    finally:
        _context = None
        if not_started:
            logger.warning(
                "deadline reached: messages not started, reported for redelivery",
                extra={"messageIds": not_started, "margin_ms": DEADLINE_MARGIN_MS, "started": started},
            )
