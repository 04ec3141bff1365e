"""Message size end to end (issue #20): the producer's budget holds for what each queue stores, the SNS envelope
(escaped message, signature, URLs, attributes) or the raw message; beyond it the message goes keys-only."""

from __future__ import annotations

import json
import uuid

import pytest
from handlers_support import load, still_context, stream_event, stream_record

from pipeline_model.lambda_runtime import shared_module
from pipeline_model.message_size import message_budget, producer_budget

pm = shared_module("pipeline_message")
KIB = 1024
CTX = still_context()
ATTRIBUTES = {"eventName": {"DataType": "String", "StringValue": "MODIFY"},
              "tableName": {"DataType": "String", "StringValue": "orders"}}


def sns_envelope(message: str, attributes: dict, *, region="ap-southeast-5", partition="aws-us-gov",
                 topic="t" * 256, dns="amazonaws.com.cn") -> str:
    """An envelope laid out as SNS writes one to a queue (its documented fields, one a line, ``"Name" : value``),
    with long real values: non-ASCII as UTF-8, the escapes JSON requires."""
    topic_arn = f"arn:{partition}:sns:{region}:123456789012:{topic}"
    doc = {
        "Type": "Notification", "MessageId": str(uuid.uuid4()), "TopicArn": topic_arn, "Message": message,
        "Timestamp": "2024-03-29T05:12:16.901Z", "SignatureVersion": "1", "Signature": "A" * 344,
        "SigningCertURL": f"https://sns.{region}.{dns}/SimpleNotificationService-{'f' * 32}.pem",
        "UnsubscribeURL": f"https://sns.{region}.{dns}/?Action=Unsubscribe&SubscriptionArn={topic_arn}:{uuid.uuid4()}",
        "MessageAttributes": {n: {"Type": a["DataType"], "Value": a["StringValue"]} for n, a in attributes.items()},
    }
    return json.dumps(doc, ensure_ascii=False, indent=2, separators=(",", " : "))


BODIES = {
    "plain": json.dumps({"text": "x" * 5000}),
    "quotes": json.dumps({"q": '"' * 3000}),  # each quote is \" in the body, \\\" in the envelope
    "backslashes": json.dumps({"b": "\\" * 3000}),
    "control": json.dumps({"c": "\x01\n\t" * 1000}),
    "slashes": json.dumps({"s": "/" * 3000}),
    "non-ascii": json.dumps({"u": "\u6f22\U0001f600" * 1000}, ensure_ascii=False),
}


@pytest.mark.parametrize("name", sorted(BODIES))
def test_envelope_size_bounds_the_envelope_sns_writes(name):
    body = BODIES[name]
    actual = len(sns_envelope(body, ATTRIBUTES).encode("utf-8"))
    modelled = pm.envelope_size(body, ATTRIBUTES)
    assert actual <= modelled
    if name != "slashes":  # "/" is counted escaped (a JSON writer may escape it), SNS's example does not
        assert modelled - actual < 2 * KIB  # a bound, not a guess: within the fields' worst-case slack


def test_envelope_size_bounds_the_emulators_envelope(pipeline, producer):
    """moto's delivered envelope (ASCII) is within the model too."""
    record = stream_record(1, "MODIFY", new={"pk": {"S": "item-1"}, "q": {"S": '"\\' * 2000}})
    assert producer.handler(stream_event([record]), CTX) == {"batchItemFailures": []}
    (delivered,) = pipeline.drain()
    message = json.loads(delivered["Body"])["Message"]
    assert len(delivered["Body"].encode()) <= pm.envelope_size(message, ATTRIBUTES)


def quoted_record(kib: int) -> dict:
    """A MODIFY record whose message is about ``kib`` KiB, mostly quotes (the worst escaping)."""
    blob = '"' * (kib * KIB // 2 - 200)
    return stream_record(1, "MODIFY", new={"pk": {"S": "item-1"}, "q": {"S": blob}}, old={"pk": {"S": "item-1"}})


def test_default_budget_counts_the_envelope_not_only_the_message(pipeline, producer):
    """A message of ~217 KiB full of quotes passes SNS's limit but its envelope would not fit a 256 KiB queue:
    published keys-only (before the fix it was published whole and SNS failed the delivery)."""
    record = quoted_record(217)
    whole = pm.build(record, pm.Budget(envelope=None))
    assert not whole.truncated and whole.size < 256 * KIB < pm.envelope_size(whole.body, whole.attributes)
    prepared = producer.prepare(record, 0)
    assert prepared.truncated
    assert producer.handler(stream_event([record]), CTX) == {"batchItemFailures": []}
    (message,) = pipeline.payloads()
    assert message["truncated"] is True and message["keys"] == {"pk": "item-1"}
    assert "SNS envelope" in message["truncatedReason"] and "262144" in message["truncatedReason"]


def test_raw_budget_keeps_what_raw_delivery_can_carry(raw_producer, pipeline):
    record = quoted_record(217)
    assert not raw_producer.prepare(record, 0).truncated
    assert raw_producer.handler(stream_event([record]), CTX) == {"batchItemFailures": []}
    (message,) = pipeline.payloads(pipeline.raw_queue_url)
    assert message["truncated"] is False and message["newImage"]["q"] == record["dynamodb"]["NewImage"]["q"]["S"]


def test_envelope_budget_edge_is_exact():
    """At the budget the message goes whole, one byte above it keys-only."""
    record = stream_record(1, new={"pk": {"S": "item-1"}, "blob": {"S": ""}})
    empty = pm.build(record)
    room = pm.DEFAULT_QUEUE_MESSAGE_BYTES - pm.envelope_size(empty.body, empty.attributes)
    record["dynamodb"]["NewImage"]["blob"]["S"] = "z" * room
    assert not pm.build(record).truncated
    record["dynamodb"]["NewImage"]["blob"]["S"] += "z"
    assert pm.build(record).truncated


def test_a_larger_queue_admits_a_larger_envelope():
    record = quoted_record(217)
    budget = producer_budget([(1024 * KIB, False)])
    assert not pm.build(record, budget).truncated


@pytest.mark.parametrize("text", ['{"raw": 0, "envelope": 1}', "262144", '{"raw": 5}', "{", '{"raw": 1.5, "envelope": null}',
                                  '{"raw": 5, "envelope": 5, "x": 1}', '{"raw": true, "envelope": null}'])
def test_a_bad_budget_fails_the_producer_init_naming_the_variable(text):
    with pytest.raises(ValueError, match="MESSAGE_SIZE_BUDGET must be"):
        load("producer", MESSAGE_SIZE_BUDGET=text)


def test_budget_round_trips_through_the_environment():
    budget = producer_budget([(None, False), (None, True), (1024 * KIB, False)])
    assert pm.parse_budget(budget.to_text()) == budget == pm.Budget(pm.MAX_MESSAGE_BYTES, 256 * KIB)
    loaded = load("producer", MESSAGE_SIZE_BUDGET=budget.to_text()).MESSAGE_BUDGET  # its own module's class
    assert (loaded.raw, loaded.envelope) == (budget.raw, budget.envelope)


def test_message_budget_per_subscriber_and_minimum():
    assert message_budget(None, False) == 262144
    assert message_budget(262144, True) == pm.MAX_MESSAGE_BYTES  # SNS's own limit still applies
    assert message_budget(1024 * KIB, True) == pm.MAX_MESSAGE_BYTES
    assert message_budget(1024 * KIB, False) == 1024 * KIB
    assert message_budget(64 * KIB, True) == 64 * KIB
    assert producer_budget([(None, True)]) == pm.Budget(pm.MAX_MESSAGE_BYTES, None)
    assert producer_budget([(64 * KIB, True), (None, True), (1024 * KIB, False), (128 * KIB, False)]) == \
        pm.Budget(64 * KIB, 128 * KIB)
    with pytest.raises(ValueError, match="max_message_size"):
        message_budget(0, False)
