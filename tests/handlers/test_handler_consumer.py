"""Consumer: envelope vs raw bodies, malformed messages, partial batch responses, idempotency."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import pytest
from handlers_support import FakeContext, sqs_event, stream_event, stream_record

CTX = FakeContext()


def failed_ids(response: dict) -> list[str]:
    return [f["itemIdentifier"] for f in response["batchItemFailures"]]


def payload(i: int, **extra) -> dict:
    return {"version": 1, "eventID": f"ev-{i}", "eventName": "INSERT", "tableName": "orders",
            "keys": {"pk": f"item-{i}"}, "newImage": {"pk": f"item-{i}"}, "oldImage": None, "truncated": False, **extra}


def raw_message(message_id: str, body) -> dict:
    return {"MessageId": message_id, "Body": body if isinstance(body, str) else json.dumps(body)}


def envelope_message(message_id: str, body: dict) -> dict:
    envelope = {"Type": "Notification", "MessageId": "sns-" + message_id, "TopicArn": "arn:aws:sns:us-east-1:1:t",
                "Message": json.dumps(body), "Timestamp": "2024-01-01T00:00:00.000Z", "SignatureVersion": "1"}
    return raw_message(message_id, envelope)


def test_envelope_and_raw_delivery_give_the_same_payload(producer, consumer, pipeline, recorder):
    big = "12345678901234567890123"
    record = stream_record(1, new={"pk": {"S": "item-1"}, "big": {"N": big}, "tenth": {"N": "0.1"}})
    assert producer.handler(stream_event([record]), CTX) == {"batchItemFailures": []}

    envelope_msgs = pipeline.drain(pipeline.queue_url)
    raw_msgs = pipeline.drain(pipeline.raw_queue_url)
    assert json.loads(envelope_msgs[0]["Body"])["Type"] == "Notification"
    assert "Type" not in json.loads(raw_msgs[0]["Body"])

    assert consumer.handler(sqs_event(envelope_msgs), CTX) == {"batchItemFailures": []}
    # second subscriber (raw delivery) has its own idempotency scope
    import os

    os.environ["SUBSCRIBER_NAME"] = "raw"
    try:
        assert consumer.handler(sqs_event(raw_msgs), CTX) == {"batchItemFailures": []}
    finally:
        del os.environ["SUBSCRIBER_NAME"]

    assert len(recorder.calls) == 2
    from_envelope, from_raw = recorder.calls
    assert from_envelope == from_raw
    assert from_envelope["newImage"]["big"] == int(big)
    assert from_envelope["newImage"]["tenth"] == Decimal("0.1") and isinstance(from_envelope["newImage"]["tenth"], Decimal)


def test_malformed_bodies_fail_alone(consumer, pipeline, recorder):
    messages = [
        raw_message("ok-raw", payload(1)),
        raw_message("not-json", "this is not json"),
        raw_message("empty", ""),
        raw_message("list", [1, 2]),
        raw_message("no-event-id", {"eventName": "INSERT"}),
        envelope_message("ok-envelope", payload(2)),
        raw_message("envelope-bad-inner", {"Type": "Notification", "Message": "{not json"}),
        raw_message("envelope-non-string", {"Type": "Notification", "Message": {"eventID": "x"}}),
    ]
    response = consumer.handler(sqs_event(messages), CTX)
    assert sorted(failed_ids(response)) == sorted(
        ["not-json", "empty", "list", "no-event-id", "envelope-bad-inner", "envelope-non-string"]
    )
    assert recorder.ids == ["ev-1", "ev-2"]


def test_business_failure_fails_only_that_message_and_is_retried(consumer, pipeline, recorder):
    recorder.fail = {"ev-2"}
    messages = [raw_message(f"m{i}", payload(i)) for i in range(1, 4)]
    assert failed_ids(consumer.handler(sqs_event(messages), CTX)) == ["m2"]
    assert recorder.ids == ["ev-1", "ev-2", "ev-3"]

    # the failed message was not recorded as done: SQS redelivers it and the business logic runs again
    recorder.fail = set()
    assert consumer.handler(sqs_event([messages[1]]), CTX) == {"batchItemFailures": []}
    assert recorder.ids == ["ev-1", "ev-2", "ev-3", "ev-2"]

    # now it is done: a further delivery is suppressed
    assert consumer.handler(sqs_event(messages), CTX) == {"batchItemFailures": []}
    assert recorder.ids == ["ev-1", "ev-2", "ev-3", "ev-2"]


def test_duplicate_deliveries_run_the_business_logic_once(consumer, pipeline, recorder):
    first = [raw_message("a", payload(1)), envelope_message("b", payload(2))]
    # same stream records delivered again: new SQS message ids, other wrapping, same eventIDs
    again = [envelope_message("c", payload(1)), raw_message("d", payload(2)), raw_message("e", payload(2))]
    assert consumer.handler(sqs_event(first), CTX) == {"batchItemFailures": []}
    assert consumer.handler(sqs_event(again), CTX) == {"batchItemFailures": []}
    assert recorder.ids == ["ev-1", "ev-2"]

    items = pipeline.ddb.scan(TableName=pipeline.idempotency_table)["Items"]
    assert len(items) == 2
    assert {i["status"]["S"] for i in items} == {"COMPLETED"}
    assert all("expiration" in i for i in items)


def test_idempotency_key_includes_subscriber_name(consumer, pipeline, recorder, monkeypatch):
    message = [raw_message("a", payload(1))]
    monkeypatch.setenv("SUBSCRIBER_NAME", "billing")
    consumer.handler(sqs_event(message), CTX)
    consumer.handler(sqs_event(message), CTX)
    monkeypatch.setenv("SUBSCRIBER_NAME", "audit")
    consumer.handler(sqs_event(message), CTX)
    assert recorder.ids == ["ev-1", "ev-1"]  # once per subscriber


def test_without_idempotency_table_runs_and_warns_once(consumer, pipeline, recorder, monkeypatch, caplog):
    monkeypatch.delenv("IDEMPOTENCY_TABLE")
    monkeypatch.setitem(consumer._idempotency, "warned", False)
    message = [raw_message("a", payload(1))]
    with caplog.at_level(logging.WARNING):
        consumer.handler(sqs_event(message), CTX)
        consumer.handler(sqs_event(message), CTX)
    assert recorder.ids == ["ev-1", "ev-1"]  # no deduplication without the table (documented)
    warnings = [r for r in caplog.records if "WITHOUT idempotency" in r.getMessage()]
    assert len(warnings) == 1


def test_all_messages_failing_still_returns_a_partial_response(consumer, pipeline, recorder):
    recorder.fail = {"ev-1", "ev-2"}
    messages = [raw_message("m1", payload(1)), raw_message("m2", payload(2))]
    assert sorted(failed_ids(consumer.handler(sqs_event(messages), CTX))) == ["m1", "m2"]


def test_business_process_is_looked_up_at_call_time(consumer, pipeline, monkeypatch):
    import business

    seen = []
    monkeypatch.setattr(business, "process", lambda message: seen.append(message["eventID"]))
    consumer.handler(sqs_event([raw_message("a", payload(7))]), CTX)
    assert seen == ["ev-7"]


def test_default_business_logic_logs(consumer, pipeline, caplog):
    with caplog.at_level(logging.INFO):
        assert consumer.handler(sqs_event([raw_message("a", payload(8))]), CTX) == {"batchItemFailures": []}
    assert any("processing change" in r.getMessage() and getattr(r, "eventID", None) == "ev-8" for r in caplog.records)


@pytest.mark.parametrize("body", ['{"eventID": ""}', '"just a string"', "null", '{"Type": "Notification"}'])
def test_parse_body_rejects(consumer, body):
    with pytest.raises(consumer.MalformedMessage):
        consumer.parse_body(body)
