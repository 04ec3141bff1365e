"""Producer: conversion, message contract, batching, oversize records, failure reporting and ordering."""

from __future__ import annotations

import base64
import json
from decimal import Decimal

import botocore.awsrequest
import pytest
from botocore.exceptions import ClientError
from handlers_support import SESSION, AskCounting, pipeline_message, seq, still_context, stream_event, stream_record

from pipeline_model.lambda_runtime import LambdaContext
from pipeline_model.lambda_runtime import batch_item_failures as failures

CTX = still_context()
#: For tests of the one-request-at-a-time publishing (PUBLISH_CONCURRENCY=1): which calls are made, in which order,
#: where publishing stops. The concurrent publishing's contract: test_handler_producer_concurrency.py.
sequential = pytest.mark.parametrize("producer", [1], indirect=True, ids=["sequential"])
#: Tests whose assertions hold for one request at a time and for the deployed default concurrency.
any_concurrency = pytest.mark.parametrize("producer", [1, None], indirect=True, ids=["sequential", "default"])
BIG_INT = "12345678901234567890123"


def count_calls(client, operation: str = "PublishBatch") -> list[dict]:
    """Record the params of every `operation` request made by `client` (one entry per API call)."""
    calls: list[dict] = []

    def hook(params, **kwargs):
        calls.append(params)

    event = f"provide-client-params.sns.{operation}"
    client.meta.events.register(event, hook)
    return calls


# ---------------------------------------------------------------------------------------------- conversion

ALL_TYPES_IMAGE = {
    "pk": {"S": "order#1"},
    "text": {"S": "h\u00e9llo \"w\u00f6rld\" \u2603 \U0001f600 \n\t\\"},
    "big": {"N": BIG_INT},
    "tenth": {"N": "0.1"},
    "neg": {"N": "-17.250"},
    "precise": {"N": "3.14159265358979323846264338327950288"},
    "bin": {"B": base64.b64encode(b"\x00\x01\xffbinary").decode()},
    "strings": {"SS": ["a", "b\u00e9"]},
    "numbers": {"NS": [BIG_INT, "0.1", "-3"]},
    "binaries": {"BS": [base64.b64encode(b"x").decode(), base64.b64encode(b"\x00yz").decode()]},
    "list": {"L": [{"S": "x"}, {"N": "1"}, {"BOOL": False}, {"NULL": True}, {"L": []}, {"M": {}}]},
    "map": {"M": {"nested": {"M": {"deep": {"N": "0.1"}, "flag": {"BOOL": True}}}, "tags": {"SS": ["t"]}}},
    "yes": {"BOOL": True},
    "no": {"BOOL": False},
    "nothing": {"NULL": True},
}

ALL_TYPES_PLAIN = {
    "pk": "order#1",
    "text": "h\u00e9llo \"w\u00f6rld\" \u2603 \U0001f600 \n\t\\",
    "big": int(BIG_INT),
    "tenth": Decimal("0.1"),
    "neg": Decimal("-17.250"),
    "precise": Decimal("3.14159265358979323846264338327950288"),
    "bin": base64.b64encode(b"\x00\x01\xffbinary").decode(),
    "strings": ["a", "b\u00e9"],
    "numbers": [int(BIG_INT), Decimal("0.1"), -3],
    "binaries": [base64.b64encode(b"x").decode(), base64.b64encode(b"\x00yz").decode()],
    "list": ["x", 1, False, None, [], {}],
    "map": {"nested": {"deep": Decimal("0.1"), "flag": True}, "tags": ["t"]},
    "yes": True,
    "no": False,
    "nothing": None,
}


def test_every_attribute_type_round_trips_exactly(producer, pipeline):
    record = stream_record(1, "INSERT", keys={"pk": {"S": "order#1"}}, new=ALL_TYPES_IMAGE)
    assert producer.handler(stream_event([record]), CTX) == {"batchItemFailures": []}

    (message,) = pipeline.payloads()
    assert message["newImage"] == ALL_TYPES_PLAIN
    assert message["keys"] == {"pk": "order#1"}
    # exactness: the digits are carried verbatim, never via a binary float
    assert str(message["newImage"]["tenth"]) == "0.1"
    assert isinstance(message["newImage"]["tenth"], Decimal)
    assert message["newImage"]["big"] == 12345678901234567890123 and isinstance(message["newImage"]["big"], int)
    assert str(message["newImage"]["precise"]) == "3.14159265358979323846264338327950288"
    assert base64.b64decode(message["newImage"]["bin"]) == b"\x00\x01\xffbinary"
    # the raw-delivery queue receives the identical payload
    (raw,) = pipeline.payloads(pipeline.raw_queue_url)
    assert raw == message


def test_number_text_is_verbatim_in_the_json(producer):
    text = pipeline_message.attribute_json({"M": {"a": {"N": BIG_INT}, "b": {"N": "0.1"}}})
    assert text == '{"a":' + BIG_INT + ',"b":0.1}'


@pytest.mark.parametrize(
    "spelling",
    ["0", "-0", "+5", ".5", "5.", "1E+3", "1e-130", "9.9999999999999999999999999999999999999E+125", "00012", " 7 "],
)
def test_numbers_in_any_spelling_keep_their_value(producer, spelling):
    text = pipeline_message.attribute_json({"N": spelling})
    assert json.loads(text, parse_float=Decimal) == Decimal(spelling.strip())


def test_binary_from_boto3_bytes_is_base64(producer):
    assert pipeline_message.to_plain({"B": b"\x00\xfe"}) == base64.b64encode(b"\x00\xfe").decode()
    assert pipeline_message.to_plain({"BS": [b"a", b"b"]}) == ["YQ==", "Yg=="]


@pytest.mark.parametrize("bad", [{"N": "NaN"}, {"N": "Infinity"}, {"N": "abc"}, {"B": "not base64!"}, {"X": 1}, {}])
def test_invalid_attribute_values_raise(producer, bad):
    with pytest.raises(pipeline_message.ConversionError):
        pipeline_message.attribute_json(bad)


# ---------------------------------------------------------------------------------------------- message contract


def test_insert_modify_remove_messages(producer, pipeline):
    records = [stream_record(1, "INSERT"), stream_record(2, "MODIFY"), stream_record(3, "REMOVE")]
    assert producer.handler(stream_event(records), CTX) == {"batchItemFailures": []}

    envelopes = pipeline.drain()
    assert len(envelopes) == 3
    by_name = {}
    for m in envelopes:
        envelope = json.loads(m["Body"])
        payload = json.loads(envelope["Message"], parse_float=Decimal)
        by_name[payload["eventName"]] = payload
        # attributes for subscription filter policies
        attrs = envelope["MessageAttributes"]
        assert attrs["eventName"] == {"Type": "String", "Value": payload["eventName"]}
        assert attrs["tableName"] == {"Type": "String", "Value": "orders"}

    insert, modify, remove = by_name["INSERT"], by_name["MODIFY"], by_name["REMOVE"]
    for i, msg in enumerate((insert, modify, remove), start=1):
        assert msg["eventID"] == f"ev-{i}"
        assert msg["tableName"] == "orders"
        assert msg["keys"] == {"pk": f"item-{i}"}
        assert msg["sequenceNumber"] == seq(i)
        assert msg["approximateCreationDateTime"] == 1700000000 + i
        assert msg["truncated"] is False
        assert "userIdentity" not in msg
        assert msg["version"] == 1
    assert insert["newImage"] == {"pk": "item-1", "n": 1} and insert["oldImage"] is None
    assert modify["newImage"] == {"pk": "item-2", "n": 2} and modify["oldImage"] == {"pk": "item-2", "n": 1}
    assert remove["newImage"] is None and remove["oldImage"] == {"pk": "item-3", "n": 2}


def test_ttl_deletion_carries_user_identity(producer, pipeline):
    identity = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    record = stream_record(1, "REMOVE", user_identity=identity)
    assert producer.handler(stream_event([record]), CTX) == {"batchItemFailures": []}
    (message,) = pipeline.payloads()
    assert message["userIdentity"] == identity
    assert message["eventName"] == "REMOVE" and message["newImage"] is None


def test_message_attributes_drive_filter_policies(producer, pipeline):
    removes = pipeline.add_queue("removes-only", filter_policy={"eventName": ["REMOVE"], "tableName": ["orders"]})
    records = [stream_record(1, "INSERT"), stream_record(2, "REMOVE"), stream_record(3, "MODIFY")]
    producer.handler(stream_event(records), CTX)
    assert [m["eventID"] for m in pipeline.payloads(removes)] == ["ev-2"]


def _item(i: int, **fields: dict) -> dict:
    return {"pk": {"S": f"item-{i}"}, **fields}


def test_lifted_item_fields_are_message_attributes_a_filter_policy_routes_on(producer, pipeline, monkeypatch):
    """producer.message_attributes (MESSAGE_ATTRIBUTES in the environment): S as String, N as Number, BOOL as String;
    the new image, or the old one for REMOVE; anything SNS cannot carry is left out, never a failed publish."""
    monkeypatch.setenv("MESSAGE_ATTRIBUTES", "kind,amount,paid,tags,blank,huge,tiny")
    orders = pipeline.add_queue("orders-only", filter_policy={"kind": ["order"]})
    big = pipeline.add_queue("big-amounts", raw=True, filter_policy={"amount": [{"numeric": [">=", 100]}]})
    records = [
        stream_record(1, new=_item(1, kind={"S": "order"}, amount={"N": "250"}, paid={"BOOL": True},
                                   tags={"SS": ["a"]}, blank={"S": ""}, huge={"S": "x" * 1025}, tiny={"N": "1E-129"})),
        stream_record(2, new=_item(2, kind={"S": "refund"}, amount={"N": "12.5"})),
        stream_record(3, "REMOVE", old=_item(3, kind={"S": "order"}, amount={"N": "99.99999"})),
        stream_record(4, new=_item(4)),
    ]
    assert producer.handler(stream_event(records), CTX) == {"batchItemFailures": []}
    assert [m["eventID"] for m in pipeline.payloads(orders)] == ["ev-1", "ev-3"]
    raw = pipeline.drain(big)
    assert [json.loads(m["Body"])["eventID"] for m in raw] == ["ev-1"]
    assert raw[0]["MessageAttributes"]["amount"] == {"DataType": "Number", "StringValue": "250"}
    envelopes = {json.loads(json.loads(m["Body"])["Message"])["eventID"]: json.loads(m["Body"])["MessageAttributes"]
                 for m in pipeline.drain()}
    first = envelopes["ev-1"]
    assert {name: (a["Type"], a["Value"]) for name, a in first.items()} == {
        "eventName": ("String", "INSERT"), "tableName": ("String", "orders"), "kind": ("String", "order"),
        "amount": ("Number", "250"), "paid": ("String", "true")}  # tags (SS), blank, huge, tiny: not sent
    assert envelopes["ev-3"]["kind"]["Value"] == "order"  # REMOVE: from the old image
    assert set(envelopes["ev-4"]) == {"eventName", "tableName"}  # fields missing: nothing lifted


def test_nothing_is_lifted_without_message_attributes(producer, monkeypatch):
    monkeypatch.delenv("MESSAGE_ATTRIBUTES", raising=False)
    message = pipeline_message.build(stream_record(1, new=_item(1, kind={"S": "order"})))
    assert set(message.attributes) == {"eventName", "tableName"}
    monkeypatch.setenv("MESSAGE_ATTRIBUTES", "kind")
    lifted = pipeline_message.build(stream_record(1, new=_item(1, kind={"S": "order"})))
    assert lifted.attributes["kind"] == {"DataType": "String", "StringValue": "order"}
    assert lifted.size == message.size + len("kind") + len("String") + len("order")  # counted towards 256 KiB


def test_table_name_from_arn():
    assert pipeline_message.table_name_from_arn("arn:aws:dynamodb:eu-west-1:1:table/my.tbl-1/stream/2024") == "my.tbl-1"
    assert pipeline_message.table_name_from_arn(None) == "unknown"


# ---------------------------------------------------------------------------------------------- batching


@any_concurrency
def test_1000_records_make_100_publish_batch_calls(producer, aws, monkeypatch):
    # Topic without subscribers: moto's SQS delivery is quadratic in queue depth (delivery is covered elsewhere).
    topic_arn = SESSION.client("sns").create_topic(Name="changes")["TopicArn"]
    monkeypatch.setenv("SNS_TOPIC_ARN", topic_arn)
    calls = count_calls(producer.sns)
    records = [stream_record(i) for i in range(1000)]
    assert producer.handler(stream_event(records), CTX) == {"batchItemFailures": []}
    assert len(calls) == 100
    assert all(len(c["PublishBatchRequestEntries"]) == 10 for c in calls)
    sent = [json.loads(e["Message"])["eventID"] for c in calls for e in c["PublishBatchRequestEntries"]]
    # every record once; one request at a time: in stream order (concurrent requests start in any order)
    ordered = sent if producer.PUBLISH_CONCURRENCY == 1 else sorted(sent, key=lambda event: int(event[3:]))
    assert ordered == [f"ev-{i}" for i in range(1000)]


def entry_bytes(entry: dict) -> int:
    attrs = sum(len(k) + len(v["DataType"]) + len(v["StringValue"].encode()) for k, v in entry["MessageAttributes"].items())
    return len(entry["Message"].encode()) + attrs


def test_requests_stay_under_256_kib(producer, pipeline):
    calls = count_calls(producer.sns)
    blob = "x" * 100_000
    records = [stream_record(i, new={"pk": {"S": f"item-{i}"}, "blob": {"S": blob}}) for i in range(5)]
    assert producer.handler(stream_event(records), CTX) == {"batchItemFailures": []}
    assert [len(c["PublishBatchRequestEntries"]) for c in calls] == [2, 2, 1]
    for c in calls:
        assert sum(entry_bytes(e) for e in c["PublishBatchRequestEntries"]) <= 256 * 1024
    delivered = pipeline.payloads()
    assert len(delivered) == 5 and all(m["newImage"]["blob"] == blob and not m["truncated"] for m in delivered)


def test_oversize_record_becomes_keys_only_message(producer, pipeline, caplog):
    huge = "y" * 300_000
    records = [
        stream_record(1),
        stream_record(2, "MODIFY", new={"pk": {"S": "item-2"}, "huge": {"S": huge}}, old={"pk": {"S": "item-2"}}),
        stream_record(3),
    ]
    assert producer.handler(stream_event(records), CTX) == {"batchItemFailures": []}

    delivered = {m["eventID"]: m for m in pipeline.payloads()}
    assert set(delivered) == {"ev-1", "ev-2", "ev-3"}
    big = delivered["ev-2"]
    assert big["truncated"] is True
    assert big["keys"] == {"pk": "item-2"}
    assert big["newImage"] is None and big["oldImage"] is None
    assert "exceeds the SNS limit" in big["truncatedReason"]
    assert big["eventName"] == "MODIFY" and big["sequenceNumber"] == seq(2)
    assert delivered["ev-1"]["truncated"] is False and delivered["ev-3"]["truncated"] is False
    logged = [r for r in caplog.records if "keys-only (truncated)" in r.getMessage()]
    assert [getattr(r, "eventID", None) for r in logged] == ["ev-2"]


def test_message_just_under_the_limit_is_not_truncated(raw_producer, pipeline):
    """Raw delivery only: SNS's publish limit is the budget."""
    producer = raw_producer
    record = stream_record(1, new={"pk": {"S": "item-1"}, "blob": {"S": ""}})
    base = producer.prepare(record, 0).size
    record["dynamodb"]["NewImage"]["blob"]["S"] = "z" * (producer.MAX_MESSAGE_BYTES - base)
    prepared = producer.prepare(record, 0)
    assert prepared.size == producer.MAX_MESSAGE_BYTES and not prepared.truncated
    record["dynamodb"]["NewImage"]["blob"]["S"] += "z"
    assert producer.prepare(record, 0).truncated
    record["dynamodb"]["NewImage"]["blob"]["S"] = "z" * (producer.MAX_MESSAGE_BYTES - base)
    assert producer.handler(stream_event([record]), CTX) == {"batchItemFailures": []}
    (message,) = pipeline.payloads()
    assert message["truncated"] is False and len(message["newImage"]["blob"]) == producer.MAX_MESSAGE_BYTES - base


def test_sns_itself_rejects_oversize_messages(pipeline):
    """Guard for the test above: without truncation the record could not be published at all."""
    response = pipeline.sns.publish_batch(
        TopicArn=pipeline.topic_arn, PublishBatchRequestEntries=[{"Id": "a", "Message": "m" * (256 * 1024 + 1)}]
    )
    assert response["Failed"] and not response.get("Successful")


def test_unconvertible_values_are_published_keys_only(producer, pipeline):
    record = stream_record(1, new={"pk": {"S": "item-1"}, "bad": {"N": "NaN"}})
    assert producer.handler(stream_event([record]), CTX) == {"batchItemFailures": []}
    (message,) = pipeline.payloads()
    assert message["truncated"] is True and message["keys"] == {"pk": "item-1"}
    assert "could not be converted" in message["truncatedReason"]


# ---------------------------------------------------------------------------------------------- failures + ordering


def fail_entries(monkeypatch, client, failing_ids: set[str], *, fail_call: int | None = None):
    """Wrap publish_batch: entries whose Id is in failing_ids are not published and reported Failed;
    call number `fail_call` (1-based) raises instead. Returns the list of calls (entry Ids)."""
    real = client.publish_batch
    calls: list[list[str]] = []

    def publish_batch(**kwargs):
        entries = kwargs["PublishBatchRequestEntries"]
        calls.append([e["Id"] for e in entries])
        if fail_call is not None and len(calls) == fail_call:
            raise ClientError({"Error": {"Code": "InternalError", "Message": "boom"}}, "PublishBatch")
        keep = [e for e in entries if e["Id"] not in failing_ids]
        response = real(**{**kwargs, "PublishBatchRequestEntries": keep}) if keep else {"Successful": [], "Failed": []}
        response["Failed"] = response.get("Failed", []) + [
            {"Id": e["Id"], "Code": "InternalError", "SenderFault": False, "Message": "injected"}
            for e in entries
            if e["Id"] in failing_ids
        ]
        return response

    monkeypatch.setattr(client, "publish_batch", publish_batch)
    return calls


@sequential
def test_partial_failure_reports_first_failed_and_every_later_record(producer, pipeline, monkeypatch):
    records = [stream_record(i) for i in range(25)]
    calls = fail_entries(monkeypatch, producer.sns, {"r13"})
    response = producer.handler(stream_event(records), CTX)

    assert failures(response) == [seq(i) for i in range(13, 25)]
    assert len(calls) == 2  # stopped after the failing request: records 20-24 were not attempted
    published = sorted(int(m["eventID"][3:]) for m in pipeline.payloads())
    assert published == [*range(0, 13), *range(14, 20)]


def test_several_failed_entries_report_from_the_lowest(producer, pipeline, monkeypatch):
    records = [stream_record(i) for i in range(10)]
    fail_entries(monkeypatch, producer.sns, {"r7", "r3"})
    response = producer.handler(stream_event(records), CTX)
    assert failures(response) == [seq(i) for i in range(3, 10)]


@sequential
def test_whole_call_failure_reports_that_request_and_the_rest(producer, pipeline, monkeypatch):
    records = [stream_record(i) for i in range(25)]
    calls = fail_entries(monkeypatch, producer.sns, set(), fail_call=2)
    response = producer.handler(stream_event(records), CTX)
    assert failures(response) == [seq(i) for i in range(10, 25)]
    assert len(calls) == 2
    assert sorted(int(m["eventID"][3:]) for m in pipeline.payloads()) == list(range(10))


THROTTLE_BODY = (
    b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
    b"<RequestId>r</RequestId></ErrorResponse>"
)
SERVER_ERROR_BODY = (
    b"<ErrorResponse><Error><Type>Receiver</Type><Code>InternalError</Code><Message>oops</Message></Error>"
    b"<RequestId>r</RequestId></ErrorResponse>"
)


def throttle(monkeypatch, times: int, status: int = 400, body: bytes = THROTTLE_BODY) -> list[int]:
    """Answer the first `times` PublishBatch HTTP attempts with a Throttling error (or `status`/`body`) instead of
    moto.

    Hooks moto's botocore stubber (moto answers every ``before-send`` event, so a separate handler could not
    stop moto from publishing); the client's hooks and botocore's standard-mode retry logic then see real error
    responses."""
    from moto.core import models as moto_models

    stubber_class = type(moto_models.botocore_stubber)
    original = stubber_class.__call__
    attempts: list[int] = []

    def call(self, event_name, request, **kwargs):
        if event_name == "before-send.sns.PublishBatch":
            attempts.append(1)
            if len(attempts) <= times:
                return botocore.awsrequest.AWSResponse(request.url, status, {}, _Raw(body))
        return original(self, event_name, request, **kwargs)

    monkeypatch.setattr(stubber_class, "__call__", call)
    return attempts


class _Raw:
    def __init__(self, body: bytes):
        self._body = body

    def stream(self, **kwargs):
        yield self._body


def retried(caplog) -> list[int]:
    """The attempts after which the producer itself retried a throttled request (from its log)."""
    return [r.attempt for r in caplog.records if r.getMessage().startswith("PublishBatch throttled: retrying")]


def test_botocore_does_not_retry_a_throttled_request(producer, pipeline, monkeypatch):
    attempts = throttle(monkeypatch, times=10**6)
    with pytest.raises(producer.Throttled) as raised:
        producer.sns.publish_batch(TopicArn=pipeline.topic_arn,
                                   PublishBatchRequestEntries=[{"Id": "a", "Message": "m"}])
    assert raised.value.code == "Throttling"
    assert len(attempts) == 1  # one HTTP attempt: no botocore back-off of up to 1 s


def test_server_errors_are_still_retried_by_botocore(producer, pipeline, monkeypatch, caplog):
    attempts = throttle(monkeypatch, times=2, status=500, body=SERVER_ERROR_BODY)
    assert producer.handler(stream_event([stream_record(i) for i in range(3)]), CTX) == {"batchItemFailures": []}
    assert len(attempts) == 3 and retried(caplog) == []  # botocore's standard retries, not the producer's
    assert len(pipeline.payloads()) == 3


@any_concurrency
def test_a_throttled_request_is_retried_by_the_producer_and_all_delivered(producer, pipeline, monkeypatch, caplog):
    attempts = throttle(monkeypatch, times=2)
    records = [stream_record(i) for i in range(25)]
    assert producer.handler(stream_event(records), CTX) == {"batchItemFailures": []}
    assert len(retried(caplog)) == 2  # the producer re-submitted the throttled attempts
    assert len(attempts) == 3 + 2  # 3 requests, 2 of the attempts throttled
    assert published_ids(pipeline) == list(range(25))  # each record once


@sequential
def test_exhausted_throttling_retries_become_the_reported_failure(producer, pipeline, monkeypatch, caplog):
    attempts = throttle(monkeypatch, times=10**6)
    records = [stream_record(i) for i in range(15)]
    response = producer.handler(stream_event(records), CTX)
    assert failures(response) == [seq(i) for i in range(15)]
    assert len(attempts) == producer.THROTTLE_MAX_ATTEMPTS == 5  # bounded; then no new request started
    assert retried(caplog) == [1, 2, 3, 4]
    (logged,) = [r for r in caplog.records if "throttled on every attempt" in r.getMessage()]
    assert logged.levelname == "ERROR" and logged.first_record == 0 and logged.attempts == 5
    assert pipeline.payloads() == []


@sequential
def test_throttled_entries_alone_are_retried(producer, pipeline, monkeypatch, caplog):
    """SNS throttles whole requests; should it ever report throttled entries (Failed, code Throttling), those
    entries alone are re-submitted."""
    client = producer.sns
    original = client.publish_batch
    calls: list[list[str]] = []

    def publish_batch(**params):
        entries = params["PublishBatchRequestEntries"]
        calls.append([e["Id"] for e in entries])
        if len(calls) > 1:
            return original(**params)
        response = original(**{**params, "PublishBatchRequestEntries": entries[:7]})
        response["Failed"] = [{"Id": e["Id"], "Code": "Throttling", "SenderFault": True, "Message": "Rate exceeded"}
                              for e in entries[7:]]
        return response

    monkeypatch.setattr(client, "publish_batch", publish_batch)
    assert producer.handler(stream_event([stream_record(i) for i in range(15)]), CTX) == {"batchItemFailures": []}
    assert calls[:2] == [[f"r{i}" for i in range(10)], ["r7", "r8", "r9"]]
    assert published_ids(pipeline) == list(range(15))


@pytest.mark.parametrize("retry", [1, 2, 3, 4, 5, 8])
def test_back_off_is_full_jitter_growing_to_the_cap(producer, monkeypatch, retry):
    window = min(producer.THROTTLE_BACKOFF_CAP_S, producer.THROTTLE_BACKOFF_BASE_S * 2 ** (retry - 1))
    monkeypatch.setattr(producer.random, "random", lambda: 0.0)
    assert producer.backoff_s(retry) == 0.0
    monkeypatch.setattr(producer.random, "random", lambda: 0.999)
    assert producer.backoff_s(retry) == pytest.approx(0.999 * window)
    assert window == [0.05, 0.1, 0.2, 0.4, 0.5, 0.5][[1, 2, 3, 4, 5, 8].index(retry)]


def test_every_throttled_attempt_waits_at_most_its_window_in_total(producer):
    windows = [min(producer.THROTTLE_BACKOFF_CAP_S, producer.THROTTLE_BACKOFF_BASE_S * 2 ** (n - 1))
               for n in range(1, producer.THROTTLE_MAX_ATTEMPTS)]
    # the longest a request can wait for throttling fits in what a default 3 s function publishes per invocation
    assert sum(windows) <= 3.0 - producer.DEADLINE_MARGIN_MS / 1000


@sequential
def test_the_deadline_stops_throttling_retries(producer, pipeline, monkeypatch, caplog):
    attempts = throttle(monkeypatch, times=10**6)
    context = AskCounting(asks=1)  # the first retry may go; the second sees the deadline
    response = producer.handler(stream_event([stream_record(i) for i in range(25)]), context)
    assert failures(response) == [seq(i) for i in range(25)]
    assert len(attempts) == 2 < producer.THROTTLE_MAX_ATTEMPTS
    (logged,) = [r for r in caplog.records if "not retrying a throttled" in r.getMessage()]
    assert logged.first_record == 0 and logged.attempt == 3
    assert pipeline.payloads() == []


def test_any_exception_reports_the_whole_batch(producer, pipeline, monkeypatch):
    monkeypatch.delenv("SNS_TOPIC_ARN")
    records = [stream_record(i) for i in range(3)]
    assert failures(producer.handler(stream_event(records), CTX)) == [seq(i) for i in range(3)]


def test_record_with_unconvertible_keys_fails_from_there(producer, pipeline):
    records = [stream_record(0), stream_record(1), stream_record(2, keys={"pk": {"N": "NaN"}}), stream_record(3)]
    response = producer.handler(stream_event(records), CTX)
    assert failures(response) == [seq(2), seq(3)]
    assert sorted(m["eventID"] for m in pipeline.payloads()) == ["ev-0", "ev-1"]


def test_empty_event(producer):
    assert producer.handler({"Records": []}, CTX) == {"batchItemFailures": []}


def test_client_is_created_once_with_standard_retries(producer, pipeline):
    calls = count_calls(producer.sns)  # the client made when the module was imported (at init)
    for i in range(2):
        assert producer.handler(stream_event([stream_record(i)]), CTX) == {"batchItemFailures": []}
    assert len(calls) == 2  # every invocation publishes through that one client
    assert producer.sns.meta.config.retries["mode"] == "standard"


# ---------------------------------------------------------------------------------------------- deadline


class DeadlineContext(LambdaContext):
    """Plenty of time until `after` PublishBatch calls were made, then `low` ms left (below the margin)."""

    def __init__(self, calls: list, after: int, low: int):
        super().__init__("handlers-test")
        self.calls, self.after, self.low = calls, after, low
        self.asked = 0

    def get_remaining_time_in_millis(self) -> int:
        self.asked += 1
        return 30_000 if len(self.calls) < self.after else self.low


def published_ids(pipeline) -> list[int]:
    return sorted(int(m["eventID"][3:]) for m in pipeline.payloads())


def test_client_is_bounded_for_a_short_function(producer):
    config = producer.sns.meta.config
    assert config.connect_timeout == 1
    assert config.read_timeout == 1
    assert config.retries == {"mode": "standard", "total_max_attempts": 3}
    # one attempt (connect + read) fits in the margin, and the margin leaves a 3 s function time to publish
    assert producer.DEADLINE_MARGIN_MS == 2000
    assert (config.connect_timeout + config.read_timeout) * 1000 <= producer.DEADLINE_MARGIN_MS < 3000


@sequential
@pytest.mark.parametrize("after", [1, 2, 4])
def test_deadline_reports_exactly_the_unpublished_records(producer, pipeline, monkeypatch, caplog, after):
    records = [stream_record(i) for i in range(45)]  # 5 PublishBatch calls: 4 x 10 + 5
    calls = fail_entries(monkeypatch, producer.sns, set())
    context = DeadlineContext(calls, after, low=producer.DEADLINE_MARGIN_MS - 1)
    response = producer.handler(stream_event(records), context)

    assert failures(response) == [seq(i) for i in range(10 * after, 45)]  # first unpublished and every later one
    assert len(calls) == after
    assert published_ids(pipeline) == list(range(10 * after))  # each published record exactly once
    logged = [r for r in caplog.records if "deadline reached" in r.getMessage()]
    assert len(logged) == 1 and logged[0].first_record == 10 * after


@sequential
def test_deadline_with_exactly_the_margin_left_keeps_publishing(producer, pipeline, monkeypatch):
    records = [stream_record(i) for i in range(25)]
    calls = fail_entries(monkeypatch, producer.sns, set())
    context = DeadlineContext(calls, after=1, low=producer.DEADLINE_MARGIN_MS)
    assert producer.handler(stream_event(records), context) == {"batchItemFailures": []}
    assert len(calls) == 3 and context.asked >= 2
    assert published_ids(pipeline) == list(range(25))


@sequential
@pytest.mark.parametrize("context", [None, object(), still_context()], ids=["none", "no-method", "plenty"])
def test_without_a_deadline_behaviour_is_unchanged(producer, pipeline, monkeypatch, context):
    records = [stream_record(i) for i in range(35)]
    calls = fail_entries(monkeypatch, producer.sns, set())
    assert producer.handler(stream_event(records), context) == {"batchItemFailures": []}
    assert [len(c) for c in calls] == [10] * 3 + [5]
    assert published_ids(pipeline) == list(range(35))


@sequential
def test_first_call_is_always_attempted(producer, pipeline, monkeypatch):
    """Even with no time left at the start the invocation makes progress (a tiny timeout cannot stall the shard)."""
    records = [stream_record(i) for i in range(25)]
    calls = fail_entries(monkeypatch, producer.sns, set())
    response = producer.handler(stream_event(records), DeadlineContext(calls, after=0, low=0))
    assert failures(response) == [seq(i) for i in range(10, 25)]
    assert len(calls) == 1
    assert published_ids(pipeline) == list(range(10))


@sequential
def test_deadline_failure_after_a_partial_failure_keeps_the_lowest(producer, pipeline, monkeypatch):
    records = [stream_record(i) for i in range(25)]
    calls = fail_entries(monkeypatch, producer.sns, {"r4"})
    response = producer.handler(stream_event(records), DeadlineContext(calls, after=1, low=0))
    assert failures(response) == [seq(i) for i in range(4, 25)]
    assert len(calls) == 1


@sequential
def test_botocore_retries_stop_at_the_deadline(producer, pipeline, monkeypatch, caplog):
    # the first attempt fails with a server error (botocore retries those); a retry would succeed
    attempts = throttle(monkeypatch, times=1, status=500, body=SERVER_ERROR_BODY)
    records = [stream_record(i) for i in range(15)]
    response = producer.handler(stream_event(records), DeadlineContext(attempts, after=1, low=100))
    assert failures(response) == [seq(i) for i in range(15)]
    assert len(attempts) == 1  # the retry was not started
    assert pipeline.payloads() == []
    assert any("deadline reached during PublishBatch retries" in r.getMessage() for r in caplog.records)
    assert producer._context is None  # not kept after the invocation


@sequential
def test_retries_continue_while_time_remains(producer, pipeline, monkeypatch):
    attempts = throttle(monkeypatch, times=2)
    records = [stream_record(i) for i in range(15)]
    response = producer.handler(stream_event(records), DeadlineContext(attempts, after=10, low=0))
    assert response == {"batchItemFailures": []}
    assert len(attempts) == 4  # 1st call: 2 throttled + 1 success; 2nd call: 1
    assert published_ids(pipeline) == list(range(15))


# ---------------------------------------------------------------------------------------------- UTF-8 sizing

EMOJI, CJK = "\U0001f600", "\u6f22"  # 4 and 3 bytes in UTF-8; 12 and 6 characters as ASCII JSON escapes


@pytest.mark.parametrize("char", [EMOJI, CJK], ids=["emoji", "cjk"])
def test_non_ascii_is_sized_in_utf8_bytes_and_never_truncated_under_the_limit(raw_producer, pipeline, char):
    """An item whose message is just under 256 KiB in UTF-8 is published whole (ASCII escaping would triple it)."""
    producer = raw_producer
    record = stream_record(1, new={"pk": {"S": "item-1"}, "text": {"S": ""}})
    base = producer.prepare(record, 0).size
    width = len(char.encode())
    count = (producer.MAX_MESSAGE_BYTES - base) // width
    record["dynamodb"]["NewImage"]["text"]["S"] = char * count
    prepared = producer.prepare(record, 0)
    assert not prepared.truncated
    assert prepared.size == base + count * width == entry_bytes(prepared.entry)
    assert char in prepared.entry["Message"]  # sent as itself, not as an escape
    assert producer.handler(stream_event([record]), CTX) == {"batchItemFailures": []}
    (message,) = pipeline.payloads()
    assert message["truncated"] is False and message["newImage"]["text"] == char * count

    record["dynamodb"]["NewImage"]["text"]["S"] = char * (count + width)  # now over the limit in bytes
    assert producer.prepare(record, 0).truncated


def test_batches_are_sized_in_utf8_bytes(producer, pipeline):
    calls = count_calls(producer.sns)
    records = [stream_record(i, new={"pk": {"S": f"item-{i}"}, "t": {"S": CJK * 30_000}}) for i in range(4)]
    assert producer.handler(stream_event(records), CTX) == {"batchItemFailures": []}
    for c in calls:
        assert sum(entry_bytes(e) for e in c["PublishBatchRequestEntries"]) <= 256 * 1024
    assert [len(c["PublishBatchRequestEntries"]) for c in calls] == [2, 2]  # 90 KB each in UTF-8
    assert all(not m["truncated"] for m in pipeline.payloads())


def test_characters_sns_refuses_are_escaped_and_round_trip(producer, pipeline):
    text = "a\ufffeb\uffffc\ud800d\u2028\x00\x7f" + EMOJI
    record = stream_record(1, new={"pk": {"S": "item-1"}, "text": {"S": text}})
    body = producer.prepare(record, 0).entry["Message"]
    assert not {"\ufffe", "\uffff", "\ud800", "\x00"} & set(body)
    body.encode("utf-8")  # valid UTF-8 (a lone surrogate would not encode)
    assert json.loads(body)["newImage"]["text"] == text
    assert producer.handler(stream_event([record]), CTX) == {"batchItemFailures": []}
    (message,) = pipeline.payloads()
    assert message["newImage"]["text"] == text


# ---------------------------------------------------------------------------------------------- malformed records

MALFORMED = {
    "not-a-dict": "just a string",
    "none": None,
    "no-dynamodb": {"eventID": "x", "eventName": "INSERT"},
    "dynamodb-not-a-dict": {"eventID": "x", "dynamodb": "oops"},
    "no-sequence-number": {"eventID": "x", "dynamodb": {"Keys": {"pk": {"S": "k"}}}},
    "empty-sequence-number": {"eventID": "x", "dynamodb": {"Keys": {"pk": {"S": "k"}}, "SequenceNumber": ""}},
}


@pytest.mark.parametrize("bad", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_record_reports_the_record_before_it(producer, pipeline, caplog, bad):
    """Lambda resumes at the lowest reported sequence number: naming the record before the malformed one keeps the
    malformed record in the retried range (and later in the on-failure message); nothing after it is skipped."""
    records = [stream_record(0), stream_record(1), bad, stream_record(3)]
    response = producer.handler(stream_event(records), CTX)
    assert failures(response) == [seq(1), seq(3)]
    assert all(f["itemIdentifier"] for f in response["batchItemFailures"])
    assert published_ids(pipeline) == [0, 1]
    logged = [r for r in caplog.records if "malformed stream record" in r.getMessage()]
    assert len(logged) == 1 and logged[0].levelname == "ERROR" and logged[0].index == 2


def test_malformed_head_of_the_batch_is_logged_in_full(producer, pipeline, caplog):
    bad = {"eventID": "lost-1", "dynamodb": {"Keys": {"pk": {"S": "k"}}, "NewImage": {"pk": {"S": "k"}}}}
    records = [bad, 7, stream_record(2), stream_record(3)]
    response = producer.handler(stream_event(records), CTX)
    assert failures(response) == [seq(2), seq(3)]  # retried from the first identifiable record
    assert pipeline.payloads() == []
    (logged,) = [r for r in caplog.records if "cannot be retried" in r.getMessage()]
    assert logged.levelname == "ERROR" and logged.records == [repr(bad), "7"] and logged.resume_from == seq(2)


@pytest.mark.parametrize("event", [{"Records": ["x", None]}, {"Records": "x"}, {"Records": None}, None, "x"],
                         ids=["no-identifiable", "records-not-a-list", "records-null", "event-null", "event-str"])
def test_events_without_identifiable_records_do_not_raise(producer, pipeline, caplog, event):
    assert producer.handler(event, CTX) == {"batchItemFailures": []}
    assert any(r.levelname == "ERROR" for r in caplog.records)
    assert pipeline.payloads() == []


def test_an_exception_with_a_malformed_first_record_names_no_empty_identifier(producer, pipeline, monkeypatch):
    monkeypatch.delenv("SNS_TOPIC_ARN")
    response = producer.handler(stream_event([{"dynamodb": {}}, stream_record(1)]), CTX)
    assert failures(response) == [seq(1)]
