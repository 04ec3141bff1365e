"""Consumer: SQS (fed by the SNS topic) -> business.process(message), once per stream record.

* Body: either the SNS envelope (``{"Type": "Notification", "Message": "<payload JSON>", ...}``) or, with raw
  message delivery, the payload itself; both are detected per message. Numbers are parsed exactly
  (``parse_float=Decimal``; ints are exact).
* Each payload goes to ``business.process(message)``, looked up at call time so it can be monkeypatched.
* Partial batch response (Powertools BatchProcessor): only failed messages are reported (by SQS messageId);
  a malformed body fails that message alone. Requires ``function_response_types = ["ReportBatchItemFailures"]``
  on the event source mapping.
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
  DEADLINE_MARGIN_MS <= timeout`` (constructs_lib/contract.py holds the same numbers; a test keeps them equal).
  Business logic slower than about 50 ms per message needs a larger timeout or a smaller batch.
  Without a context (or without ``get_remaining_time_in_millis``) there is no deadline check.

Environment: ``IDEMPOTENCY_TABLE`` (optional, strongly recommended), ``SUBSCRIBER_NAME`` (optional),
``IDEMPOTENCY_TTL_SECONDS`` (optional, default 432000 = 5 days; must cover the longest gap between two
deliveries of one record: queue retention + stream maximum record age). A value that is not a positive whole
number of seconds fails the function at init, with a message naming the variable.
"""

from __future__ import annotations

import json
import os
import re
from decimal import Decimal
from typing import Any

import business
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

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


idempotency_ttl_seconds()  # a bad value fails the function at init, not every invocation


class DeadlineReached(Exception):
    """Raised instead of starting a message, or a DynamoDB attempt, that could outlive the function."""


def remaining_ms(context: Any) -> int | None:
    """Milliseconds left in the invocation, or None when unknown (no context, or a context without the method)."""
    get = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(get):
        return None
    try:
        return int(get())
    except Exception:  # a broken context must not break processing
        return None


# The Lambda context of the invocation in progress (one at a time per container), for the attempt guard.
_context: Any = None


def _guard_attempt(request: Any = None, **kwargs: Any) -> None:
    """botocore ``request-created`` hook on the idempotency client: refuse an attempt that could outlive the function."""
    left = remaining_ms(_context)
    if left is not None and left < ATTEMPT_MARGIN_MS:
        raise DeadlineReached(f"{left} ms left (< {ATTEMPT_MARGIN_MS} ms): not starting a DynamoDB request")


def idempotency_client(session: Any) -> Any:
    """The bounded, deadline-guarded DynamoDB client of the idempotency store."""
    from botocore.config import Config

    client = session.client(
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


class MalformedMessage(ValueError):
    """The SQS body is not a producer payload (nor an SNS envelope around one)."""


def parse_body(body: str | None) -> dict:
    """The producer payload from an SQS body, SNS envelope or raw delivery."""
    try:
        doc = json.loads(body or "", parse_float=Decimal)
        if isinstance(doc, dict) and doc.get("Type") == "Notification" and "Message" in doc:
            inner = doc["Message"]
            if not isinstance(inner, str):
                raise MalformedMessage("SNS envelope Message is not a string")
            doc = json.loads(inner, parse_float=Decimal)
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        if isinstance(exc, MalformedMessage):
            raise
        raise MalformedMessage(f"body is not JSON: {exc}") from exc
    except RecursionError as exc:  # json.loads of a deeply nested document
        raise MalformedMessage("body is nested too deeply to parse") from exc
    if not isinstance(doc, dict):
        raise MalformedMessage("payload is not a JSON object")
    event_id = doc.get("eventID")
    if not isinstance(event_id, str) or not event_id:
        raise MalformedMessage("payload has no eventID")
    return doc


# ---------------------------------------------------------------------------------------------- idempotency

_idempotency: dict[str, Any] = {
    "settings": None, "runner": None, "config": None, "warned": False, "session": None, "client": None,
}


def _run(message: dict) -> None:
    business.process(message)  # looked up at call time: business.process may be replaced


def _runner():
    """(callable(message), IdempotencyConfig | None), built once per container and per settings."""
    table = os.environ.get("IDEMPOTENCY_TABLE") or None
    subscriber = os.environ.get("SUBSCRIBER_NAME", "")
    ttl = idempotency_ttl_seconds()
    settings = (table, subscriber, ttl)
    state = _idempotency
    if state["settings"] == settings:
        return state["runner"], state["config"]
    if table is None:
        if not state["warned"]:
            logger.warning("IDEMPOTENCY_TABLE is not set: running WITHOUT idempotency (duplicates are processed again)")
            state["warned"] = True
        runner, config = (lambda message: _run(message)), None
    else:
        # Imported here so containers without idempotency (and the cold import) do not pay for it.
        from aws_lambda_powertools.utilities.idempotency import (
            DynamoDBPersistenceLayer,
            IdempotencyConfig,
            idempotent_function,
        )
        import boto3

        if state["client"] is None:  # one session and client per container (service models are parsed once)
            state["session"] = state["session"] or boto3.session.Session()
            state["client"] = idempotency_client(state["session"])
        persistence = DynamoDBPersistenceLayer(table_name=table, boto3_client=state["client"])
        config = IdempotencyConfig(expires_after_seconds=ttl, raise_on_no_idempotency_key=True)

        @idempotent_function(
            data_keyword_argument="key",
            persistence_store=persistence,
            config=config,
            key_prefix=f"consumer:{subscriber or 'default'}",
        )
        def process_once(*, key: dict, message: dict) -> None:
            _run(message)

        def runner(message: dict) -> None:
            process_once(key={"eventID": message["eventID"], "subscriber": subscriber}, message=message)

    state.update(settings=settings, runner=runner, config=config)
    return runner, config


# ---------------------------------------------------------------------------------------------- handler


def _describe(exc: BaseException) -> str:
    try:
        return repr(exc)[:1000]
    except Exception:  # a broken __repr__ must not hide the failure
        return type(exc).__name__


def handler(event: dict, context: Any) -> dict:
    runner, config = _runner()
    if config is not None and context is not None and hasattr(context, "get_remaining_time_in_millis"):
        # In-progress records expire when this invocation would time out, so a crash does not block retries.
        config.register_lambda_context(context)
    started = 0
    not_started: list[str] = []

    def record_handler(record) -> None:
        nonlocal started
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
            runner(message)
        except Exception as exc:
            logger.warning(
                "message failed",
                extra={"messageId": record.message_id, "eventID": message.get("eventID"), "error": _describe(exc)},
            )
            raise

    global _context
    _context = context
    try:
        return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    finally:
        _context = None
        if not_started:
            logger.warning(
                "deadline reached: messages not started, reported for redelivery",
                extra={"messageIds": not_started, "margin_ms": DEADLINE_MARGIN_MS, "started": started},
            )
