"""The pipeline's message format, built by the producer and parsed by every reader: one module, in every zip.

Every function zip carries this file at its root (pipeline_model/packaging.py, ``SHARED_CODE_DIR``), so a handler
does ``import pipeline_message``; ``make local``, the replay tool, the bench and the tests load the same file
(pipeline_model/lambda_runtime.py). Nothing else builds or parses a message.

Message format (one SNS message per stream record, a JSON object, UTF-8 text)
-----------------------------------------------------------------------------
    {
      "version": 1,
      "eventID": "...",                 # stream record id; unique per record (consumers dedupe on it);
                                        # <eventSourceARN>/<sequenceNumber> for a record without one
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
      "truncated": false,               # true => keys-only message, see "Oversize records"
      "truncatedReason": "..."          # only present when truncated is true
    }

SNS message attributes on every message (DataType String), for subscription filter policies:
``eventName`` and ``tableName``. Besides them, the item fields named in ``MESSAGE_ATTRIBUTES`` (the producer's
environment, comma-separated; ``producer.message_attributes`` in the configuration), see
:func:`lifted_attributes`: top-level attributes of the new image (the old image for REMOVE); ``S`` is sent as a
String, ``N`` as a Number (DynamoDB's digits), ``BOOL`` as the String ``true``/``false``. A field that is missing,
of another type, empty, longer than ``MAX_LIFTED_VALUE_BYTES``, holding characters SNS refuses, or a number outside
SNS's Number range is not sent (a filter on it does not match; ``exists: false`` does).

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

Oversize records: a message whose body + attributes exceed 256 KiB cannot be published. It is neither
dropped nor retried forever (which would block the shard): it is published as a keys-only message
(``newImage``/``oldImage`` null, ``truncated: true``, ``truncatedReason``) and the producer logs a warning with the
eventID, keys and size. Subscribers that need the full item re-read it from the table by ``keys``.
A record that cannot be converted at all (not producible by DynamoDB) gets the same treatment; if even its
keys cannot be converted, :func:`build` raises :class:`ConversionError` (the producer reports the record as failed).

FIFO ids (``ordering = "per-item"``: the topic is an SNS FIFO topic, its ARN ends in ``.fifo``)
-------------------------------------------------------------------------------------------
* ``MessageGroupId`` = :func:`group_id`: the table name and the item's keys, so every change of one item is in
  one group (delivered in order) and different items are independent. Stable: the keys are written with their
  names sorted (a stream record may list them in any order) in the same JSON text as ``keys``, except that a
  number key is written in one canonical form (DynamoDB compares numbers by value, so ``1``, ``1.0`` and ``1E0``
  are one key: written ``1``; plain digits, no trailing fractional zeros, no exponent). Readable
  ``<table>/<keys JSON>`` when that is at most 128 characters of the characters SNS allows (ASCII letters,
  digits, punctuation; no spaces); otherwise ``<first 60 characters of the table>#<sha256 hex>`` over the same
  text (at most 125 characters). Table names contain neither ``/`` nor ``#``, so the two forms never meet.
* ``MessageDeduplicationId`` = :func:`deduplication_id`: the stream record's ``eventID`` (unique per record, so
  a producer retry within SNS's 5-minute deduplication window is dropped by SNS; later copies are dropped by
  the consumers' idempotency). An eventID outside SNS's rules (hand-made events) is hashed the same way.

Reading a message (:func:`parse_body`): an SQS body is either the SNS envelope
(``{"Type": "Notification", "Message": "<payload JSON>", ...}``) or, with raw message delivery, the payload itself;
both are detected per message. Numbers are parsed exactly (``parse_float=Decimal``; ints are exact). A body that is
not a payload (nor an envelope around one), or a payload without an ``eventID``, raises :class:`MalformedMessage`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from datetime import datetime
from decimal import MAX_EMAX, MIN_EMIN, Context, Decimal, InvalidOperation
from typing import Any

VERSION = 1
# SNS limit for one message and for a whole PublishBatch request (body + message attributes).
MAX_REQUEST_BYTES = 256 * 1024
# Headroom for any accounting difference between our size estimate and SNS's.
SIZE_HEADROOM_BYTES = 1024
MAX_MESSAGE_BYTES = MAX_REQUEST_BYTES - SIZE_HEADROOM_BYTES

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


# ---------------------------------------------------------------------------------------------- building


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


def event_id(record: dict) -> str:
    """The record's ``eventID``; a record without a non-empty string one (hand-made, never from Lambda) gets a
    stand-in unique to the stream record and stable across retries, ``<eventSourceARN>/<SequenceNumber>``, so it
    is neither refused by the consumers nor taken for a duplicate of another such record."""
    value = record.get("eventID")
    if isinstance(value, str) and value:
        return value
    ddb = record.get("dynamodb") if isinstance(record.get("dynamodb"), dict) else {}
    return f"{record.get('eventSourceARN') or 'unknown'}/{ddb.get('SequenceNumber', '')}"


def _text(record: dict, ddb: dict, table: str, keys: str, new: str, old: str, reason: str | None) -> str:
    parts = [
        '{"version":' + str(VERSION) + ',"eventID":', _quote(event_id(record)),
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


# ---------------------------------------------------------------------------------------------- lifted attributes

#: The producer's environment variable naming the item fields sent as message attributes (comma-separated).
MESSAGE_ATTRIBUTES_ENV = "MESSAGE_ATTRIBUTES"
#: A lifted value longer than this (UTF-8 bytes) is not sent: attributes are for routing, and they count
#: towards the message size (8 x 1 KiB at most, far inside the size headroom of a keys-only message).
MAX_LIFTED_VALUE_BYTES = 1024
#: SNS Number attributes: at most 38 significant digits, magnitude from 10^-128 to 10^126.
_SNS_NUMBER_DIGITS, _SNS_NUMBER_MIN_EXP, _SNS_NUMBER_MAX_EXP = 38, -128, 126


def _lifted_names() -> tuple[str, ...]:
    text = os.environ.get(MESSAGE_ATTRIBUTES_ENV, "")
    return tuple(name for name in text.split(",") if name)


def _sns_number(text: str) -> bool:
    try:
        dec = Decimal(text)
    except (InvalidOperation, ValueError):
        return False
    if not dec.is_finite():
        return False
    if dec.is_zero():
        return True
    digits = len(dec.normalize().as_tuple().digits)
    return digits <= _SNS_NUMBER_DIGITS and _SNS_NUMBER_MIN_EXP <= dec.adjusted() < _SNS_NUMBER_MAX_EXP


def lifted_attributes(record: dict, names: tuple[str, ...] | None = None) -> dict:
    """The message attributes lifted from the record's item: for each name (default: ``MESSAGE_ATTRIBUTES`` of the
    environment), the top-level attribute of ``NewImage`` (``OldImage`` for REMOVE) when it is an S, N or BOOL SNS
    can carry; anything else is left out (see the module docstring)."""
    names = _lifted_names() if names is None else names
    if not names:
        return {}
    ddb = record.get("dynamodb") if isinstance(record.get("dynamodb"), dict) else {}
    image = ddb.get("OldImage" if record.get("eventName") == "REMOVE" else "NewImage")
    if not isinstance(image, dict):
        return {}
    lifted = {}
    for name in names:
        value = image.get(name)
        if not isinstance(value, dict) or len(value) != 1:
            continue
        ((tag, raw),) = value.items()
        if tag == "S" and isinstance(raw, str) and raw and _SNS_REFUSED.search(raw) is None:
            if len(raw.encode("utf-8", "surrogatepass")) <= MAX_LIFTED_VALUE_BYTES:
                lifted[name] = {"DataType": "String", "StringValue": raw}
        elif tag == "N" and isinstance(raw, (str, int, float)) and not isinstance(raw, bool):
            text = raw if isinstance(raw, str) else str(raw)
            if _sns_number(text) and len(text) <= MAX_LIFTED_VALUE_BYTES:
                lifted[name] = {"DataType": "Number", "StringValue": text.strip()}
        elif tag == "BOOL" and isinstance(raw, bool):
            lifted[name] = {"DataType": "String", "StringValue": "true" if raw else "false"}
    return lifted


class Message:
    """One stream record as an SNS message: ``body`` (text), ``attributes`` (MessageAttributes), ``size`` (bytes SNS
    counts: UTF-8 body + attributes), ``keys`` (JSON text) and ``truncated_reason`` (None unless keys-only)."""

    __slots__ = ("body", "attributes", "size", "keys", "truncated_reason")

    def __init__(self, body: str, attributes: dict, size: int, keys: str, truncated_reason: str | None) -> None:
        self.body = body
        self.attributes = attributes
        self.size = size
        self.keys = keys
        self.truncated_reason = truncated_reason

    @property
    def truncated(self) -> bool:
        return self.truncated_reason is not None


def build(record: dict) -> Message:
    """The message for one stream record (a dict with a ``dynamodb`` object); keys-only when the full message would
    exceed :data:`MAX_MESSAGE_BYTES` or an image cannot be converted. Raises :class:`ConversionError` when the keys
    themselves cannot be converted."""
    ddb = record["dynamodb"]
    table = table_name_from_arn(record.get("eventSourceARN"))
    event_name = str(record.get("eventName") or "UNKNOWN")
    attributes = {
        "eventName": {"DataType": "String", "StringValue": event_name},
        "tableName": {"DataType": "String", "StringValue": table},
        **lifted_attributes(record),
    }
    attributes_size = sum(
        len(name) + len(a["DataType"]) + len(a["StringValue"].encode("utf-8")) for name, a in attributes.items()
    )
    keys = image_json(ddb.get("Keys"))  # a record whose keys cannot be converted fails (raises)
    reason = None
    try:
        body = _sns_safe(_text(record, ddb, table, keys, image_json(ddb.get("NewImage")), image_json(ddb.get("OldImage")), None))
        size = len(body.encode("utf-8")) + attributes_size  # SNS counts UTF-8 bytes
        if size > MAX_MESSAGE_BYTES:
            reason = f"message of {size} bytes exceeds the SNS limit of {MAX_MESSAGE_BYTES} bytes (incl. attributes)"
    except ConversionError as exc:
        reason = f"record could not be converted: {exc}"
    if reason is not None:
        body = _sns_safe(_text(record, ddb, table, keys, "null", "null", reason))
        size = len(body.encode("utf-8")) + attributes_size
    return Message(body, attributes, size, keys, reason)


# ---------------------------------------------------------------------------------------------- FIFO ids

#: SNS FIFO limit for MessageGroupId and MessageDeduplicationId.
MAX_FIFO_ID_CHARS = 128
#: Characters SNS allows in those ids: ASCII letters, digits and punctuation.
_FIFO_ID = re.compile(r"[!-~]{1,128}")
#: How much of the table name a hashed group id keeps, for readability.
HASHED_TABLE_CHARS = 60


def _hashed(prefix: str, text: str) -> str:
    return f"{prefix[:HASHED_TABLE_CHARS]}#{hashlib.sha256(text.encode('utf-8', 'surrogatepass')).hexdigest()}"


def _canonical_number(value: Any) -> str:
    """One value per number, as DynamoDB compares them: ``1``, ``1.0`` and ``1E0`` are the same key."""
    dec = Decimal(_number(value))  # validates (raises ConversionError)
    if dec.is_zero():
        return "0"
    dec = dec.normalize(Context(prec=len(dec.as_tuple().digits), Emax=MAX_EMAX, Emin=MIN_EMIN))
    # plain digits within DynamoDB's range (exponents -130..+125); a hand-made huge exponent stays short
    return format(dec, "f") if -131 <= dec.adjusted() <= 126 else str(dec)


def _canonical_keys(keys: Any) -> Any:
    if not isinstance(keys, dict):
        return keys
    return {
        name: {"N": _canonical_number(av["N"])} if isinstance(av, dict) and len(av) == 1 and "N" in av else av
        for name, av in sorted(keys.items())
    }


def group_id(table: str, keys: dict | None) -> str:
    """The ``MessageGroupId`` of an item's changes: ``<table>/<keys JSON>``, hashed when too long or not plain
    ASCII (see "FIFO ids"). ``keys`` is the stream record's ``Keys`` map (DynamoDB JSON)."""
    canonical = image_json(_canonical_keys(keys))
    readable = f"{table}/{canonical}"
    if _FIFO_ID.fullmatch(readable):
        return readable
    return _hashed(table, readable)


def deduplication_id(event_id: str) -> str:
    """The ``MessageDeduplicationId`` of a record: its ``eventID`` (hashed if SNS would refuse it)."""
    text = str(event_id)
    return text if _FIFO_ID.fullmatch(text) else _hashed("event", text)


def record_group_id(record: dict) -> str:
    """:func:`group_id` of a stream record (table from its ``eventSourceARN``)."""
    return group_id(table_name_from_arn(record.get("eventSourceARN")), record["dynamodb"].get("Keys"))


# ---------------------------------------------------------------------------------------------- parsing


class MalformedMessage(ValueError):
    """The SQS body is not a producer payload (nor an SNS envelope around one)."""


def decode_body(body: str | None) -> tuple[dict, bool]:
    """(payload, enveloped): the producer payload of an SQS body, and whether it came in an SNS envelope."""
    enveloped = False
    try:
        doc = json.loads(body or "", parse_float=Decimal)
        if isinstance(doc, dict) and doc.get("Type") == "Notification" and "Message" in doc:
            inner = doc["Message"]
            if not isinstance(inner, str):
                raise MalformedMessage("SNS envelope Message is not a string")
            doc = json.loads(inner, parse_float=Decimal)
            enveloped = True
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
    return doc, enveloped


def parse_body(body: str | None) -> dict:
    """The producer payload from an SQS body, SNS envelope or raw delivery."""
    return decode_body(body)[0]


def event_id_of_body(body: str | None) -> str | None:
    """The ``eventID`` of an SQS body (or of an SNS message), or None when it is not a pipeline message."""
    try:
        return parse_body(body)["eventID"]
    except (MalformedMessage, TypeError):
        return None
