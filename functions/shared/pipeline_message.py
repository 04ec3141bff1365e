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

Oversize records: a message must fit what SNS accepts (body + attributes <= 256 KiB) *and* what every subscribed
queue receives (see "Size budget" below). A message beyond that budget is neither
dropped nor retried forever (which would block the shard): it is published as a keys-only message
(``newImage``/``oldImage`` null, ``truncated: true``, ``truncatedReason``) and the producer logs a warning with the
eventID, keys and size. Subscribers that need the full item re-read it from the table by ``keys``.
A record that cannot be converted at all (not producible by DynamoDB) gets the same treatment; if even its
keys cannot be converted, :func:`build` raises :class:`ConversionError` (the producer reports the record as failed).

Size budget (:class:`Budget`, the producer's ``MESSAGE_SIZE_BUDGET`` variable, see docs/message-size.md)
---------------------------------------------------------------------------------------------------------
A queue stores one of two things per subscription:

* raw delivery: the message body, with the attributes as SQS message attributes. SQS counts body + each
  attribute's name, type and value (UTF-8 bytes): the same *raw size* SNS counts at publish (:attr:`Message.size`);
* otherwise SNS's JSON envelope: ``Type``, ``MessageId``, ``TopicArn``, (``Subject``), ``Message`` (the body as a
  JSON string: every ``"`` and ``\\`` doubled, control characters escaped), ``Timestamp``, ``SignatureVersion``,
  ``Signature``, ``SigningCertURL``, ``UnsubscribeURL`` and ``MessageAttributes`` (``{"Type", "Value"}`` each).
  :func:`envelope_size` counts it with the longest value every field can take (:func:`envelope_overhead`) and the
  body and attributes escaped as JSON (:func:`json_string_bytes`, which also counts ``/`` as escaped and every control
  character as a 6-byte ``\\u00XX``: an upper bound of any JSON writer's output).

``Budget(raw, envelope)``: the largest raw size, and the largest envelope (None: no subscriber takes the
envelope). The construct sets it from each subscriber's delivery mode and queue size
(``pipeline_model.message_size``); without it the producer assumes the default stack (envelope, 256 KiB queues).

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
#: SQS's default (and, on the pinned hashicorp/aws 5.x provider, largest) maximum message size.
DEFAULT_QUEUE_MESSAGE_BYTES = 256 * 1024

# ---------------------------------------------------------------------------------------------- SNS envelope
# The longest value each envelope field can take (worst case; a few hundred bytes above the typical envelope):
#: MessageId: a UUID.
ENVELOPE_MESSAGE_ID_CHARS = 36
#: Timestamp: ISO 8601 with milliseconds, "2012-03-29T05:12:16.901Z".
ENVELOPE_TIMESTAMP_CHARS = 24
#: Signature: base64 of an RSA signature; a 4096-bit key (SNS signs with 2048 bits today) gives 684 characters.
ENVELOPE_SIGNATURE_CHARS = 684
#: Region, partition and DNS suffix of any partition (us-gov-west-1, aws-iso-b, amazonaws.com.cn, ...), bounded.
REGION_MAX_CHARS = 32
PARTITION_MAX_CHARS = 16
DNS_SUFFIX_MAX_CHARS = 32
#: SNS topic names: at most 256 characters (".fifo" included).
TOPIC_NAME_MAX_CHARS = 256
#: The certificate file name's hash ("SimpleNotificationService-<hex>.pem"), bounded.
CERT_HASH_MAX_CHARS = 64
#: Layout: SNS writes one member a line, ``  "Name" : "value",``; counted with 8 bytes of spacing a member.
_MEMBER_SPACING = 8


_ESCAPED = re.compile('["\\\\/\x00-\x1f]')


def json_string_bytes(text: str) -> int:
    """UTF-8 bytes of ``text`` written as the content of a JSON string (without the quotes), at most: ``"``, ``\\``
    and ``/`` escaped (2 bytes), control characters as ``\\u00XX`` (6), the rest as UTF-8."""
    size = len(text.encode("utf-8", "surrogatepass"))
    for match in _ESCAPED.finditer(text):
        size += 5 if ord(match.group()) < 0x20 else 1
    return size


def envelope_overhead(topic_name_chars: int = TOPIC_NAME_MAX_CHARS, subject_chars: int | None = None) -> int:
    """Bytes of an SNS envelope around an empty message without attributes: every field but ``Message``'s content
    and ``MessageAttributes``, each at its longest value (``topic_name_chars``: the topic's name, when known)."""
    topic_arn = len("arn::sns:::") + PARTITION_MAX_CHARS + REGION_MAX_CHARS + 12 + topic_name_chars
    host = len("https://sns..") + REGION_MAX_CHARS + DNS_SUFFIX_MAX_CHARS
    fields = {
        "Type": len("Notification"),
        "MessageId": ENVELOPE_MESSAGE_ID_CHARS,
        "TopicArn": topic_arn,
        "Message": 0,
        "Timestamp": ENVELOPE_TIMESTAMP_CHARS,
        "SignatureVersion": 1,
        "Signature": ENVELOPE_SIGNATURE_CHARS,
        "SigningCertURL": host + len("/SimpleNotificationService-.pem") + CERT_HASH_MAX_CHARS,
        "UnsubscribeURL": host + len("/?Action=Unsubscribe&SubscriptionArn=:") + topic_arn + 36,
    }
    if subject_chars is not None:
        fields["Subject"] = subject_chars * 6  # every character escaped, at most
    # {"Name" : "value", ...}: quotes around name and value, the separator, spacing
    return 2 + sum(len(name) + value + 4 + _MEMBER_SPACING for name, value in fields.items())


def envelope_attributes_bytes(attributes: dict) -> int:
    """Bytes of the ``MessageAttributes`` member of the envelope (0 without attributes): each attribute as
    ``"name" : {"Type" : "String", "Value" : "..."}``, names and values escaped as JSON."""
    if not attributes:
        return 0
    size = len('"MessageAttributes"') + 4 + _MEMBER_SPACING + 2
    for name, attribute in attributes.items():
        value = attribute.get("StringValue")
        if value is None:  # Binary: base64 in the envelope
            value = base64.b64encode(bytes(attribute.get("BinaryValue") or b"")).decode("ascii")
        size += (json_string_bytes(name) + len(attribute["DataType"]) + json_string_bytes(value)
                 + len('"" : {"Type" : "", "Value" : ""}') + _MEMBER_SPACING)
    return size


def envelope_size(body: str, attributes: dict, topic_name_chars: int = TOPIC_NAME_MAX_CHARS) -> int:
    """The largest SNS envelope (bytes) around ``body`` with ``attributes``: what a queue without raw delivery
    stores."""
    return envelope_overhead(topic_name_chars) + json_string_bytes(body) + envelope_attributes_bytes(attributes)


def raw_size(body: str, attributes: dict) -> int:
    """Bytes SNS counts at publish, and SQS for a raw delivery: UTF-8 body + each attribute's name, type, value."""
    return len(body.encode("utf-8", "surrogatepass")) + sum(
        len(name.encode("utf-8")) + len(a["DataType"]) + len((a.get("StringValue") or "").encode("utf-8"))
        + len(bytes(a.get("BinaryValue") or b"")) for name, a in attributes.items()
    )


class Budget:
    """The largest message every subscribed queue takes: ``raw`` (raw size, :func:`raw_size`; never above SNS's
    :data:`MAX_MESSAGE_BYTES`) and ``envelope`` (:func:`envelope_size`; None when no subscriber takes the
    envelope)."""

    __slots__ = ("raw", "envelope")

    def __init__(self, raw: int = MAX_MESSAGE_BYTES, envelope: int | None = DEFAULT_QUEUE_MESSAGE_BYTES) -> None:
        self.raw = min(raw, MAX_MESSAGE_BYTES)
        self.envelope = envelope

    def problem(self, body: str, attributes: dict) -> str | None:
        """Why a message does not fit (None when it does)."""
        size = raw_size(body, attributes)
        if size > self.raw:
            limit = "the SNS limit" if self.raw == MAX_MESSAGE_BYTES else "the raw-delivery queue limit"
            return f"message of {size} bytes exceeds {limit} of {self.raw} bytes (incl. attributes)"
        if self.envelope is not None:
            enveloped = envelope_size(body, attributes)
            if enveloped > self.envelope:
                return (f"message of {size} bytes becomes an SNS envelope of up to {enveloped} bytes, above the "
                        f"queue limit of {self.envelope} bytes")
        return None

    def to_text(self) -> str:
        return json.dumps({"raw": self.raw, "envelope": self.envelope}, sort_keys=True)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Budget) and (self.raw, self.envelope) == (other.raw, other.envelope)

    def __repr__(self) -> str:
        return f"Budget(raw={self.raw}, envelope={self.envelope})"


#: Name of the producer's environment variable holding :meth:`Budget.to_text`.
BUDGET_VARIABLE = "MESSAGE_SIZE_BUDGET"
#: The default stack's budget: envelope delivery into 256 KiB queues.
DEFAULT_BUDGET = Budget()


def parse_budget(text: str | None) -> Budget:
    """The :class:`Budget` of ``MESSAGE_SIZE_BUDGET`` (``{"raw": N, "envelope": N or null}``); the default budget
    when unset. Raises ValueError naming the variable when it is not such an object."""
    if text is None or not text.strip():
        return DEFAULT_BUDGET
    try:
        doc = json.loads(text)
        raw, envelope = doc["raw"], doc["envelope"]
        valid = (type(raw) is int and raw > 0 and set(doc) == {"raw", "envelope"}
                 and (envelope is None or (type(envelope) is int and envelope > 0)))
    except (ValueError, TypeError, KeyError):
        valid = False
    if not valid:
        raise ValueError(f"{BUDGET_VARIABLE} must be a JSON object {{\"raw\": <bytes>, \"envelope\": <bytes or "
                         f"null>}} of positive whole numbers, not {text[:100]!r}")
    return Budget(raw, envelope)

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


def build(record: dict, budget: Budget = DEFAULT_BUDGET) -> Message:
    """The message for one stream record (a dict with a ``dynamodb`` object); keys-only when the full message would
    not fit ``budget`` (SNS's limit and every subscribed queue's, see "Size budget") or an image cannot be
    converted. Raises :class:`ConversionError` when the keys themselves cannot be converted."""
    ddb = record["dynamodb"]
    table = table_name_from_arn(record.get("eventSourceARN"))
    event_name = str(record.get("eventName") or "UNKNOWN")
    attributes = {
        "eventName": {"DataType": "String", "StringValue": event_name},
        "tableName": {"DataType": "String", "StringValue": table},
        **lifted_attributes(record),
    }
    keys = image_json(ddb.get("Keys"))  # a record whose keys cannot be converted fails (raises)
    reason = None
    try:
        body = _sns_safe(_text(record, ddb, table, keys, image_json(ddb.get("NewImage")), image_json(ddb.get("OldImage")), None))
        reason = budget.problem(body, attributes)
    except ConversionError as exc:
        reason = f"record could not be converted: {exc}"
    if reason is not None:
        body = _sns_safe(_text(record, ddb, table, keys, "null", "null", reason))
    return Message(body, attributes, raw_size(body, attributes), keys, reason)  # SNS counts UTF-8 bytes


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
