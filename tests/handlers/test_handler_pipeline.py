"""End to end on moto: table writes -> DynamoDB stream -> producer -> SNS -> SQS -> consumer -> business."""

from __future__ import annotations

from decimal import Decimal

import pytest
from handlers_support import SESSION, seq, sqs_event, still_context, stream_event, stream_record
from test_handler_producer import fail_entries

from pipeline_model.lambda_runtime import batch_item_failures
from pipeline_model.lambda_runtime import stream_event as lambda_stream_event

CTX = still_context()


def read_stream(streams, table_name: str) -> dict:
    """Read the table's stream like the event source mapping does and build the Lambda event."""
    stream_arn = SESSION.client("dynamodb").describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]
    iterator = streams.get_shard_iterator(
        StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    return lambda_stream_event(streams.get_records(ShardIterator=iterator)["Records"], stream_arn)


def test_table_writes_reach_the_business_logic_exactly_once(producer, consumer, pipeline, recorder):
    ddb = pipeline.ddb
    ddb.create_table(
        TableName="orders",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    ddb.put_item(TableName="orders", Item={"pk": {"S": "a"}, "n": {"N": "12345678901234567890123"}, "b": {"B": b"\x00\x01"}})
    ddb.update_item(
        TableName="orders", Key={"pk": {"S": "a"}}, UpdateExpression="SET price = :p",
        ExpressionAttributeValues={":p": {"N": "0.1"}},
    )
    ddb.delete_item(TableName="orders", Key={"pk": {"S": "a"}})

    event = read_stream(SESSION.client("dynamodbstreams"), "orders")
    assert [r["eventName"] for r in event["Records"]] == ["INSERT", "MODIFY", "REMOVE"]
    assert producer.handler(event, CTX) == {"batchItemFailures": []}

    messages = pipeline.drain()
    assert len(messages) == 3
    # SQS delivers at least once: feed the batch twice
    assert consumer.handler(sqs_event(messages), CTX) == {"batchItemFailures": []}
    assert consumer.handler(sqs_event(messages), CTX) == {"batchItemFailures": []}

    by_name = {m["eventName"]: m for m in recorder.calls}
    assert len(recorder.calls) == 3 and set(by_name) == {"INSERT", "MODIFY", "REMOVE"}
    assert by_name["INSERT"]["newImage"]["n"] == 12345678901234567890123
    assert by_name["INSERT"]["newImage"]["b"] == "AAE="
    assert by_name["MODIFY"]["newImage"]["price"] == Decimal("0.1")
    assert by_name["MODIFY"]["oldImage"].get("price") is None
    assert by_name["REMOVE"]["newImage"] is None and by_name["REMOVE"]["oldImage"]["pk"] == "a"
    assert all(m["tableName"] == "orders" and m["keys"] == {"pk": "a"} for m in recorder.calls)


@pytest.mark.parametrize("producer", [1, None], indirect=True, ids=["sequential", "default"])
def test_producer_retry_after_partial_failure_loses_nothing_and_duplicates_nothing(
    producer, consumer, pipeline, recorder, monkeypatch
):
    records = [stream_record(i) for i in range(25)]
    fail_entries(monkeypatch, producer.sns, {"r13"})
    response = producer.handler(stream_event(records), CTX)
    reported = batch_item_failures(response)
    assert reported == [seq(i) for i in range(13, 25)]

    # Lambda retries from the lowest reported sequence number (SNS healthy again)
    monkeypatch.undo()
    monkeypatch.setenv("SNS_TOPIC_ARN", pipeline.topic_arn)
    monkeypatch.setattr(consumer.business, "process", recorder)
    retry = [r for r in records if r["dynamodb"]["SequenceNumber"] >= reported[0]]
    assert producer.handler(stream_event(retry), CTX) == {"batchItemFailures": []}

    messages = pipeline.drain()
    if producer.PUBLISH_CONCURRENCY == 1:
        assert len(messages) == 25 + 6  # records 14..19 were published twice
    else:  # and 20..24 too when their request was already in flight when 13 failed
        assert len(messages) in (25 + 6, 25 + 11)
    for start in range(0, len(messages), 10):
        assert consumer.handler(sqs_event(messages[start:start + 10]), CTX) == {"batchItemFailures": []}
    assert sorted(recorder.ids) == sorted(f"ev-{i}" for i in range(25))


def test_records_without_an_event_id_are_not_taken_for_duplicates(producer, consumer, pipeline, recorder):
    """A hand-made record whose eventID is missing, null or empty is still one change: it must not share an id
    (the consumers' idempotency key, the FIFO deduplication id) with other such records and be dropped."""
    records = [stream_record(i) for i in range(4)]
    records[0]["eventID"] = None
    records[1]["eventID"] = None
    records[2]["eventID"] = ""
    del records[3]["eventID"]
    assert producer.handler(stream_event(records), CTX) == {"batchItemFailures": []}
    messages = pipeline.drain()
    assert batch_item_failures(consumer.handler(sqs_event(messages), CTX)) == []
    assert sorted(m["sequenceNumber"] for m in recorder.calls) == [seq(i) for i in range(4)]
    assert len({m["eventID"] for m in recorder.calls}) == 4
    # stable: the retry of a record has the same id (so its duplicate is still suppressed)
    assert producer.handler(stream_event(records), CTX) == {"batchItemFailures": []}
    assert batch_item_failures(consumer.handler(sqs_event(pipeline.drain()), CTX)) == []
    assert len(recorder.calls) == 4
