"""tools.replay_stream_failures: failed stream batches (metadata only) are re-read and replayed.

* End to end on the local pipeline: the producer cannot publish, so every change ends in the
  on-failure queue as DDBStreamBatchInfo; while the emulator still runs, replay() re-reads the
  records from the stream and runs the real producer (correct topic) on them; the consumers
  then process every change exactly once and the failure queue is empty.
* Records gone from the stream -> EXPIRED, message kept, CLI exits non-zero.
* Producer reporting failures -> message kept.
* From the failure bucket (stream.on_failure = "s3"): end to end, an outage longer than the stream's retention
  (the records are trimmed from the stream) is recovered from the stored payloads with 0 lost; an object is
  deleted only when every record of its batch was republished.
"""

from __future__ import annotations

import io
import json
import os
import re
import threading

import pytest
from botocore.exceptions import ClientError

from pipeline_model.config import build_config
from local_pipeline import LocalPipeline, Options, Workload
from tools import replay_stream_failures as rsf
from local_pipeline.offline import apply_offline_environment

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


def _records(*offsets: int) -> list[dict]:
    return [_record(FIRST_SEQ + s) for s in offsets]


def _error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"{code} (fake)"}}, operation)


class FakeStreams:
    """One shard of a DynamoDB stream, as GetShardIterator and GetRecords show it.

    ``records``: what the shard still holds, oldest first (older records are trimmed: asking for one AT its
    sequence number raises TrimmedDataAccessException, as the service does). ``readable``: how many of them
    GetRecords returns before it only returns empty pages (a shard that is still open and has not caught up).
    ``closed``: the shard ends after its last record (NextShardIterator absent). ``gone``: the stream is deleted.
    """

    def __init__(self, records: list[dict], *, page: int = 2, readable: int | None = None, closed: bool = False,
                 gone: bool = False, trimmed_before: int | None = None) -> None:
        self.records, self.page, self.closed, self.gone = records, page, closed, gone
        self.readable = len(records) if readable is None else readable
        self.oldest = (int(records[0]["dynamodb"]["SequenceNumber"]) if records else trimmed_before)
        self.iterator_types: list[str] = []

    def _index(self, sequence: int, after: bool = False) -> int:
        return next((i for i, r in enumerate(self.records)
                     if int(r["dynamodb"]["SequenceNumber"]) > sequence - (0 if after else 1)), len(self.records))

    def get_shard_iterator(self, *, StreamArn, ShardId, ShardIteratorType, SequenceNumber=None):
        assert (StreamArn, ShardId) == (STREAM_ARN, SHARD)
        self.iterator_types.append(ShardIteratorType)
        if self.gone:
            raise _error("ResourceNotFoundException", "GetShardIterator")
        if ShardIteratorType == "TRIM_HORIZON":
            return {"ShardIterator": "0"}
        assert SequenceNumber is not None
        if ShardIteratorType == "AT_SEQUENCE_NUMBER" and (self.oldest is None or int(SequenceNumber) < self.oldest):
            raise _error("TrimmedDataAccessException", "GetShardIterator")
        return {"ShardIterator": str(self._index(int(SequenceNumber), after=ShardIteratorType == "AFTER_SEQUENCE_NUMBER"))}

    def get_records(self, *, ShardIterator, Limit):
        index = int(ShardIterator)
        page = self.records[index : min(index + min(Limit, self.page), self.readable)]
        following = index + len(page)
        if self.closed and following >= len(self.records):
            return {"Records": page}
        return {"Records": page, "NextShardIterator": str(following)}


def _failure_body(start: int, end: int, batch_size: int | None = -1) -> str:
    info = {"shardId": SHARD, "startSequenceNumber": str(start), "endSequenceNumber": str(end),
            "approximateArrivalOfFirstRecord": "2024-01-01T00:00:00Z",
            "approximateArrivalOfLastRecord": "2024-01-01T00:00:00Z",
            "batchSize": end - start + 1 if batch_size == -1 else batch_size, "streamArn": STREAM_ARN}
    if batch_size is None:
        del info["batchSize"]
    return json.dumps({
        "requestContext": {"requestId": "r", "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:p",
                           "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 3},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0", "timestamp": "2024-01-01T00:00:00.000Z",
        "DDBStreamBatchInfo": info,
    })


@pytest.fixture
def offline_moto(monkeypatch):
    """An in-process moto SQS (no network), with the offline AWS settings."""
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
        yield client, url


@pytest.fixture
def sqs(offline_moto):
    """The failure queue holding one message for the 5 records 3..7 (sequence numbers FIRST_SEQ + 3..7)."""
    client, url = offline_moto
    client.send_message(QueueUrl=url, MessageBody=_failure_body(FIRST_SEQ + 3, FIRST_SEQ + 7))
    return client, url


def _waiting(client, url) -> int:
    return len(client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", []))


def _never(event):
    raise AssertionError("nothing may be published")


class Producer:
    """publish(event): records what it was given; ``fail_from`` (an offset) fails that record and every later one,
    reported as the real producer reports them."""

    def __init__(self, fail_from: int | None = None) -> None:
        self.fail_from, self.published = fail_from, []

    def __call__(self, event):
        sequences = [r["dynamodb"]["SequenceNumber"] for r in event["Records"]]
        assert all(r["eventSourceARN"] == STREAM_ARN for r in event["Records"])
        if self.fail_from is None:
            self.published += sequences
            return {"batchItemFailures": []}
        failing = [s for s in sequences if int(s) >= FIRST_SEQ + self.fail_from]
        self.published += [s for s in sequences if s not in failing]
        return {"batchItemFailures": [{"itemIdentifier": s} for s in failing]}


def _statuses(outcome) -> list[tuple[str | None, str, int]]:
    """(sequence offset or None, status, count) per record line of a message."""
    return [(None if r.sequence is None else int(r.sequence) - FIRST_SEQ, r.status, r.count) for r in outcome.records]


# ---------------------------------------------------------------------------------------------- never delete data


@pytest.mark.parametrize("batch_size", [5, None], ids=["with batchSize", "without batchSize"])
def test_a_batch_of_5_with_only_2_republished_keeps_its_message(offline_moto, batch_size, capsys, monkeypatch):
    """The stream gives 3 and 4, then nothing more yet (an open shard): 2 of 5 replayed, the message stays, and
    nothing is called LOST or EXPIRED (the records are not gone: a rerun finds them)."""
    client, url = offline_moto
    client.send_message(QueueUrl=url, MessageBody=_failure_body(FIRST_SEQ + 3, FIRST_SEQ + 7, batch_size))
    streams = FakeStreams(_records(*range(10)), readable=5)  # records 0..4 readable: 3 and 4 of the batch
    producer = Producer()
    monkeypatch.setattr(rsf, "make_clients", lambda region: (client, streams))
    monkeypatch.setattr(rsf, "load_producer", lambda topic_arn, config=None: producer)
    monkeypatch.setattr(rsf, "RECEIVE_WAIT_S", 0)

    code = rsf.main(["--queue-url", url, "--topic-arn", TOPIC_ARN])

    out = capsys.readouterr().out
    assert code == 1
    assert producer.published == [str(FIRST_SEQ + 3), str(FIRST_SEQ + 4)]
    assert _waiting(client, url) == 1, out  # kept
    assert "LOST" not in out and "EXPIRED" not in out.replace("EXPIRED: 0", "")
    assert "replayed: 2" in out and "deleted: 0" in out and "kept: 1" in out
    if batch_size:
        assert "missing: 3" in out  # record 7 by its number, 5 and 6 by count
        assert f"missing           {FIRST_SEQ + 7}" in out and "2 record(s), sequence numbers unknown" in out
    else:
        assert "missing: 1" in out and f"missing           {FIRST_SEQ + 7}" in out


def test_producer_failing_part_of_the_batch_keeps_the_message_and_names_each_record(sqs):
    client, url = sqs
    producer = Producer(fail_from=5)  # publishes 3 and 4, fails 5, 6, 7

    report = rsf.replay(client, FakeStreams(_records(*range(10))), url, producer, wait_seconds=0)

    (outcome,) = report.outcomes
    assert outcome.status == rsf.KEPT and not report.ok
    assert [(o, s) for o, s, _ in _statuses(outcome)] == [
        (3, "replayed"), (4, "replayed"), (5, "missing"), (6, "missing"), (7, "missing")]
    assert "the producer reported it failed" in outcome.records[2].detail
    assert report.records_replayed == 2 and _waiting(client, url) == 1


def test_producer_reporting_only_its_first_failure_leaves_the_rest_not_replayed(sqs):
    """Lambda reads a stream response from the lowest reported sequence number on: so does the replay."""
    client, url = sqs

    def first_failure_only(event):
        return {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["dynamodb"]["SequenceNumber"]}]}

    report = rsf.replay(client, FakeStreams(_records(*range(10))), url, first_failure_only, wait_seconds=0)

    assert [s for _, s, _ in _statuses(report.outcomes[0])] == ["replayed"] + ["missing"] * 4
    assert _waiting(client, url) == 1


@pytest.mark.parametrize("outcome", ["reports failures", "raises"])
def test_producer_failures_keep_the_message(sqs, outcome):
    client, url = sqs
    calls = []

    def publish(event):
        calls.append([r["dynamodb"]["SequenceNumber"] for r in event["Records"]])
        if outcome == "raises":
            raise RuntimeError("SNS unavailable")
        return {"batchItemFailures": [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in event["Records"][2:]]}

    report = rsf.replay(client, FakeStreams(_records(*range(10))), url, publish, wait_seconds=0)

    assert calls == [[str(FIRST_SEQ + s) for s in range(3, 8)]]  # exactly the batch, in order, once
    (result,) = report.outcomes
    assert result.status == rsf.KEPT and report.kept == 1 and not report.ok
    assert report.records_replayed == (2 if outcome == "reports failures" else 0)
    detail = result.records[-1].detail
    assert ("reported it failed" if outcome == "reports failures" else "SNS unavailable") in detail
    assert _waiting(client, url) == 1


# ---------------------------------------------------------------------------------------------- expired


def test_trimmed_records_are_reported_expired_and_kept_and_the_cli_fails(sqs, monkeypatch, capsys):
    client, url = sqs
    streams = FakeStreams(_records(20, 21), trimmed_before=FIRST_SEQ + 20)  # the shard's oldest record is after 7
    monkeypatch.setattr(rsf, "make_clients", lambda region: (client, streams))
    monkeypatch.setattr(rsf, "load_producer", lambda topic_arn, config=None: _never)
    monkeypatch.setattr(rsf, "RECEIVE_WAIT_S", 0)

    code = rsf.main(["--queue-url", url, "--topic-arn", TOPIC_ARN])

    out = capsys.readouterr().out
    assert code == 1
    assert streams.iterator_types == ["AT_SEQUENCE_NUMBER", "TRIM_HORIZON"]
    assert "TrimmedDataAccessException" in out and "LOST" in out
    assert f"EXPIRED           {FIRST_SEQ + 3}" in out and f"EXPIRED           {FIRST_SEQ + 7}" in out
    assert "summary: messages: 1  deleted: 0  kept: 0  expired: 1" in out
    assert "replayed: 0" in out and "EXPIRED: 5" in out and "missing: 0" in out
    assert _waiting(client, url) == 1  # still there for an operator (and visible: the alarm keeps firing)


def test_a_deleted_stream_is_expired_too(sqs):
    client, url = sqs
    report = rsf.replay(client, FakeStreams([], gone=True), url, _never, wait_seconds=0)
    (outcome,) = report.outcomes
    assert outcome.status == rsf.EXPIRED and report.records(rsf.RECORD_EXPIRED) == 5
    assert "ResourceNotFoundException" in outcome.records[0].detail and _waiting(client, url) == 1


def test_partly_trimmed_batch_is_expired_and_what_is_left_is_replayed_not_lost(sqs):
    client, url = sqs
    streams = FakeStreams(_records(5, 6, 7, 8, 9))  # 3 and 4 trimmed; 8 and 9 are after the batch
    producer = Producer()

    report = rsf.replay(client, streams, url, producer, wait_seconds=0)

    (outcome,) = report.outcomes
    assert streams.iterator_types == ["AT_SEQUENCE_NUMBER", "TRIM_HORIZON"]
    assert producer.published == [str(FIRST_SEQ + s) for s in (5, 6, 7)]
    assert outcome.status == rsf.EXPIRED and not report.ok
    assert _statuses(outcome) == [(3, "EXPIRED", 1), (5, "replayed", 1), (6, "replayed", 1), (7, "replayed", 1),
                                  (None, "EXPIRED", 1)]  # 4, by count
    assert report.records_replayed == 3 and report.records(rsf.RECORD_EXPIRED) == 2
    text = report.render()
    assert "EXPIRED: 2 record(s)" in text and "replayed: 3" in text
    for s in (5, 6, 7):  # a replayed record is never reported lost
        (line,) = [line for line in text.splitlines() if line.strip().endswith(str(FIRST_SEQ + s))]
        assert line.split()[0] == "replayed"
    assert _waiting(client, url) == 1


# ---------------------------------------------------------------------------------------------- delete, once


def test_success_deletes_and_dry_run_only_reports(sqs):
    client, url = sqs
    records = _records(*range(10))

    dry = rsf.replay(client, FakeStreams(records), url, None, dry_run=True, wait_seconds=0)
    assert [o.status for o in dry.outcomes] == [rsf.WOULD_REPLAY] and dry.outcomes[0].records_found == 5
    assert dry.records(rsf.RECORD_WOULD_REPLAY) == 5 and "would replay: 5" in dry.render()
    assert _waiting(client, url) == 1

    producer = Producer()
    report = rsf.replay(client, FakeStreams(records), url, producer, wait_seconds=0)
    assert [o.status for o in report.outcomes] == [rsf.REPLAYED] and report.records_replayed == 5 and report.ok
    assert [s for _, s, _ in _statuses(report.outcomes[0])] == ["replayed"] * 5
    assert _waiting(client, url) == 0


def test_a_closed_shard_ending_at_the_batch_deletes(sqs):
    client, url = sqs
    report = rsf.replay(client, FakeStreams(_records(*range(8)), closed=True), url, Producer(), wait_seconds=0)
    assert report.outcomes[0].status == rsf.REPLAYED and _waiting(client, url) == 0


def test_a_duplicate_failure_message_is_already_delivered_and_published_once(sqs):
    client, url = sqs
    client.send_message(QueueUrl=url, MessageBody=_failure_body(FIRST_SEQ + 3, FIRST_SEQ + 7))  # the same batch again
    producer = Producer()

    report = rsf.replay(client, FakeStreams(_records(*range(10))), url, producer, wait_seconds=0)

    assert producer.published == [str(FIRST_SEQ + s) for s in range(3, 8)]
    assert [o.status for o in report.outcomes] == [rsf.REPLAYED, rsf.REPLAYED] and report.ok
    assert [s for _, s, _ in _statuses(report.outcomes[1])] == ["already delivered"] * 5
    assert _waiting(client, url) == 0


def test_the_journal_carries_what_was_delivered_to_the_next_run(sqs, tmp_path, monkeypatch, capsys):
    client, url = sqs
    journal = tmp_path / "replay.journal"
    streams = FakeStreams(_records(*range(10)))
    producer = Producer(fail_from=6)  # first run: 3, 4, 5 published, then SNS fails
    monkeypatch.setattr(rsf, "make_clients", lambda region: (client, streams))
    monkeypatch.setattr(rsf, "load_producer", lambda topic_arn, config=None: producer)
    monkeypatch.setattr(rsf, "RECEIVE_WAIT_S", 0)
    argv = ["--queue-url", url, "--topic-arn", TOPIC_ARN, "--journal", str(journal)]

    assert rsf.main(argv) == 1 and _waiting(client, url) == 1
    assert journal.read_text().split() == [w for s in (3, 4, 5) for w in (STREAM_ARN, SHARD, str(FIRST_SEQ + s))]

    producer.fail_from = None  # SNS is back
    capsys.readouterr()
    assert rsf.main(argv) == 0
    out = capsys.readouterr().out
    assert producer.published == [str(FIRST_SEQ + s) for s in range(3, 8)]  # each record once over both runs
    assert "already delivered: 3" in out and "replayed: 2" in out and "deleted: 1" in out
    assert _waiting(client, url) == 0


def test_an_unusable_journal_is_a_clear_error(tmp_path, capsys):
    folder = tmp_path / "a-folder"
    folder.mkdir()
    code = rsf.main(["--queue-url", "https://sqs.us-east-1.amazonaws.com/123456789012/q", "--topic-arn", TOPIC_ARN,
                     "--journal", str(folder)])
    err = capsys.readouterr().err
    assert code == 2 and "--journal" in err and "Traceback" not in err


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


@pytest.mark.parametrize("bad, complaint", [
    (["--bucket", "Not_A_Bucket"], "is not an S3 bucket name"),
    (["--bucket", "b-1", "--queue-url", "https://sqs.us-east-1.amazonaws.com/123456789012/q"], "not allowed with"),
])
def test_bad_bucket_arguments_are_clear_errors(bad, complaint, capsys):
    with pytest.raises(SystemExit) as exit_info:
        rsf.main([*bad, "--topic-arn", TOPIC_ARN])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and complaint in err and "Traceback" not in err


# ---------------------------------------------------------------------------------------------- from the bucket


def test_outage_longer_than_the_stream_retention_is_recovered_from_the_bucket_with_nothing_lost():
    """The producer cannot publish: every batch ends in the failure bucket (invocation record + payload, in AWS's
    key layout). Then the stream's 24 h pass (every record is trimmed from the stream), and only then the replay
    reads the bucket: every change is processed exactly once, every object is deleted (its data kept as a
    noncurrent version), nothing is lost."""
    config = build_config({"stream": {"maximum_retry_attempts": 1, "on_failure": "s3"}})
    workload = Workload(items=20, modify_share=0.2, remove_share=0.1)
    bad_topic = "arn:aws:sns:us-east-1:123456789012:no-such-topic"
    seen: dict = {}

    def after_drain(pipeline: LocalPipeline) -> None:
        s3, bucket = pipeline.clients.s3, pipeline.resources.failure_bucket
        keys = list(rsf.failure_objects(s3, bucket))
        seen["keys"] = keys
        seen["trimmed"] = pipeline.trim_stream()
        streams, arn = pipeline.clients.dynamodbstreams, pipeline.resources.stream_arn
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        horizon = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
        seen["left_in_stream"] = streams.get_records(ShardIterator=horizon["ShardIterator"])["Records"]
        publish = rsf.load_producer(pipeline.resources.topic_arn, log_stream=io.StringIO())
        seen["report"] = rsf.replay_bucket(s3, bucket, publish)
        versions = s3.list_object_versions(Bucket=bucket)
        seen["versions"] = len(versions.get("Versions", [])), len(versions.get("DeleteMarkers", []))

    pipeline = LocalPipeline(config, Options(
        workload=workload, timeout_s=60,
        environment_overrides={config.names.producer_function: {"SNS_TOPIC_ARN": bad_topic}},
        after_drain=after_drain,
    ))
    result = pipeline.run()
    assert result.errors == [] and not result.timed_out

    keys, report = seen["keys"], seen["report"]
    pattern = r"aws/lambda/[0-9a-f-]{36}/shardId-[^/]+/[0-9]{4}/[0-9]{2}/[0-9]{2}/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}\.[0-9]{2}\.[0-9]{2}-[0-9a-f-]{36}"
    assert len(keys) > 1 and all(re.fullmatch(pattern, k) for k in keys), keys
    assert seen["trimmed"] == workload.changes and seen["left_in_stream"] == []  # gone from the stream
    assert sum(o.batch_size for o in report.outcomes) == workload.changes
    assert all(o.status == rsf.REPLAYED for o in report.outcomes), report.render()
    assert report.records_replayed == workload.changes and report.ok
    assert seen["versions"] == (len(keys), len(keys))  # deleted, yet each batch kept as a noncurrent version

    s = result.summary
    assert result.stream_failures == [] and s["stream_failures"] == 0  # nothing left in the bucket
    assert s["written"] == s["published"] == workload.changes
    assert s["processed"] == s["processed_once"] == workload.changes
    assert s["processed_more_than_once"] == 0 and s["lost"] == 0 and s["dead_lettered"] == 0
    assert result.ok


def test_failed_batches_left_in_the_bucket_are_counted_as_stream_failures_not_lost():
    config = build_config({"stream": {"maximum_retry_attempts": 0, "on_failure": "s3"}})
    workload = Workload(items=6, modify_share=0.0, remove_share=0.0)
    result = LocalPipeline(config, Options(
        workload=workload, timeout_s=60,
        environment_overrides={config.names.producer_function: {"SNS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:x"}},
    )).run()
    assert result.errors == []
    bodies = [json.loads(o["Body"]) for o in result.stream_failures]
    assert sum(len(b["payload"]["Records"]) for b in bodies) == workload.changes
    assert all(b["DDBStreamBatchInfo"]["batchSize"] == len(b["payload"]["Records"]) for b in bodies)
    assert all(b["requestContext"]["condition"] == "RetryAttemptsExhausted" for b in bodies)
    assert result.summary["stream_failures"] == workload.changes and result.summary["processed"] == 0


class FakeBucket:
    """get_object / delete_object / list_objects_v2 of one bucket, in memory."""

    def __init__(self, objects: dict[str, str]) -> None:
        self.objects, self.deleted = dict(objects), []

    def get_object(self, *, Bucket, Key):
        return {"Body": io.BytesIO(self.objects[Key].encode())}

    def delete_object(self, *, Bucket, Key):
        self.deleted.append(Key)
        del self.objects[Key]

    def get_paginator(self, name):
        assert name == "list_objects_v2"
        outer = self

        class Pages:
            def paginate(self, *, Bucket, Prefix):
                return [{"Contents": [{"Key": k} for k in sorted(outer.objects) if k.startswith(Prefix)]}]

        return Pages()


def _object_body(offsets, *, batch_size: int | None = -1, as_string: bool = False) -> str:
    records = [dict(_record(FIRST_SEQ + o), eventSourceARN=STREAM_ARN) for o in offsets]
    body = json.loads(_failure_body(FIRST_SEQ + offsets[0], FIRST_SEQ + offsets[-1], batch_size))
    event = {"Records": records}
    body["payload"] = json.dumps(event) if as_string else event
    return json.dumps(body)


KEY = f"aws/lambda/6f0d5b8e-0000-4000-8000-000000000000/{SHARD}/2024/01/01/2024-01-01T00.00.00-0a1b2c3d-0000-4000-8000-000000000000"


@pytest.mark.parametrize("as_string", [False, True], ids=["payload object", "payload JSON string"])
def test_a_fully_replayed_object_is_deleted(as_string):
    bucket, producer = FakeBucket({KEY: _object_body(range(3, 8), as_string=as_string)}), Producer()
    report = rsf.replay_bucket(bucket, "b", producer)
    assert producer.published == [str(FIRST_SEQ + s) for s in range(3, 8)]
    assert bucket.deleted == [KEY] and report.ok and report.records_replayed == 5
    assert "from s3://b/aws/lambda/" in report.render()


def test_a_producer_failure_keeps_the_object_and_a_rerun_with_the_journal_publishes_each_record_once(tmp_path):
    bucket, producer = FakeBucket({KEY: _object_body(range(3, 8))}), Producer(fail_from=5)
    journal_path = tmp_path / "j"
    delivered: set = set()
    with journal_path.open("a") as journal:
        report = rsf.replay_bucket(bucket, "b", producer, delivered=delivered, journal=journal)
    assert not report.ok and bucket.deleted == [] and KEY in bucket.objects
    assert _statuses(report.outcomes[0]) == [(3, "replayed", 1), (4, "replayed", 1), (5, "missing", 1),
                                             (6, "missing", 1), (7, "missing", 1)]
    assert "objects stay in the bucket" in report.render()
    producer.fail_from = None
    with journal_path.open() as lines:
        again = rsf.replay_bucket(bucket, "b", producer, delivered=rsf.read_journal(lines))
    assert again.ok and bucket.deleted == [KEY]
    assert producer.published == [str(FIRST_SEQ + s) for s in range(3, 8)]  # each record once over both runs
    assert again.records(rsf.ALREADY_DELIVERED) == 2 and again.records_replayed == 3


def test_a_payload_short_of_its_batch_is_kept_and_says_what_is_missing():
    body = json.loads(_object_body([3, 4, 5]))
    body["DDBStreamBatchInfo"]["endSequenceNumber"] = str(FIRST_SEQ + 7)
    body["DDBStreamBatchInfo"]["batchSize"] = 5
    bucket, producer = FakeBucket({KEY: json.dumps(body)}), Producer()
    report = rsf.replay_bucket(bucket, "b", producer)
    assert bucket.deleted == [] and not report.ok
    assert _statuses(report.outcomes[0]) == [(3, "replayed", 1), (4, "replayed", 1), (5, "replayed", 1),
                                             (7, "missing", 1), (None, "missing", 1)]


def test_an_object_without_a_payload_is_kept_and_named():
    bucket = FakeBucket({KEY: _failure_body(FIRST_SEQ, FIRST_SEQ + 1)})
    report = rsf.replay_bucket(bucket, "b", _never)
    assert bucket.deleted == [] and not report.ok
    assert "no payload with Records" in report.render()


def test_dry_run_from_the_bucket_publishes_and_deletes_nothing():
    bucket = FakeBucket({KEY: _object_body(range(2))})
    report = rsf.replay_bucket(bucket, "b", None, dry_run=True)
    assert bucket.deleted == [] and report.ok and report.records(rsf.RECORD_WOULD_REPLAY) == 2


def test_cli_replays_from_the_bucket(monkeypatch, capsys):
    bucket, producer = FakeBucket({KEY: _object_body(range(3))}), Producer()
    monkeypatch.setattr(rsf, "_client", lambda service, region: bucket)
    monkeypatch.setattr(rsf, "load_producer", lambda topic_arn, config=None: producer)
    assert rsf.main(["--bucket", "my-failures", "--topic-arn", TOPIC_ARN]) == 0
    out = capsys.readouterr().out
    assert "replayed: 3" in out and "deleted: 1" in out and bucket.deleted == [KEY]


# ---------------------------------------------------------------------------------------------- the deployed producer


ROUTED = {
    "producer": {"message_attributes": ["kind"]},
    "stream": {"maximum_retry_attempts": 1, "event_names": ["INSERT", "MODIFY"]},
    "subscribers": [{"filter_policy": {"kind": ["order"]}}],
}


def test_a_replayed_change_carries_its_lifted_attribute_and_reaches_the_subscription_filtering_on_it():
    """The producer cannot publish: every change ends in the failure queue. The replay runs the producer with the
    deployed environment (producer.message_attributes lifts ``kind``), so the subscription filtering on ``kind``
    receives every "order" change; the REMOVEs are excluded by stream.event_names and never published."""
    from local_pipeline.workload import item_kind

    config = build_config(ROUTED)
    workload = Workload(items=12, modify_share=0.5, remove_share=0.25)
    reports: list = []

    def after_drain(pipeline: LocalPipeline) -> None:
        publish = rsf.load_producer(pipeline.resources.topic_arn, config, log_stream=io.StringIO())
        reports.append(rsf.replay(pipeline.clients.sqs, pipeline.clients.dynamodbstreams,
                                  pipeline.resources.failure_queue_url, publish, wait_seconds=0,
                                  event_names=config.stream.event_names))

    pipeline = LocalPipeline(config, Options(
        workload=workload, timeout_s=60,
        environment_overrides={config.names.producer_function: {"SNS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:x"}},
        after_drain=after_drain,
    ))
    result = pipeline.run()
    assert result.errors == [] and not result.timed_out

    (report,) = reports
    assert report.ok and report.messages >= 1, report.render()
    plan = workload.plan()
    passing = [w for w in plan if w[0] != "REMOVE"]
    orders = [w for w in passing if item_kind(w[1]) == "order"]
    assert 0 < len(orders) < len(passing) < len(plan)
    assert report.records_replayed == len(passing)
    s = result.summary
    assert s["filtered_out"] == len(plan) - len(passing) and s["published"] == len(passing)
    main = s["subscribers"]["main"]
    assert main["processed"] == main["processed_once"] == len(orders)  # without the lifted attribute: 0
    assert s["lost"] == 0 and s["stream_failures"] == 0 and result.ok


def _change(seq: int, event: str) -> dict:
    record = _record(seq)
    record["eventName"] = event
    if event == "REMOVE":
        record["dynamodb"]["OldImage"] = record["dynamodb"].pop("NewImage")
    return record


def test_a_change_the_stream_filter_excludes_is_reported_filtered_and_not_republished(sqs, tmp_path, monkeypatch,
                                                                                      capsys):
    """The range 3..7 spans a REMOVE (5) that stream.event_names excludes (Lambda never gave it to the producer):
    the replay (CLI, --config) does not publish it, reports it filtered (not missing) and deletes the message."""
    client, url = sqs
    streams = FakeStreams([_change(FIRST_SEQ + s, "REMOVE" if s == 5 else "INSERT") for s in range(10)])
    producer = Producer()
    config_file = tmp_path / "pipeline.toml"
    config_file.write_text('[stream]\nevent_names = ["INSERT", "MODIFY"]\n', encoding="utf-8")
    monkeypatch.setattr(rsf, "make_clients", lambda region: (client, streams))
    monkeypatch.setattr(rsf, "load_producer", lambda topic_arn, config=None: producer)
    monkeypatch.setattr(rsf, "RECEIVE_WAIT_S", 0)

    code = rsf.main(["--queue-url", url, "--topic-arn", TOPIC_ARN, "--config", str(config_file)])

    out = capsys.readouterr().out
    assert code == 0, out
    assert producer.published == [str(FIRST_SEQ + s) for s in (3, 4, 6, 7)]
    assert f"filtered          {FIRST_SEQ + 5}" in out and "filtered: 1" in out and "missing: 0" in out
    assert "replayed: 4" in out and "deleted: 1" in out and _waiting(client, url) == 0


def test_without_the_stream_filter_the_remove_is_republished(sqs):
    """The control: no stream.event_names, the REMOVE of the range is published like the others."""
    client, url = sqs
    streams = FakeStreams([_change(FIRST_SEQ + s, "REMOVE" if s == 5 else "INSERT") for s in range(10)])
    producer = Producer()
    report = rsf.replay(client, streams, url, producer, wait_seconds=0, event_names=None)
    assert report.ok and producer.published == [str(FIRST_SEQ + s) for s in range(3, 8)]


def test_a_bad_config_for_the_replay_is_a_one_line_error(tmp_path, capsys):
    config_file = tmp_path / "pipeline.toml"
    config_file.write_text('[stream]\nevent_names = ["UPSERT"]\n', encoding="utf-8")
    code = rsf.main(["--queue-url", "https://sqs.us-east-1.amazonaws.com/123456789012/q", "--topic-arn", TOPIC_ARN,
                     "--config", str(config_file)])
    err = capsys.readouterr().err
    assert code == 2 and "stream.event_names" in err and "Traceback" not in err
    assert all(line.startswith("error: ") for line in err.strip().splitlines()), err


def test_the_replay_picks_the_environment_or_names_the_choice(tmp_path, capsys):
    config_file = tmp_path / "pipeline.toml"
    config_file.write_text('[environments.dev]\nname_suffix = "-dev"\n[environments.prod]\nname_suffix = "-prod"\n',
                           encoding="utf-8")
    assert rsf.load_config(str(config_file), "prod").environment == "prod"
    with pytest.raises(rsf.ConfigError, match="--environment: the configuration has 2 environments"):
        rsf.load_config(str(config_file))
    with pytest.raises(rsf.ConfigError, match="no environment named 'test'"):
        rsf.load_config(str(config_file), "test")


def test_the_replay_runs_the_producer_with_the_deployed_environment():
    """One function computes the producer's environment for the construct, the local run and the replay; the size
    budget follows the stack profile's queue size."""
    from pipeline_model import contract
    from pipeline_model.stack_profiles import queue_max_message_size

    for profile in ("tutorial", "current"):
        config = build_config({**ROUTED, "stack_profile": profile, "producer": {"message_attributes": ["kind"],
                                                                                 "publish_concurrency": 3}})
        environment = rsf.producer_settings(config, TOPIC_ARN)
        assert environment == contract.producer_environment(config, TOPIC_ARN, stack_profile=profile)
        assert environment["MESSAGE_ATTRIBUTES"] == "kind" and environment["PUBLISH_CONCURRENCY"] == "3"
        budget = json.loads(environment["MESSAGE_SIZE_BUDGET"])
        assert budget["envelope"] == queue_max_message_size(profile)


def _oversize_with_its_attribute(pm) -> dict:
    """A record whose message fits the default queue (256 KiB envelope) without the lifted ``kind`` attribute
    (1,000 bytes) and not with it, as SNS counts attributes."""
    from pipeline_model.lambda_runtime import temporary_environment

    def record(length: int) -> dict:
        r = _record(FIRST_SEQ + 3)
        r["eventSourceARN"] = STREAM_ARN
        r["dynamodb"]["NewImage"].update({"kind": {"S": "k" * 1000}, "payload": {"S": "x" * length}})
        return r

    def fits(length: int, names: str) -> bool:
        with temporary_environment({"MESSAGE_ATTRIBUTES": names}):
            return not pm.build(record(length)).truncated

    low, high = 100_000, 300_000  # fits without the attribute at low, not at high
    assert fits(low, "") and not fits(high, "")
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle, "") else (low, middle)
    assert fits(low, "") and not fits(low, "kind")
    return record(low)


def test_a_replayed_record_over_the_budget_with_its_lifted_attributes_is_sent_keys_only(offline_moto):
    """The deployed producer counts the lifted attributes in the message's size (SNS does): a record that fits only
    without them is published keys-only, with its attributes, not in full (which SNS would fail to deliver)."""
    import boto3
    from moto.sns.models import sns_backends

    from pipeline_model.lambda_runtime import shared_module

    client, url = offline_moto
    pm = shared_module("pipeline_message")
    record = _oversize_with_its_attribute(pm)
    topic_arn = boto3.client("sns", region_name="us-east-1").create_topic(Name="t")["TopicArn"]
    client.send_message(QueueUrl=url, MessageBody=_failure_body(FIRST_SEQ + 3, FIRST_SEQ + 3))
    config = build_config({"producer": {"message_attributes": ["kind"]}})

    publish = rsf.load_producer(topic_arn, config, log_stream=io.StringIO())
    report = rsf.replay(client, FakeStreams([record]), url, publish, wait_seconds=0)

    assert report.ok and report.records_replayed == 1, report.render()
    ((_mid, message, _subject, attributes, _group),) = sns_backends["123456789012"]["us-east-1"].topics[
        topic_arn].sent_notifications
    body = json.loads(message)
    assert body["truncated"] is True and body["newImage"] is None and body["keys"] == {"id": "item-003"}
    assert attributes["kind"]["Value"] == "k" * 1000
