"""Producer: DynamoDB stream records -> SNS messages (PublishBatch).

Message format (one SNS message per stream record, a JSON object, UTF-8 text)
-----------------------------------------------------------------------------
    {
      "version": 1,
      "eventID": "...",                 # stream record id; unique per record (consumers dedupe on it)
      "eventName": "INSERT" | "MODIFY" | "REMOVE",
      "tableName": "...",               # parsed from eventSourceARN (arn:...:table/<name>/stream/...)
      "eventSourceARN": "...",
      "awsRegion": "...",
      "sequenceNumber": "...",          # string, as in the stream
      "approximateCreationDateTime": 1700000000,   # epoch seconds, JSON number (null if absent)
      "sizeBytes": 123,                 # stream record size (null if absent)
      "streamViewType": "NEW_AND_OLD_IMAGES",
      "keys": {...},                    # plain JSON (see conversion below)
      "newImage": {...} | null,         # null for REMOVE
      "oldImage": {...} | null,         # null for INSERT
      "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
                                        # ONLY present when the stream record has it (TTL deletions)
      "truncated": false                # true => keys-only message, see "Oversize records"
      "truncatedReason": "..."          # only present when truncated is true
    }

SNS message attributes on every message (DataType String), for subscription filter policies:
``eventName`` and ``tableName``.

Attribute conversion (DynamoDB JSON -> plain JSON), lossless for values
-----------------------------------------------------------------------
* S -> string; BOOL -> true/false; NULL -> null; M -> object; L -> array.
* N -> a JSON *number* whose text is exactly the digits DynamoDB sent (e.g. ``12345678901234567890123``
  and ``0.1`` appear verbatim in the JSON text; a non-canonical spelling such as ``+5`` is rewritten
  to the same value via ``decimal.Decimal``). The JSON text never goes through a binary float, so it is
  exact. Readers must parse numbers losslessly to keep that exactness: in Python
  ``json.loads(text, parse_float=decimal.Decimal)`` (ints are exact by default) -- the consumer does this;
  JavaScript readers need a lossless parser for integers above 2**53.
* B -> base64 string (standard alphabet, padded), i.e. the stream's own encoding.
* SS -> array of strings; NS -> array of numbers (as above); BS -> array of base64 strings.
Type tags are not kept (plain JSON cannot distinguish S from B, or SS from L), values are.

Text: non-ASCII characters are sent as themselves (UTF-8), not as ``\\uXXXX`` escapes, which would triple an
emoji and double a CJK character; sizes are counted in UTF-8 bytes, as SNS counts them. The only characters
escaped are JSON's own (quote, backslash, control characters) and the few SNS refuses in a message (lone
surrogates, U+FFFE, U+FFFF, escaped as ``\\uXXXX``), so any string value reaches the consumer unchanged.

Batching: SNS PublishBatch with at most 10 entries and at most 256 KiB (body + attributes) per request,
so 1,000 small records => 100 calls.

Oversize records: a message whose body + attributes exceed 256 KiB cannot be published. It is neither
dropped nor retried forever (which would block the shard): the producer publishes a keys-only message
(``newImage``/``oldImage`` null, ``truncated: true``, ``truncatedReason``) and logs a warning with the
eventID, keys and size. Subscribers that need the full item re-read it from the table by ``keys``.
A record that cannot be converted at all (not producible by DynamoDB) gets the same treatment; if even its
keys cannot be converted, the record is reported as failed (see below).

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

Environment: ``SNS_TOPIC_ARN`` (required).
Requires the event source mapping to have ``function_response_types = ["ReportBatchItemFailures"]``.
"""

from __future__ import annotations

import base64
import json
import os
import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from botocore.config import Config

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "producer"))

MAX_BATCH_ENTRIES = 10
# SNS limit for one message and for a whole PublishBatch request (body + message attributes).
MAX_REQUEST_BYTES = 256 * 1024
# Headroom for any accounting difference between our size estimate and SNS's.
SIZE_HEADROOM_BYTES = 1024
MAX_MESSAGE_BYTES = MAX_REQUEST_BYTES - SIZE_HEADROOM_BYTES

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

_sns = None
# The Lambda context of the invocation in progress (one at a time per container), for the retry guard.
_context: Any = None


class DeadlineReached(Exception):
    """Raised instead of starting a PublishBatch (retry) attempt that could outlive the function."""


def remaining_ms(context: Any) -> int | None:
    """Milliseconds left in the invocation, or None when unknown (no context, or a context without the method)."""
    get = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(get):
        return None
    try:
        return int(get())
    except Exception:  # a broken context must not break publishing
        return None


def _guard_retry(request: Any = None, **kwargs: Any) -> None:
    """botocore ``request-created`` hook: refuse a retry attempt when less than the margin is left.

    Runs once per HTTP attempt, after botocore's back-off sleep; the first attempt is checked by ``publish``."""
    attempt = ((getattr(request, "context", None) or {}).get("retries") or {}).get("attempt", 1)
    if attempt > 1:
        left = remaining_ms(_context)
        if left is not None and left < DEADLINE_MARGIN_MS:
            raise DeadlineReached(f"{left} ms left (< {DEADLINE_MARGIN_MS} ms): not starting attempt {attempt}")


def configure_client(client: Any) -> Any:
    """Install the deadline guard on an SNS client (done once, when the client is created)."""
    client.meta.events.register("request-created.sns.PublishBatch", _guard_retry, unique_id="producer-deadline")
    return client


def sns_client():
    """The SNS client, created once per container (lazily, so importing stays cheap for tests)."""
    global _sns
    if _sns is None:
        _sns = configure_client(boto3.client("sns", config=BOTO_CONFIG))
    return _sns


# ---------------------------------------------------------------------------------------------- conversion

_quote = json.encoder.encode_basestring  # C-accelerated: str -> quoted JSON string, non-ASCII kept as is
# Characters SNS refuses in a message (it accepts #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF; JSON
# already escapes the control characters): escaped as \uXXXX, which JSON readers turn back into the same string.
_SNS_REFUSED = re.compile("[\ud800-\udfff\ufffe\uffff]")


def _sns_safe(body: str) -> str:
    if _SNS_REFUSED.search(body) is None:
        return body
    return _SNS_REFUSED.sub(lambda m: "\\u%04x" % ord(m.group()), body)
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


class ConversionError(ValueError):
    """A stream attribute value that cannot be represented (never produced by DynamoDB itself)."""


def _number(value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    if _JSON_NUMBER.fullmatch(text):
        return text
    try:
        dec = Decimal(text.strip())
    except (InvalidOperation, ValueError) as exc:
        raise ConversionError(f"invalid N value {text!r}") from exc
    if not dec.is_finite():
        raise ConversionError(f"non-finite N value {text!r}")
    text = str(dec)
    if not _JSON_NUMBER.fullmatch(text):  # pragma: no cover - str(Decimal) of a finite value always matches
        raise ConversionError(f"unrepresentable N value {value!r}")
    return text


def _binary(value: Any) -> str:
    if isinstance(value, (bytes, bytearray, memoryview)):  # boto3-deserialised records carry bytes
        return '"' + base64.b64encode(bytes(value)).decode("ascii") + '"'
    if isinstance(value, str) and _BASE64.fullmatch(value):  # Lambda events carry base64 text
        return '"' + value + '"'
    raise ConversionError("invalid B value (expected base64 text or bytes)")


def attribute_json(av: dict) -> str:
    """JSON text of one DynamoDB AttributeValue (``{"S": "x"}``, ``{"M": {...}}``, ...)."""
    if not isinstance(av, dict) or len(av) != 1:
        raise ConversionError(f"malformed attribute value {av!r:.100}")
    ((tag, value),) = av.items()
    if tag == "S":
        return _quote(value)
    if tag == "N":
        return _number(value)
    if tag == "M":
        return image_json(value)
    if tag == "L":
        return "[" + ",".join([attribute_json(item) for item in value]) + "]"
    if tag == "BOOL":
        if not isinstance(value, bool):
            raise ConversionError(f"invalid BOOL value {value!r}")
        return "true" if value else "false"
    if tag == "NULL":
        return "null"
    if tag == "B":
        return _binary(value)
    if tag == "SS":
        return "[" + ",".join([_quote(item) for item in value]) + "]"
    if tag == "NS":
        return "[" + ",".join([_number(item) for item in value]) + "]"
    if tag == "BS":
        return "[" + ",".join([_binary(item) for item in value]) + "]"
    raise ConversionError(f"unknown attribute type {tag!r}")


def image_json(image: dict | None) -> str:
    """JSON text of an item/keys map (``{"name": AttributeValue}``); ``null`` when absent."""
    if image is None:
        return "null"
    if not isinstance(image, dict):
        raise ConversionError("malformed image")
    return "{" + ",".join([_quote(name) + ":" + attribute_json(av) for name, av in image.items()]) + "}"


def to_plain(av: dict) -> Any:
    """Convenience: one AttributeValue as a Python value (numbers as int/Decimal, exact)."""
    return json.loads(attribute_json(av), parse_float=Decimal)


# ---------------------------------------------------------------------------------------------- messages


def table_name_from_arn(arn: str | None) -> str:
    # arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>
    if arn:
        resource = arn.split(":", 5)[-1]
        parts = resource.split("/")
        if len(parts) >= 2 and parts[0] == "table" and parts[1]:
            return parts[1]
    return "unknown"


def _epoch(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, datetime):
        value = value.timestamp()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return json.dumps(value)


class Prepared:
    """One stream record turned into a PublishBatch entry."""

    __slots__ = ("sequence_number", "entry", "size", "truncated")

    def __init__(self, sequence_number: str, entry: dict, size: int, truncated: bool) -> None:
        self.sequence_number = sequence_number
        self.entry = entry
        self.size = size
        self.truncated = truncated


def _message_text(record: dict, ddb: dict, table: str, keys: str, new: str, old: str, reason: str | None) -> str:
    parts = [
        '{"version":1,"eventID":', _quote(str(record.get("eventID", ""))),
        ',"eventName":', _quote(str(record.get("eventName", ""))),
        ',"tableName":', _quote(table),
        ',"eventSourceARN":', _quote(str(record.get("eventSourceARN", ""))),
        ',"awsRegion":', _quote(str(record.get("awsRegion", ""))),
        ',"sequenceNumber":', _quote(str(ddb.get("SequenceNumber", ""))),
        ',"approximateCreationDateTime":', _epoch(ddb.get("ApproximateCreationDateTime")),
        ',"sizeBytes":', json.dumps(ddb.get("SizeBytes")),
        ',"streamViewType":', json.dumps(ddb.get("StreamViewType")),
        ',"keys":', keys,
        ',"newImage":', new,
        ',"oldImage":', old,
    ]
    identity = record.get("userIdentity")
    if identity is not None:
        parts += [',"userIdentity":', json.dumps(identity, separators=(",", ":"), sort_keys=True)]
    if reason is None:
        parts.append(',"truncated":false}')
    else:
        parts += [',"truncated":true,"truncatedReason":', _quote(reason), "}"]
    return "".join(parts)


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


def prepare(record: dict, index: int) -> Prepared:
    """Build the PublishBatch entry for one stream record (keys-only if the full message is too big).

    ``record`` must have a sequence number (see :func:`sequence_number_of`)."""
    ddb = record["dynamodb"]
    sequence_number = ddb["SequenceNumber"]
    table = table_name_from_arn(record.get("eventSourceARN"))
    event_name = str(record.get("eventName") or "UNKNOWN")
    attributes = {
        "eventName": {"DataType": "String", "StringValue": event_name},
        "tableName": {"DataType": "String", "StringValue": table},
    }
    attributes_size = sum(
        len(name) + len(a["DataType"]) + len(a["StringValue"].encode("utf-8")) for name, a in attributes.items()
    )
    keys = image_json(ddb.get("Keys"))  # a record whose keys cannot be converted fails (raises)
    reason = None
    try:
        body = _sns_safe(
            _message_text(record, ddb, table, keys, image_json(ddb.get("NewImage")), image_json(ddb.get("OldImage")), None)
        )
        size = len(body.encode("utf-8")) + attributes_size  # SNS counts UTF-8 bytes
        if size > MAX_MESSAGE_BYTES:
            reason = f"message of {size} bytes exceeds the SNS limit of {MAX_MESSAGE_BYTES} bytes (incl. attributes)"
    except ConversionError as exc:
        reason = f"record could not be converted: {exc}"
    if reason is not None:
        body = _sns_safe(_message_text(record, ddb, table, keys, "null", "null", reason))
        size = len(body.encode("utf-8")) + attributes_size
        logger.warning(
            "publishing keys-only (truncated) message",
            extra={"eventID": record.get("eventID"), "keys": keys, "reason": reason, "sequenceNumber": sequence_number},
        )
    entry = {"Id": f"r{index}", "Message": body, "MessageAttributes": attributes}
    return Prepared(sequence_number, entry, size, reason is not None)


def batches(prepared: list[Prepared]):
    """Yield (start index, entries) groups: <= 10 entries and <= 256 KiB per PublishBatch request."""
    start, size = 0, 0
    for i, item in enumerate(prepared):
        if i > start and (i - start == MAX_BATCH_ENTRIES or size + item.size > MAX_MESSAGE_BYTES):
            yield start, prepared[start:i]
            start, size = i, 0
        size += item.size
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
    for i, record in enumerate(records):
        if sequence_number_of(record) is None:
            logger.error(
                "malformed stream record: not published, reported as failed",
                extra={"index": i, "reason": _malformed_reason(record), "record": _logged(record)},
            )
            first_failed = i
            break
        try:
            prepared.append(prepare(record, i))
        except Exception:
            logger.exception("stream record could not be converted", extra={"index": i, "eventID": record.get("eventID")})
            first_failed = i
            break
    client = sns_client()
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
            response = client.publish_batch(TopicArn=topic_arn, PublishBatchRequestEntries=[p.entry for p in group])
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
