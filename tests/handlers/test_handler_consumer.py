"""Consumer: envelope vs raw bodies, malformed messages, partial batch responses, idempotency."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import pytest
from handlers_support import load_consumer, sqs_event, still_context, stream_event, stream_record

from pipeline_model.lambda_runtime import LambdaContext
from pipeline_model.lambda_runtime import batch_item_failures as failed_ids

CTX = still_context()


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
    raw_consumer = load_consumer(recorder, SUBSCRIBER_NAME="raw")
    assert raw_consumer.handler(sqs_event(raw_msgs), CTX) == {"batchItemFailures": []}

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


def test_idempotency_key_includes_subscriber_name(pipeline, recorder):
    message = [raw_message("a", payload(1))]
    billing = load_consumer(recorder, SUBSCRIBER_NAME="billing")
    billing.handler(sqs_event(message), CTX)
    billing.handler(sqs_event(message), CTX)
    load_consumer(recorder, SUBSCRIBER_NAME="audit").handler(sqs_event(message), CTX)
    assert recorder.ids == ["ev-1", "ev-1"]  # once per subscriber


def test_without_idempotency_table_runs_and_warns_once(pipeline, recorder, caplog):
    message = [raw_message("a", payload(1))]
    with caplog.at_level(logging.WARNING):
        consumer = load_consumer(recorder, IDEMPOTENCY_TABLE=None)
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
    seen = []
    monkeypatch.setattr(consumer.business, "process", lambda message: seen.append(message["eventID"]))
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


# ---------------------------------------------------------------------------------------------- deadline

import socket  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402



class ShrinkingDeadline(LambdaContext):
    """`start_ms` left, minus `per_call_ms` for every call of the business logic so far (a deterministic clock)."""

    def __init__(self, recorder, start_ms: int, per_call_ms: int):
        super().__init__("handlers-test")
        self.recorder, self.start_ms, self.per_call_ms = recorder, start_ms, per_call_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.start_ms - self.per_call_ms * len(self.recorder.calls)


@pytest.fixture
def hung_dynamodb(recorder):
    """A consumer whose DynamoDB endpoint accepts connections (the kernel completes the handshake) and never
    answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    yield load_consumer(recorder, AWS_ENDPOINT_URL_DYNAMODB=f"http://127.0.0.1:{server.getsockname()[1]}",
                        IDEMPOTENCY_TABLE="idempotency")
    server.close()


def run_with_deadline(consumer, event, context, limit_s):
    """Run the handler in a thread; return (response, seconds) or fail if it is still running at `limit_s`."""
    out = {}

    def target():
        started = time.monotonic()
        out["response"] = consumer.handler(event, context)
        out["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(limit_s)
    assert not thread.is_alive(), f"the handler was still running after {limit_s} s (the function timeout)"
    return out["response"], out["seconds"]


def test_client_is_bounded_and_the_margins_fit_a_3_s_function(consumer):
    config = consumer.dynamodb.meta.config
    assert (config.connect_timeout, config.read_timeout) == (0.5, 0.5)
    assert config.retries == {"mode": "standard", "total_max_attempts": 2}
    assert consumer.ATTEMPT_BOUND_MS == (config.connect_timeout + config.read_timeout) * 1000
    # a message's two idempotency calls fit in the margin, and the default batch fits in the default timeout
    assert consumer.DEADLINE_MARGIN_MS >= 2 * consumer.ATTEMPT_BOUND_MS + consumer.RETURN_SLACK_MS
    assert 10 * consumer.MESSAGE_BUDGET_MS + consumer.DEADLINE_MARGIN_MS <= 3000


def test_hung_dynamodb_returns_before_the_deadline_and_reports_every_message(recorder, hung_dynamodb, caplog):
    """A 3 s function and an idempotency table that never answers: the handler returns in time, reporting the
    whole batch in order (on a timeout Lambda would count the batch failed and in-flight messages could run twice)."""
    consumer = hung_dynamodb
    messages = [raw_message(f"m{i}", payload(i)) for i in range(10)]
    with caplog.at_level(logging.WARNING):
        context = LambdaContext("handlers-test", timeout_s=3.0)  # a real deadline, 3 s from now
        response, seconds = run_with_deadline(consumer, sqs_event(messages), context, limit_s=3.0)
    assert failed_ids(response) == [f"m{i}" for i in range(10)]
    assert seconds < 3.0 - consumer.RETURN_SLACK_MS / 1000
    assert recorder.calls == []  # "in progress" was never recorded, so the business logic never ran
    logged = {getattr(r, "messageId", None) for r in caplog.records if r.getMessage() == "message failed"}
    assert "m0" in logged
    (deadline,) = [r for r in caplog.records if r.getMessage().startswith("deadline reached")]
    assert deadline.messageIds == [f"m{i}" for i in range(1, 10)]


def test_slow_business_logic_stops_at_the_margin_and_reports_the_rest_in_order(consumer, pipeline, recorder):
    messages = [raw_message(f"m{i}", payload(i)) for i in range(10)]
    margin = consumer.DEADLINE_MARGIN_MS
    # 400 ms per message, starting with margin + 500 ms: two messages start, the third would start below the margin
    context = ShrinkingDeadline(recorder, start_ms=margin + 500, per_call_ms=400)
    response = consumer.handler(sqs_event(messages), context)
    assert recorder.ids == ["ev-0", "ev-1"]
    assert failed_ids(response) == [f"m{i}" for i in range(2, 10)]
    # the unstarted messages were not recorded as in progress: their redelivery runs the business logic
    recorder_before = list(recorder.ids)
    assert consumer.handler(sqs_event(messages[2:]), CTX) == {"batchItemFailures": []}
    assert recorder.ids == recorder_before + [f"ev-{i}" for i in range(2, 10)]


def test_first_message_always_starts_but_its_dynamodb_calls_are_guarded(consumer, pipeline, recorder):
    messages = [raw_message(f"m{i}", payload(i)) for i in range(3)]
    tight = ShrinkingDeadline(recorder, start_ms=consumer.ATTEMPT_MARGIN_MS - 1, per_call_ms=0)
    assert failed_ids(consumer.handler(sqs_event(messages), tight)) == ["m0", "m1", "m2"]
    assert recorder.calls == []  # the "in progress" write was refused, so nothing ran
    assert pipeline.ddb.scan(TableName=pipeline.idempotency_table)["Items"] == []

    enough = ShrinkingDeadline(recorder, start_ms=consumer.ATTEMPT_MARGIN_MS, per_call_ms=0)
    assert failed_ids(consumer.handler(sqs_event(messages[:1]), enough)) == []
    assert recorder.ids == ["ev-0"]


# ---------------------------------------------------------------------------------------------- logs and init


def test_every_failed_message_is_logged_by_message_id(consumer, pipeline, recorder, caplog):
    nested = "[" * 200_000 + "]" * 200_000  # json.loads raises RecursionError
    envelope_nested = json.dumps({"Type": "Notification", "Message": nested})
    recorder.fail = {"ev-4"}
    messages = [
        raw_message("deep", nested),
        raw_message("deep-in-envelope", envelope_nested),
        raw_message("not-json", "{"),
        raw_message("ok", payload(3)),
        raw_message("business", payload(4)),
    ]
    with caplog.at_level(logging.WARNING):
        response = consumer.handler(sqs_event(messages), CTX)
    failed = ["deep", "deep-in-envelope", "not-json", "business"]
    assert failed_ids(response) == failed
    logged = [getattr(r, "messageId", None) for r in caplog.records if "failed" in r.getMessage() or "malformed" in r.getMessage()]
    assert logged == failed
    deep = [r for r in caplog.records if getattr(r, "messageId", None) == "deep"]
    assert "nested too deeply" in deep[0].error


@pytest.mark.parametrize("value", ["abc", "0", "-5", "1.5", "1e9", "3600s", "99999999999"])
def test_bad_idempotency_ttl_fails_at_init_naming_the_variable(monkeypatch, value):
    monkeypatch.setenv("IDEMPOTENCY_TTL_SECONDS", value)
    with pytest.raises(ValueError, match=r"IDEMPOTENCY_TTL_SECONDS=.*positive whole number of seconds"):
        load_consumer()


@pytest.mark.parametrize("value, seconds", [("", 432000), ("600", 600), (" 86400 ", 86400)])
def test_good_idempotency_ttl_loads(monkeypatch, value, seconds):
    monkeypatch.setenv("IDEMPOTENCY_TTL_SECONDS", value)
    module = load_consumer()
    assert module.idempotency_ttl_seconds() == module.IDEMPOTENCY_TTL_SECONDS == seconds
