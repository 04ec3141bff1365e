"""Producer: DynamoDB stream records -> SNS messages (PublishBatch).

Message format: ``pipeline_message.py`` (functions/shared/, carried at the root of every function zip) builds
the message of each record (plain JSON, numbers exact, UTF-8, the ``eventName``/``tableName`` attributes for filter
policies, keys-only ``truncated`` messages for records over SNS's 256 KiB) and the consumers parse it with the same
module.

Batching: SNS PublishBatch with at most 10 entries and at most 256 KiB (body + attributes) per request,
so 1,000 small records => 100 calls.

Oversize records: a record whose message would exceed 256 KiB is published keys-only (``truncated: true``, see
pipeline_message.py) and logged as a warning with its eventID, keys and reason, neither dropped nor retried forever.
A record that cannot be converted at all gets the same treatment; if even its keys cannot be converted, the record
is reported as failed (see below).

Malformed records: a record that is not an object, has no ``dynamodb`` object, or no ``SequenceNumber`` string
(Lambda never sends one; a hand-made or corrupted event might) is not published and never raises. It is logged
at ERROR with its position and content, and counts as the first failed record (see below). Its own position
cannot be reported (``itemIdentifier`` is a sequence number, and an empty one would fail the whole batch), so
the producer reports the record just before it (already published: republished on retry, consumers drop the
duplicate), which keeps the malformed record inside the range Lambda retries and, after the retries, names in
the on-failure message. Only when no record before it has a sequence number (a malformed record at the head of
the batch) is there nothing to resume from: the report starts at the next identifiable record, and the
malformed records are logged in full ("cannot be retried"): that log is their only copy. A batch with no
identifiable record at all is logged the same way and reported as done (Lambda never sends one).

Failures: SNS-reported failed entries and any exception are returned as
``{"batchItemFailures": [{"itemIdentifier": <SequenceNumber>}, ...]}`` listing the FIRST failed record and
EVERY record after it in the batch (one batch = one shard, and Lambda resumes from the lowest reported
sequence number); records before the first failure are never reported. Publishing stops at the first
failed request. Records after the failure that were already published in the same request are published
again on retry; consumers suppress those duplicates by ``eventID``.

Deadline (the function timeout defaults to 3 s): a stream batch of 100 records needs 10 sequential
PublishBatch calls, and letting the invocation time out is the worst outcome -- Lambda counts it as a function
error, so EVERY record of the batch is retried and republished and a retry attempt is burnt. So:

* SNS client bounds: ``connect_timeout`` 1 s, ``read_timeout`` 1 s, standard-mode retries with at most 3
  attempts (2 retries, jittered back-off of at most 1 s then 2 s). One HTTP attempt is therefore bounded by about
  ``CONNECT_TIMEOUT_S + READ_TIMEOUT_S`` = 2 s (the read timeout applies per socket read; PublishBatch responses
  are a few hundred bytes). SNS normally answers in tens of milliseconds, so 1 s is generous; a timed-out attempt
  may still have been published by SNS and is retried -- consumers drop the duplicate by ``eventID``. The
  unguarded worst case of one call (3 x 2 s + 3 s back-off = 9 s) is not reachable because of the next point.
* Safety margin ``DEADLINE_MARGIN_MS = max(500 ms, one attempt's bound)`` = 2,000 ms. Before every PublishBatch
  call except the invocation's first, and before every botocore retry attempt, the producer reads
  ``context.get_remaining_time_in_millis()``; with less than the margin left it stops, logs
  "deadline reached", and reports the first unpublished record and every later one (the ordering rule below);
  records already published in this invocation are not reported. The first call of an invocation is always
  attempted, so every invocation makes progress even when the function timeout is shorter than the margin
  (otherwise a tiny timeout would report the whole batch on every retry until it expires). A 3 s function thus
  publishes for about 1 s per invocation (plenty for 10 calls at normal latency); a slow SNS leads to a partial
  batch response instead of a timeout. A margin of one *attempt* (not the 9 s worst-case call) is enough
  because retries are deadline-checked too. Without a context (or without ``get_remaining_time_in_millis``)
  there is no deadline check.

Per-item ordering: when ``SNS_TOPIC_ARN`` names a FIFO topic (it ends in ``.fifo``; SNS requires the two ids
exactly then), every entry carries ``MessageGroupId`` (the table and the item's keys) and
``MessageDeduplicationId`` (the record's eventID), see "FIFO ids" in pipeline_message.py. Records are published
in stream order, so each item's changes enter its group in order, and the failure rule above keeps that order on
retry. A request carries at most one change per item (a record whose group is already in the request starts the
next request; up to 10 entries otherwise): SNS reports each entry on its own, so if an entry failed and a later
entry of the same item in the same request were accepted, the retry would republish the failed one after it (a
duplicate of the later one within 5 minutes is dropped by SNS deduplication and does not restore the order).
An item changed several times in one stream batch therefore costs one request per change.

The SNS client is created once per container, when the module is imported (at init), with the bounds above.

Environment: ``SNS_TOPIC_ARN`` (required); ``MESSAGE_SIZE_BUDGET`` (optional, read at init: the largest message
every subscribed queue takes, see "Size budget" in pipeline_message.py; set by the construct; a bad value fails the
init naming the variable).
Requires the event source mapping to have ``function_response_types = ["ReportBatchItemFailures"]``.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
import pipeline_message
from aws_lambda_powertools import Logger
from botocore.config import Config
from lambda_deadline import DeadlineReached, remaining_ms
from pipeline_message import MAX_MESSAGE_BYTES

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "producer"))

MAX_BATCH_ENTRIES = 10

# Client bounds and deadline margin: see "Deadline" in the module docstring.
CONNECT_TIMEOUT_S = 1
READ_TIMEOUT_S = 1
MAX_ATTEMPTS = 3
DEADLINE_MARGIN_MS = max(500, int((CONNECT_TIMEOUT_S + READ_TIMEOUT_S) * 1000))

BOTO_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
    connect_timeout=CONNECT_TIMEOUT_S,
    read_timeout=READ_TIMEOUT_S,
)

# The Lambda context of the invocation in progress (one at a time per container), for the retry guard.
_context: Any = None


def _guard_retry(request: Any = None, **kwargs: Any) -> None:
    """botocore ``request-created`` hook: refuse a retry attempt when less than the margin is left.

    Runs once per HTTP attempt, after botocore's back-off sleep; the first attempt is checked by ``publish``."""
    attempt = ((getattr(request, "context", None) or {}).get("retries") or {}).get("attempt", 1)
    if attempt > 1:
        left = remaining_ms(_context)
        if left is not None and left < DEADLINE_MARGIN_MS:
            raise DeadlineReached(f"{left} ms left (< {DEADLINE_MARGIN_MS} ms): not starting attempt {attempt}")


def configure_client(client: Any) -> Any:
    """Install the deadline guard on an SNS client."""
    client.meta.events.register("request-created.sns.PublishBatch", _guard_retry, unique_id="producer-deadline")
    return client


#: What every subscribed queue takes (envelope or raw delivery), read once at init.
MESSAGE_BUDGET = pipeline_message.parse_budget(os.environ.get(pipeline_message.BUDGET_VARIABLE))

#: The SNS client, created once per container (at init).
sns = configure_client(boto3.client("sns", config=BOTO_CONFIG))


class Prepared:
    """One stream record turned into a PublishBatch entry."""

    __slots__ = ("sequence_number", "entry", "size", "truncated")

    def __init__(self, sequence_number: str, entry: dict, size: int, truncated: bool) -> None:
        self.sequence_number = sequence_number
        self.entry = entry
        self.size = size
        self.truncated = truncated


def sequence_number_of(record: Any) -> str | None:
    """The record's ``dynamodb.SequenceNumber`` when it is a non-empty string, else None (a malformed record)."""
    ddb = record.get("dynamodb") if isinstance(record, dict) else None
    sequence_number = ddb.get("SequenceNumber") if isinstance(ddb, dict) else None
    return sequence_number if isinstance(sequence_number, str) and sequence_number else None


def _malformed_reason(record: Any) -> str:
    if not isinstance(record, dict):
        return f"record is a {type(record).__name__}, not an object"
    if not isinstance(record.get("dynamodb"), dict):
        return "record has no 'dynamodb' object"
    return "record has no 'dynamodb.SequenceNumber' string"


#: How much of a malformed record a log line carries (its repr), so one record cannot flood the log.
LOGGED_RECORD_CHARS = 64 * 1024


def _logged(record: Any) -> str:
    return repr(record)[:LOGGED_RECORD_CHARS]


def is_fifo_topic(topic_arn: str) -> bool:
    return topic_arn.endswith(".fifo")


def prepare(record: dict, index: int, fifo: bool = False) -> Prepared:
    """Build the PublishBatch entry for one stream record (keys-only if the full message is too big), with the
    FIFO group and deduplication ids when ``fifo``.

    ``record`` must have a sequence number (see :func:`sequence_number_of`)."""
    message = pipeline_message.build(record, MESSAGE_BUDGET)  # a record whose keys cannot be converted fails (raises)
    sequence_number = record["dynamodb"]["SequenceNumber"]
    if message.truncated:
        logger.warning(
            "publishing keys-only (truncated) message",
            extra={"eventID": record.get("eventID"), "keys": message.keys, "reason": message.truncated_reason,
                   "sequenceNumber": sequence_number},
        )
    entry = {"Id": f"r{index}", "Message": message.body, "MessageAttributes": message.attributes}
    if fifo:
        entry["MessageGroupId"] = pipeline_message.record_group_id(record)
        entry["MessageDeduplicationId"] = pipeline_message.deduplication_id(pipeline_message.event_id(record))
    return Prepared(sequence_number, entry, message.size, message.truncated)


def batches(prepared: list[Prepared]):
    """Yield (start index, entries) groups: <= 10 entries and <= 256 KiB per PublishBatch request, and at most one
    entry per FIFO message group (see "Per-item ordering")."""
    start, size, groups = 0, 0, set()
    for i, item in enumerate(prepared):
        group = item.entry.get("MessageGroupId")
        if i > start and (i - start == MAX_BATCH_ENTRIES or size + item.size > MAX_MESSAGE_BYTES or group in groups):
            yield start, prepared[start:i]
            start, size, groups = i, 0, set()
        size += item.size
        if group is not None:
            groups.add(group)
    if start < len(prepared):
        yield start, prepared[start:]


# ---------------------------------------------------------------------------------------------- handler


def _failures(records: list, first_failed: int | None) -> dict:
    """The partial batch response: the first failed record and every later one, by sequence number.

    A record without a sequence number cannot be named; when the first failed record is one, the record before
    it is named instead, so Lambda still resumes at or before it (see "Malformed records")."""
    if first_failed is None:
        return {"batchItemFailures": []}
    identifiers = [s for s in map(sequence_number_of, records[first_failed:]) if s is not None]
    if sequence_number_of(records[first_failed]) is None:
        # Publishing stops at the first malformed record, so every record before it has a sequence number.
        if first_failed > 0:
            identifiers.insert(0, sequence_number_of(records[first_failed - 1]))
        else:  # malformed head of the batch: Lambda resumes at the first identifiable record, past these
            skipped = []
            for record in records:
                if sequence_number_of(record) is not None:
                    break
                skipped.append(_logged(record))
            logger.error(
                "malformed stream records cannot be retried (no sequence number at or before them to resume "
                "from): this log is their only copy",
                extra={"records": skipped, "resume_from": identifiers[0] if identifiers else None},
            )
    return {"batchItemFailures": [{"itemIdentifier": s} for s in identifiers]}


def publish(records: list[dict], topic_arn: str, context: Any = None) -> int | None:
    """Publish the records in order; return the index of the first failed (or unpublished) record, or None.

    Stops before a PublishBatch call (other than the first) when less than ``DEADLINE_MARGIN_MS`` remain."""
    prepared: list[Prepared] = []
    first_failed: int | None = None
    fifo = is_fifo_topic(topic_arn)
    for i, record in enumerate(records):
        if sequence_number_of(record) is None:
            logger.error(
                "malformed stream record: not published, reported as failed",
                extra={"index": i, "reason": _malformed_reason(record), "record": _logged(record)},
            )
            first_failed = i
            break
        try:
            prepared.append(prepare(record, i, fifo))
        except Exception:
            logger.exception("stream record could not be converted", extra={"index": i, "eventID": record.get("eventID")})
            first_failed = i
            break
    for calls, (start, group) in enumerate(batches(prepared)):
        left = remaining_ms(context) if calls else None  # the first call always goes: progress guarantee
        if left is not None and left < DEADLINE_MARGIN_MS:
            logger.warning(
                "deadline reached: not publishing the rest of the batch",
                extra={
                    "remaining_ms": left,
                    "margin_ms": DEADLINE_MARGIN_MS,
                    "first_record": start,
                    "published_calls": calls,
                },
            )
            return start
        try:
            response = sns.publish_batch(TopicArn=topic_arn, PublishBatchRequestEntries=[p.entry for p in group])
        except DeadlineReached as exc:
            logger.warning("deadline reached during PublishBatch retries", extra={"first_record": start, "reason": str(exc)})
            return start
        except Exception:
            logger.exception("PublishBatch failed", extra={"first_record": start, "entries": len(group)})
            return start
        ok = {s["Id"] for s in response.get("Successful", [])}
        failed = [offset for offset, p in enumerate(group) if p.entry["Id"] not in ok]
        if failed:
            logger.error(
                "PublishBatch reported failed entries",
                extra={"failed": response.get("Failed", []), "first_record": start + failed[0]},
            )
            return start + failed[0]
    return first_failed


def handler(event: dict, context: Any) -> dict:
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        logger.error("event has no Records list: nothing to publish", extra={"event": _logged(event)})
        return {"batchItemFailures": []}
    if not records:
        return {"batchItemFailures": []}
    global _context
    _context = context
    try:
        topic_arn = os.environ["SNS_TOPIC_ARN"]
        first_failed = publish(records, topic_arn, context)
    except Exception:
        logger.exception("producer failed; reporting the whole batch")
        first_failed = 0
    finally:
        _context = None
    if first_failed is not None:
        logger.warning(
            "reporting batch item failures",
            extra={"reported": len(records) - first_failed, "records": len(records)},
        )
    return _failures(records, first_failed)
