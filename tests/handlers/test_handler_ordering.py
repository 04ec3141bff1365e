"""Per-item ordering: FIFO group and deduplication ids (producer), FIFO partial failures (consumer), on moto."""

from __future__ import annotations

import json

import pytest
from handlers_support import (
    SESSION,
    TABLE,
    pipeline_message,
    sqs_event,
    still_context,
    stream_event,
    stream_record,
)

from pipeline_model.lambda_runtime import batch_item_failures as failed_ids
from pipeline_model.lambda_runtime import sqs_event as lambda_sqs_event

CTX = still_context()


# ---------------------------------------------------------------------------------------------- ids


def test_group_id_is_table_and_sorted_keys():
    keys = {"sk": {"N": "7"}, "pk": {"S": "order#1"}}
    assert pipeline_message.group_id("orders", keys) == 'orders/{"pk":"order#1","sk":7}'
    # the stream may list the keys in any order: the same item, the same group
    assert pipeline_message.group_id("orders", dict(reversed(list(keys.items())))) == pipeline_message.group_id("orders", keys)
    # another item, or the same keys in another table: another group
    assert pipeline_message.group_id("orders", {"pk": {"S": "order#2"}, "sk": {"N": "7"}}) != pipeline_message.group_id("orders", keys)
    assert pipeline_message.group_id("invoices", keys) != pipeline_message.group_id("orders", keys)


@pytest.mark.parametrize("spelling", ["1.0", "1.00", "1E0", "10E-1", "+1", "01"])
def test_group_id_of_a_number_key_does_not_depend_on_its_spelling(spelling):
    # DynamoDB compares numbers by value: N "1.0" and N "1" are the same key, so the same item and the same group
    assert pipeline_message.group_id("orders", {"pk": {"N": spelling}}) == pipeline_message.group_id("orders", {"pk": {"N": "1"}})
    assert pipeline_message.group_id("orders", {"pk": {"N": "1"}}) == 'orders/{"pk":1}'


def test_group_id_of_canonical_numbers_is_their_text():
    for text in ["0", "-7", "100", "0.1", "12345678901234567890123", "1.5"]:
        assert pipeline_message.group_id("orders", {"pk": {"N": text}}) == f'orders/{{"pk":{text}}}'
    assert pipeline_message.group_id("orders", {"pk": {"N": "-0"}}) == pipeline_message.group_id("orders", {"pk": {"N": "0"}})
    assert pipeline_message.group_id("orders", {"pk": {"N": "1E2"}}) == 'orders/{"pk":100}'


@pytest.mark.parametrize(
    "keys",
    [
        {"pk": {"S": "x" * 200}},  # too long
        {"pk": {"S": "caf\u00e9"}},  # not ASCII
        {"pk": {"S": "two words"}},  # a space: SNS allows letters, digits and punctuation only
        {"pk": {"S": "a\ud800"}},  # a lone surrogate (the message escapes it; the id must not fail on it)
    ],
)
def test_group_id_is_hashed_when_sns_would_refuse_it(keys):
    group = pipeline_message.group_id("orders", keys)
    assert len(group) <= pipeline_message.MAX_FIFO_ID_CHARS
    assert group.startswith("orders#") and len(group) == len("orders#") + 64
    assert all("!" <= c <= "~" for c in group)
    assert pipeline_message.group_id("orders", dict(keys)) == group  # stable


def test_hashed_group_id_of_a_long_table_name_stays_within_the_limit():
    table = "t" * 255
    group = pipeline_message.group_id(table, {"pk": {"S": "a"}})
    assert len(group) == 60 + 1 + 64 <= 128
    # hashed ids of two items differ
    assert group != pipeline_message.group_id(table, {"pk": {"S": "b"}})


def test_group_id_at_the_limit_stays_readable():
    table = "orders"
    value = "v" * (128 - len('orders/{"pk":""}'))
    group = pipeline_message.group_id(table, {"pk": {"S": value}})
    assert len(group) == 128 and group.startswith("orders/")
    assert pipeline_message.group_id(table, {"pk": {"S": value + "v"}}).startswith("orders#")


def test_deduplication_id_is_the_event_id():
    assert pipeline_message.deduplication_id("c81e728d9d4c2f636f067f89cc14862c") == "c81e728d9d4c2f636f067f89cc14862c"
    odd = pipeline_message.deduplication_id("an id with spaces" + "x" * 200)
    assert len(odd) <= 128 and " " not in odd
    assert pipeline_message.deduplication_id("a\ud800") != pipeline_message.deduplication_id("a\ud801")


# ---------------------------------------------------------------------------------------------- moto FIFO


class FifoPipeline:
    """A moto FIFO topic with a FIFO queue subscribed (raw delivery as asked)."""

    def __init__(self, monkeypatch, raw: bool = False) -> None:
        self.sns = SESSION.client("sns")
        self.sqs = SESSION.client("sqs")
        self.topic_arn = self.sns.create_topic(
            Name="changes.fifo", Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "false"}
        )["TopicArn"]
        self.queue_url = self.sqs.create_queue(
            QueueName="changes.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "false"}
        )["QueueUrl"]
        self.queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=self.queue_arn,
                           Attributes={"RawMessageDelivery": "true" if raw else "false"})
        monkeypatch.setenv("SNS_TOPIC_ARN", self.topic_arn)

    def receive(self) -> list[dict]:
        return self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"],
                                        MessageAttributeNames=["All"]).get("Messages", [])


@pytest.fixture
def fifo(pipeline, monkeypatch):
    """The FIFO topic and queue, next to ``pipeline``'s idempotency table (SNS_TOPIC_ARN: the FIFO topic)."""
    return FifoPipeline(monkeypatch)


def test_producer_sets_group_and_deduplication_ids_on_a_fifo_topic(producer, fifo):
    calls = []
    producer.sns.meta.events.register("provide-client-params.sns.PublishBatch", lambda params, **kw: calls.append(params))
    records = [stream_record(i, keys={"pk": {"S": f"item-{i % 3}"}}) for i in range(12)]
    assert producer.handler(stream_event(records), CTX) == {"batchItemFailures": []}
    assert [len(c["PublishBatchRequestEntries"]) for c in calls] == [3, 3, 3, 3]  # one change per item per call
    entries = [e for c in calls for e in c["PublishBatchRequestEntries"]]
    assert [e["MessageDeduplicationId"] for e in entries] == [f"ev-{i}" for i in range(12)]
    assert [e["MessageGroupId"] for e in entries] == [f'{TABLE}/{{"pk":"item-{i % 3}"}}' for i in range(12)]
    messages = fifo.receive()
    assert messages and all(m["Attributes"]["MessageGroupId"].startswith(f"{TABLE}/") for m in messages)


def test_fifo_request_holds_one_change_per_item(producer, fifo):
    """Two changes of one item never share a PublishBatch request: SNS reports each entry on its own, and a failed
    entry followed by an accepted one of the same item would be republished after it (out of order)."""
    calls = []
    producer.sns.meta.events.register("provide-client-params.sns.PublishBatch", lambda params, **kw: calls.append(params))
    records = [stream_record(i, keys={"pk": {"S": f"item-{i % 3}"}}) for i in range(12)]
    assert producer.handler(stream_event(records), CTX) == {"batchItemFailures": []}
    assert [len(c["PublishBatchRequestEntries"]) for c in calls] == [3, 3, 3, 3]
    for call in calls:
        groups = [e["MessageGroupId"] for e in call["PublishBatchRequestEntries"]]
        assert len(groups) == len(set(groups))
    entries = [e for c in calls for e in c["PublishBatchRequestEntries"]]
    assert [e["MessageDeduplicationId"] for e in entries] == [f"ev-{i}" for i in range(12)]  # stream order


def test_fifo_failed_entry_is_not_overtaken_by_a_later_change_of_its_item(producer, fifo, monkeypatch):
    from test_handler_producer import fail_entries

    # item-a: ev-0, ev-2; item-b: ev-1. SNS fails ev-0's entry.
    records = [stream_record(i, keys={"pk": {"S": "item-a" if i != 1 else "item-b"}}) for i in range(3)]
    real = producer.sns.publish_batch
    fail_entries(monkeypatch, producer.sns, {"r0"})
    response = producer.handler(stream_event(records), CTX)
    assert failed_ids(response) == [r["dynamodb"]["SequenceNumber"] for r in records]  # from the failed one on
    producer.sns.publish_batch = real  # SNS accepts everything again
    producer.handler(stream_event(records), CTX)  # Lambda's retry from ev-0
    order = [pipeline_message.parse_body(m["Body"])["eventID"] for m in fifo.receive()]
    item_a = [e for e in order if e in ("ev-0", "ev-2")]
    assert item_a == ["ev-0", "ev-2"]


def test_producer_retry_is_deduplicated_by_the_fifo_topic(producer, fifo):
    event = stream_event([stream_record(1), stream_record(2)])
    producer.handler(event, CTX)
    producer.handler(event, CTX)  # a retry of the same records within the deduplication window
    bodies = [pipeline_message.parse_body(m["Body"])["eventID"] for m in fifo.receive()]
    assert sorted(bodies) == ["ev-1", "ev-2"]


def test_records_without_an_event_id_are_not_deduplicated_by_the_fifo_topic(producer, fifo):
    records = [stream_record(i) for i in range(3)]
    records[0]["eventID"] = records[1]["eventID"] = None
    del records[2]["eventID"]
    assert producer.handler(stream_event(records), CTX) == {"batchItemFailures": []}
    received = [pipeline_message.parse_body(m["Body"])["sequenceNumber"] for m in fifo.receive()]
    assert sorted(received) == [r["dynamodb"]["SequenceNumber"] for r in records]


def test_standard_topic_gets_no_fifo_ids(producer, pipeline):
    calls = []
    producer.sns.meta.events.register("provide-client-params.sns.PublishBatch", lambda params, **kw: calls.append(params))
    producer.handler(stream_event([stream_record(1)]), CTX)
    assert not any("MessageGroupId" in e or "MessageDeduplicationId" in e for e in calls[0]["PublishBatchRequestEntries"])


# ---------------------------------------------------------------------------------------------- consumer


def fifo_message(i: int, group: str) -> dict:
    body = {"version": 1, "eventID": f"ev-{i}", "eventName": "MODIFY", "tableName": TABLE, "keys": {"pk": group},
            "newImage": None, "oldImage": None, "truncated": False}
    return {"MessageId": f"m{i}", "Body": json.dumps(body),
            "Attributes": {"MessageGroupId": group, "MessageDeduplicationId": f"ev-{i}", "SequenceNumber": str(i)}}


def fifo_event(messages: list[dict]) -> dict:
    return lambda_sqs_event(messages, "arn:aws:sqs:us-east-1:123456789012:changes.fifo")


def test_fifo_failure_holds_back_the_rest_of_its_group_only(consumer, recorder, pipeline, caplog):
    groups = ["a", "b", "a", "c", "b", "a"]
    messages = [fifo_message(i, g) for i, g in enumerate(groups)]
    recorder.fail = {"ev-2"}  # the second message of group a fails
    response = consumer.handler(fifo_event(messages), CTX)
    # reported: the failed message and every later message of its group, nothing else
    assert failed_ids(response) == ["m2", "m5"]
    # the later message of group a was not processed; the other groups went on
    assert recorder.ids == ["ev-0", "ev-1", "ev-2", "ev-3", "ev-4"]
    held = [r for r in caplog.records if r.getMessage().startswith("held back behind a failed message")]
    assert [r.messageIds for r in held] == [["m5"]]


def test_fifo_malformed_message_holds_back_its_group(consumer, recorder, pipeline):
    messages = [fifo_message(0, "a"), fifo_message(1, "a"), fifo_message(2, "b")]
    messages[0]["Body"] = "not json"
    assert failed_ids(consumer.handler(fifo_event(messages), CTX)) == ["m0", "m1"]
    assert recorder.ids == ["ev-2"]


def test_fifo_processor_state_does_not_leak_into_the_next_batch(consumer, recorder, pipeline):
    recorder.fail = {"ev-0"}
    assert failed_ids(consumer.handler(fifo_event([fifo_message(0, "a"), fifo_message(1, "a")]), CTX)) == ["m0", "m1"]
    recorder.fail = set()
    assert failed_ids(consumer.handler(fifo_event([fifo_message(0, "a"), fifo_message(1, "a")]), CTX)) == []
    assert recorder.ids == ["ev-0", "ev-0", "ev-1"]


def test_standard_queue_failure_reports_that_message_only(consumer, recorder, pipeline):
    messages = [{"MessageId": f"m{i}", "Body": fifo_message(i, "a")["Body"]} for i in range(3)]
    recorder.fail = {"ev-0"}
    assert failed_ids(consumer.handler(sqs_event(messages), CTX)) == ["m0"]
    assert recorder.ids == ["ev-0", "ev-1", "ev-2"]


def test_fifo_end_to_end_through_moto_keeps_group_order(producer, consumer, recorder, fifo):
    """Producer -> FIFO topic -> FIFO queue -> consumer: a failed change is redelivered before its item's next one."""
    records = [stream_record(i, "INSERT" if i < 3 else "MODIFY", keys={"pk": {"S": f"item-{i % 3}"}}) for i in range(6)]
    assert producer.handler(stream_event(records), CTX) == {"batchItemFailures": []}
    recorder.fail = {"ev-1"}
    received = fifo.receive()
    response = consumer.handler(fifo_event(received), CTX)
    failed = set(failed_ids(response))
    done = [m for m in received if m["MessageId"] not in failed]
    fifo.sqs.delete_message_batch(QueueUrl=fifo.queue_url,
                                  Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)])
    # item-1's two changes (ev-1, ev-4) were both reported; the other items' changes were processed
    assert {pipeline_message.parse_body(m["Body"])["eventID"] for m in received if m["MessageId"] in failed} == {"ev-1", "ev-4"}
    recorder.fail = set()
    fifo.sqs.change_message_visibility_batch(
        QueueUrl=fifo.queue_url,
        Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                 for i, m in enumerate(received) if m["MessageId"] in failed],
    )
    again = fifo.receive()
    assert [pipeline_message.parse_body(m["Body"])["eventID"] for m in again] == ["ev-1", "ev-4"]
    assert failed_ids(consumer.handler(fifo_event(again), CTX)) == []
    by_item = {}
    for message in recorder.calls:
        by_item.setdefault(message["keys"]["pk"], []).append(message["eventID"])
    assert by_item == {"item-0": ["ev-0", "ev-3"], "item-1": ["ev-1", "ev-1", "ev-4"], "item-2": ["ev-2", "ev-5"]}


def test_fifo_deadline_reports_every_unstarted_message_in_order(consumer, recorder, pipeline):
    from test_handler_consumer import ShrinkingDeadline

    groups = ["a", "b", "a", "c", "b", "d"]
    messages = [fifo_message(i, g) for i, g in enumerate(groups)]
    recorder.fail = {"ev-0"}  # group a fails first: its later message is held back, not counted as started
    context = ShrinkingDeadline(recorder, start_ms=consumer.DEADLINE_MARGIN_MS + 500, per_call_ms=400)
    response = consumer.handler(fifo_event(messages), context)
    # ev-0 (fails) and ev-1 start; from the third started message on, the margin is passed
    assert recorder.ids == ["ev-0", "ev-1"]
    assert failed_ids(response) == ["m0", "m2", "m3", "m4", "m5"]
