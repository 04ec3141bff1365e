"""tools.replay_stream_failures: failed stream batches (metadata only) are re-read and replayed.

* End to end on the local pipeline: the producer cannot publish, so every change ends in the
  on-failure queue as DDBStreamBatchInfo; while the emulator still runs, replay() re-reads the
  records from the stream and runs the real producer (correct topic) on them; the consumers
  then process every change exactly once and the failure queue is empty.
* Records gone from the stream -> EXPIRED, message kept, CLI exits non-zero.
* Producer reporting failures -> message kept.
"""

from __future__ import annotations

import io
import json
import os
import threading

import pytest
from botocore.exceptions import ClientError

from pipeline_model.config import build_config
from local_pipeline import LocalPipeline, Options, Workload
from tools import replay_stream_failures as rsf
from tools.lambda_harness import apply_offline_environment

STREAM_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2024-01-01T00:00:00.000"
SHARD = "shardId-00000001541626099285-f35f62ef"
TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:data-processing-topic"
FIRST_SEQ = 1100000000017454423009


# ---------------------------------------------------------------------------------------------- end to end


def _replay_failure_queue(reports: list):
    """Options.after_drain: replay the failure queue with the real producer and the right topic."""

    def after_drain(pipeline: LocalPipeline) -> None:
        publish = rsf.load_producer(pipeline.resources.topic_arn, log_stream=io.StringIO())  # the real handler
        reports.append(rsf.replay(pipeline.clients.sqs, pipeline.clients.dynamodbstreams,
                                  pipeline.resources.failure_queue_url, publish, wait_seconds=0))

    return after_drain


def test_replay_after_producer_failures_processes_every_change_exactly_once():
    config = build_config({"stream": {"maximum_retry_attempts": 1}})
    workload = Workload(items=20, modify_share=0.2, remove_share=0.1)
    bad_topic = "arn:aws:sns:us-east-1:123456789012:no-such-topic"
    threads_before, environ_before = set(threading.enumerate()), dict(os.environ)
    reports: list = []
    pipeline = LocalPipeline(config, Options(
        workload=workload, timeout_s=60,
        environment_overrides={config.names.producer_function: {"SNS_TOPIC_ARN": bad_topic}},
        after_drain=_replay_failure_queue(reports),
    ))
    result = pipeline.run()
    assert dict(os.environ) == environ_before
    assert not [t for t in threading.enumerate() if t not in threads_before and t.is_alive()]
    assert result.errors == [] and not result.timed_out

    (report,) = reports
    # Before the replay the failure queue held every change, as metadata only.
    assert pipeline.ledger.producer_retries > 0
    assert report.messages > 1 and sum(o.batch_size for o in report.outcomes) == workload.changes
    assert all(o.status == rsf.REPLAYED for o in report.outcomes), report.render()
    assert report.records_replayed == workload.changes and report.ok

    s = result.summary
    assert result.stream_failures == [] and s["stream_failures"] == 0  # the failure queue is empty
    assert s["written"] == s["in_stream"] == s["published"] == workload.changes
    assert s["processed"] == s["processed_once"] == workload.changes
    assert s["processed_more_than_once"] == 0 and s["lost"] == 0 and s["dead_lettered"] == 0
    assert result.ok


# ---------------------------------------------------------------------------------------------- fakes


def _record(seq: int) -> dict:
    """A stream record as GetRecords (boto3) returns it."""
    key = f"item-{seq - FIRST_SEQ:03d}"
    return {
        "eventID": f"ev-{seq}", "eventName": "INSERT", "eventVersion": "1.1", "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {"Keys": {"id": {"S": key}}, "NewImage": {"id": {"S": key}}, "SequenceNumber": str(seq),
                     "SizeBytes": 20, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    }


class FakeStreams:
    """GetShardIterator/GetRecords over a list of records; ``error`` is raised by GetShardIterator."""

    def __init__(self, records: list[dict], error: str | None = None, page: int = 2) -> None:
        self.records, self.error, self.page = records, error, page

    def get_shard_iterator(self, *, StreamArn, ShardId, ShardIteratorType, SequenceNumber):
        assert (StreamArn, ShardId, ShardIteratorType) == (STREAM_ARN, SHARD, "AT_SEQUENCE_NUMBER")
        if self.error:
            raise ClientError({"Error": {"Code": self.error, "Message": "Attempted to access data older than 24 h"}},
                              "GetShardIterator")
        index = next((i for i, r in enumerate(self.records) if int(r["dynamodb"]["SequenceNumber"]) >= int(SequenceNumber)),
                     len(self.records))
        return {"ShardIterator": str(index)}

    def get_records(self, *, ShardIterator, Limit):
        index = int(ShardIterator)
        page = self.records[index : index + min(Limit, self.page)]
        return {"Records": page, "NextShardIterator": str(index + len(page))}


def _failure_body(start: int, end: int) -> str:
    return json.dumps({
        "requestContext": {"requestId": "r", "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:p",
                           "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 3},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0", "timestamp": "2024-01-01T00:00:00.000Z",
        "DDBStreamBatchInfo": {"shardId": SHARD, "startSequenceNumber": str(start), "endSequenceNumber": str(end),
                               "approximateArrivalOfFirstRecord": "2024-01-01T00:00:00Z",
                               "approximateArrivalOfLastRecord": "2024-01-01T00:00:00Z",
                               "batchSize": end - start + 1, "streamArn": STREAM_ARN},
    })


@pytest.fixture
def sqs(monkeypatch):
    """An in-process moto SQS (no network) holding one failure message for records 3..7."""
    from moto import mock_aws

    offline = dict(os.environ)
    apply_offline_environment("us-east-1", environ=offline)
    for name in set(os.environ) - set(offline):
        monkeypatch.delenv(name)
    for name, value in offline.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        import boto3

        client = boto3.client("sqs", region_name="us-east-1")
        url = client.create_queue(QueueName="dynamodb-stream-producer-failures")["QueueUrl"]
        client.send_message(QueueUrl=url, MessageBody=_failure_body(FIRST_SEQ + 3, FIRST_SEQ + 7))
        yield client, url


def _waiting(client, url) -> int:
    return len(client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", []))


def _never(event):
    raise AssertionError("nothing may be published")


# ---------------------------------------------------------------------------------------------- expired


def test_trimmed_records_are_reported_expired_and_kept_and_the_cli_fails(sqs, monkeypatch, capsys):
    client, url = sqs
    monkeypatch.setattr(rsf, "make_clients", lambda region: (client, FakeStreams([], error="TrimmedDataAccessException")))
    monkeypatch.setattr(rsf, "load_producer", lambda topic_arn: _never)
    monkeypatch.setattr(rsf, "RECEIVE_WAIT_S", 0)

    code = rsf.main(["--queue-url", url, "--topic-arn", TOPIC_ARN])

    out = capsys.readouterr().out
    assert code == 1
    assert "EXPIRED" in out and "TrimmedDataAccessException" in out and "LOST" in out
    assert "messages: 1  records replayed: 0  kept: 0  expired: 1" in out
    assert _waiting(client, url) == 1  # still there for an operator (and visible: the alarm keeps firing)


def test_partly_trimmed_batch_is_expired_and_what_is_left_is_replayed(sqs):
    client, url = sqs
    survivors = [_record(FIRST_SEQ + s) for s in (5, 6, 7, 8, 9)]  # 3 and 4 trimmed; 8 and 9 are after the batch
    events = []

    def publish(event):
        events.append(event)
        return {"batchItemFailures": []}

    report = rsf.replay(client, FakeStreams(survivors), url, publish, wait_seconds=0)

    (outcome,) = report.outcomes
    assert outcome.status == rsf.EXPIRED and "only 3 of 5" in outcome.detail
    assert [r["dynamodb"]["SequenceNumber"] for r in events[0]["Records"]] == [str(FIRST_SEQ + s) for s in (5, 6, 7)]
    assert all(r["eventSourceARN"] == STREAM_ARN for r in events[0]["Records"])
    assert report.records_replayed == 3 and report.expired == 1 and not report.ok
    assert _waiting(client, url) == 1


# ---------------------------------------------------------------------------------------------- kept


@pytest.mark.parametrize("outcome", ["reports failures", "raises"])
def test_producer_failures_keep_the_message(sqs, outcome):
    client, url = sqs
    records = [_record(FIRST_SEQ + s) for s in range(10)]
    calls = []

    def publish(event):
        calls.append([r["dynamodb"]["SequenceNumber"] for r in event["Records"]])
        if outcome == "raises":
            raise RuntimeError("SNS unavailable")
        return {"batchItemFailures": [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in event["Records"][2:]]}

    report = rsf.replay(client, FakeStreams(records), url, publish, wait_seconds=0)

    assert calls == [[str(FIRST_SEQ + s) for s in range(3, 8)]]  # exactly the batch, in order, once
    (result,) = report.outcomes
    assert result.status == rsf.KEPT and report.kept == 1 and report.records_replayed == 0 and not report.ok
    assert ("3 of 5 record(s) failed" if outcome == "reports failures" else "SNS unavailable") in result.detail
    assert _waiting(client, url) == 1


def test_success_deletes_and_dry_run_only_reports(sqs):
    client, url = sqs
    records = [_record(FIRST_SEQ + s) for s in range(10)]

    dry = rsf.replay(client, FakeStreams(records), url, None, dry_run=True, wait_seconds=0)
    assert [o.status for o in dry.outcomes] == [rsf.WOULD_REPLAY] and dry.outcomes[0].records_found == 5
    assert _waiting(client, url) == 1

    report = rsf.replay(client, FakeStreams(records), url, lambda event: {"batchItemFailures": []}, wait_seconds=0)
    assert [o.status for o in report.outcomes] == [rsf.REPLAYED] and report.records_replayed == 5 and report.ok
    assert _waiting(client, url) == 0


@pytest.mark.parametrize("argv, complaint", [
    (["--queue-url", "q", "--topic-arn", TOPIC_ARN], "is not an SQS queue URL"),
    (["--queue-url", "https://sqs.us-east-1.amazonaws.com/123456789012/q", "--topic-arn", "topic"], "is not an SNS topic ARN"),
    (["--queue-url", "https://sqs.us-east-1.amazonaws.com/123456789012/q", "--topic-arn", TOPIC_ARN, "--max-messages", "0"],
     "must be at least 1"),
])
def test_bad_arguments_are_clear_errors(argv, complaint, capsys):
    with pytest.raises(SystemExit) as exit_info:
        rsf.main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and complaint in err and "Traceback" not in err
