"""Business logic of the consumer: replace :func:`process` with the real work.

``process(message)`` receives the producer's payload as a dict (format: functions/producer/app.py):
``eventID``, ``eventName`` (INSERT/MODIFY/REMOVE), ``tableName``, ``keys``, ``newImage``, ``oldImage``,
``sequenceNumber``, ``approximateCreationDateTime``, ``userIdentity`` (TTL deletions only), ``truncated``.
Numbers arrive exact: integers as ``int``, decimals as ``decimal.Decimal``. When ``truncated`` is true
the images are null (the item was too big for SNS): re-read the item from the table by ``keys`` if needed.

Contract: return normally = done (recorded as processed, never run again for this eventID);
raise = this message failed (it is retried later, and ends in the queue's DLQ after maxReceiveCount).
The consumer looks this function up at call time (``business.process``), so tests and local runners can
monkeypatch it.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "consumer"), child=True)


def process(message: dict) -> None:
    """Default implementation: log a structured summary of the change."""
    logger.info(
        "processing change",
        extra={
            "eventID": message.get("eventID"),
            "eventName": message.get("eventName"),
            "tableName": message.get("tableName"),
            "keys": message.get("keys"),
            "truncated": message.get("truncated"),
        },
    )
