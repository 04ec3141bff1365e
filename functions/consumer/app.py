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

Environment: ``IDEMPOTENCY_TABLE`` (optional, strongly recommended), ``SUBSCRIBER_NAME`` (optional),
``IDEMPOTENCY_TTL_SECONDS`` (optional, default 432000 = 5 days; must cover the longest gap between two
deliveries of one record: queue retention + stream maximum record age).
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from typing import Any

import business
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "consumer"))

DEFAULT_IDEMPOTENCY_TTL_SECONDS = 5 * 24 * 3600

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
    if not isinstance(doc, dict):
        raise MalformedMessage("payload is not a JSON object")
    event_id = doc.get("eventID")
    if not isinstance(event_id, str) or not event_id:
        raise MalformedMessage("payload has no eventID")
    return doc


# ---------------------------------------------------------------------------------------------- idempotency

_idempotency: dict[str, Any] = {"settings": None, "runner": None, "config": None, "warned": False, "session": None}


def _run(message: dict) -> None:
    business.process(message)  # looked up at call time: business.process may be replaced


def _runner():
    """(callable(message), IdempotencyConfig | None), built once per container and per settings."""
    table = os.environ.get("IDEMPOTENCY_TABLE") or None
    subscriber = os.environ.get("SUBSCRIBER_NAME", "")
    ttl = int(os.environ.get("IDEMPOTENCY_TTL_SECONDS") or DEFAULT_IDEMPOTENCY_TTL_SECONDS)
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
        from botocore.config import Config

        if state["session"] is None:  # one boto3 session per container (service models are parsed once)
            state["session"] = boto3.session.Session()
        persistence = DynamoDBPersistenceLayer(
            table_name=table,
            boto3_session=state["session"],
            boto_config=Config(retries={"mode": "standard", "total_max_attempts": 5}, connect_timeout=5, read_timeout=10),
        )
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


def handler(event: dict, context: Any) -> dict:
    runner, config = _runner()
    if config is not None and context is not None and hasattr(context, "get_remaining_time_in_millis"):
        # In-progress records expire when this invocation would time out, so a crash does not block retries.
        config.register_lambda_context(context)

    def record_handler(record) -> None:
        try:
            message = parse_body(record.body)
        except MalformedMessage as exc:
            logger.error("malformed message", extra={"messageId": record.message_id, "error": str(exc)})
            raise
        try:
            runner(message)
        except Exception as exc:
            logger.warning(
                "message failed",
                extra={"messageId": record.message_id, "eventID": message.get("eventID"), "error": repr(exc)},
            )
            raise

    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
