"""Event source mappings, played locally: a stream poller and one poller per subscriber queue.

Stream -> producer (like Lambda's DynamoDB stream mapping with ReportBatchItemFailures,
BisectBatchOnFunctionError, MaximumRetryAttempts, MaximumRecordAgeInSeconds and an
on-failure destination):

* reads batches of ``stream.batch_size`` records (waiting up to
  ``stream.maximum_batching_window_seconds`` to fill one) from ``starting_position``;
* drops the records the mapping's filter does not match (``stream.event_names``, the same rule as the
  synthesized ``filter_criteria``: pipeline_model.mapping) before batching: the producer never sees them,
  they are never retried, and the ledger counts them as filtered out, not lost;
* a response listing ``batchItemFailures`` checkpoints before the lowest reported sequence
  number and retries from there; a function error (exception) or an invalid response fails
  the whole batch;
* each retry of a failing batch is split in two first (bisect) and the halves are retried in
  order; after ``stream.maximum_retry_attempts`` retries, or once a record is older than
  ``stream.maximum_record_age_seconds``, the failing records are described in a message to
  the on-failure queue (the shape Lambda sends: ``DDBStreamBatchInfo`` with the sequence
  number range) and the shard moves on. With ``stream.on_failure = "s3"`` they are written to the
  failure bucket instead, as Lambda writes an S3 on-failure destination: the same invocation
  record plus the whole event under ``payload``, at ``aws/lambda/<mapping UUID>/<shard>/YYYY/MM/DD/...``.

Queue -> consumer (like Lambda's SQS mapping with ReportBatchItemFailures):

* receives up to ``batch_size`` messages (several ReceiveMessage calls of <= 10 within
  ``maximum_batching_window_seconds``), invokes the consumer with a Lambda-shaped SQS event;
* deletes only the messages not listed in ``batchItemFailures``; a function error or an
  invalid response deletes none. Undeleted messages reappear after the queue's visibility
  timeout; after ``max_receive_count`` receives the emulator (moto) moves them to the DLQ
  from the queue's redrive policy -- exactly what SQS does, so the poller does not.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import threading
import time
import traceback
import uuid
from typing import Callable

from pipeline_model.lambda_runtime import (
    InvalidBatchResponse,
    batch_item_failures,
    shared_module,
    sqs_event,
    failure_object_key,
    stream_event,
    stream_failure_message,
    stream_failure_object,
)

from pipeline_model.mapping import stream_record_passes

from .functions import LambdaFunction
from .ledger import InvocationLog, Ledger

pipeline_message = shared_module("pipeline_message")


class _Poller(threading.Thread):
    def __init__(self, name: str, stop: threading.Event, on_error: Callable[[str], None]) -> None:
        super().__init__(name=name, daemon=True)
        self.stop_event = stop
        self.on_error = on_error
        self.busy = False
        self.crashed: str | None = None

    def run(self) -> None:
        try:
            self.loop()
        except Exception:  # a bug in the poller itself: report, don't hang the run
            self.crashed = traceback.format_exc()
            self.on_error(f"{self.name} crashed:\n{self.crashed}")

    def loop(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def sleep(self, seconds: float) -> None:
        self.stop_event.wait(seconds)


class StreamPoller(_Poller):
    def __init__(self, *, config, res, function: LambdaFunction, clients, ledger: Ledger, timing, stop, on_error) -> None:
        super().__init__("stream-poller", stop, on_error)
        self.cfg = config.stream
        self.event_names = config.stream.event_names
        self.bisect = config.stream.bisect_batch_on_function_error
        self.res = res
        self.function = function
        self.streams = clients.dynamodbstreams
        self.sqs = clients.sqs
        self.s3 = getattr(clients, "s3", None)
        self.mapping_uuid = str(uuid.uuid4())  # the event source mapping's UUID (it names the failure objects)
        self.ledger = ledger
        self.timing = timing
        self.last_empty_read = 0.0
        self.records_read = 0
        shard = self.streams.describe_stream(StreamArn=res.stream_arn)["StreamDescription"]["Shards"][0]
        self.shard_id = shard["ShardId"]
        # Taken now, before anything is written, so LATEST means "from the start of this run".
        self.iterator = self.streams.get_shard_iterator(
            StreamArn=res.stream_arn, ShardId=self.shard_id, ShardIteratorType=self.cfg.starting_position
        )["ShardIterator"]

    def _read(self, limit: int) -> list[dict]:
        """The next records the mapping's filter lets through ([] once the shard has no more for now)."""
        while True:
            response = self.streams.get_records(ShardIterator=self.iterator, Limit=limit)
            self.iterator = response["NextShardIterator"]
            records = stream_event(response.get("Records", []), self.res.stream_arn)["Records"]
            if not records:
                return []
            kept = []
            for record in records:
                if stream_record_passes(self.event_names, record):
                    kept.append(record)
                else:
                    self.ledger.filtered_out(record)
            if kept:
                return kept

    def loop(self) -> None:
        while not self.stop_event.is_set():
            records = self._read(self.cfg.batch_size)
            if not records:
                self.last_empty_read = time.monotonic()
                self.sleep(self.timing.stream_idle_poll_s)
                continue
            self.busy = True
            try:
                window_end = time.monotonic() + self.cfg.maximum_batching_window_seconds
                while len(records) < self.cfg.batch_size and time.monotonic() < window_end and not self.stop_event.is_set():
                    more = self._read(self.cfg.batch_size - len(records))
                    records += more
                    if not more:
                        self.sleep(0.05)
                self.records_read += len(records)
                for record in records:
                    self.ledger.stream_record(record)
                self.deliver(records, retries=0)
            finally:
                self.busy = False

    # --- one batch, with checkpointing, bisecting, bounded retries ------------------------------
    def _invoke(self, records: list[dict]) -> int | None:
        """Index of the first failed record (None: all succeeded)."""
        self.ledger.producer_invocations += 1
        try:
            response = self.function.invoke({"Records": records})
        except Exception:
            self.ledger.producer_errors += 1
            return 0
        sequence = {r["dynamodb"]["SequenceNumber"]: i for i, r in enumerate(records)}
        try:
            failed = batch_item_failures(response, sequence)
        except InvalidBatchResponse:
            return 0  # Lambda fails the whole batch
        return min((sequence[ident] for ident in failed), default=None)

    def deliver(self, records: list[dict], retries: int) -> None:
        while records and not self.stop_event.is_set():
            expired = self._expired(records)
            if expired:
                self.to_failure_queue(records[:expired], "RecordAgeExceeded", retries)
                records = records[expired:]
                continue
            first_failed = self._invoke(records)
            if first_failed is None:
                return
            records = records[first_failed:]  # checkpoint: everything before was processed
            if retries >= self.cfg.maximum_retry_attempts:
                self.to_failure_queue(records, "RetryAttemptsExhausted", retries)
                return
            retries += 1
            self.ledger.producer_retries += 1
            self.sleep(self.timing.retry_backoff(retries))
            if self.bisect and len(records) > 1:
                self.ledger.producer_bisections += 1
                half = len(records) // 2
                self.deliver(records[:half], retries)
                self.deliver(records[half:], retries)
                return

    def _expired(self, records: list[dict]) -> int:
        now = time.time()
        count = 0
        for record in records:
            created = record["dynamodb"].get("ApproximateCreationDateTime")
            if created is not None and now - float(created) > self.cfg.maximum_record_age_seconds:
                count += 1
            else:
                break
        return count

    def to_failure_queue(self, records: list[dict], condition: str, retries: int) -> None:
        """The on-failure destination: the failure queue (metadata only) or the failure bucket (with the records)."""
        details = dict(shard_id=self.shard_id, stream_arn=self.res.stream_arn, function_arn=self.function.arn,
                       condition=condition, invocations=retries + 1)
        if self.res.failure_bucket:
            key = failure_object_key(self.mapping_uuid, self.shard_id, datetime.datetime.now(datetime.timezone.utc),
                                     str(uuid.uuid4()))
            self.s3.put_object(Bucket=self.res.failure_bucket, Key=key,
                               Body=json.dumps(stream_failure_object(records, **details)).encode())
            return
        body = stream_failure_message(records, **details)
        self.sqs.send_message(QueueUrl=self.res.failure_queue_url, MessageBody=json.dumps(body))


class QueuePoller(_Poller):
    def __init__(self, *, sub_res, function: LambdaFunction, invocation_log: InvocationLog, clients, ledger: Ledger,
                 timing, stop, on_error, duplicate_share: float, index: int = 0) -> None:
        super().__init__(f"queue-poller-{sub_res.config.name}-{index}", stop, on_error)
        self.sub = sub_res.config
        self.res = sub_res
        self.function = function
        self.invocation_log = invocation_log
        self.sqs = clients.sqs
        self.s3 = getattr(clients, "s3", None)
        self.mapping_uuid = str(uuid.uuid4())  # the event source mapping's UUID (it names the failure objects)
        self.ledger = ledger
        self.tally = ledger.subs[self.sub.name]
        self.timing = timing
        self.duplicate_share = duplicate_share

    def _receive(self) -> list[dict]:
        batch: list[dict] = []
        window_end = time.monotonic() + self.sub.maximum_batching_window_seconds
        while len(batch) < self.sub.batch_size and not self.stop_event.is_set():
            wait = self.timing.sqs_wait_s if not batch else 0
            response = self.sqs.receive_message(
                QueueUrl=self.res.queue_url,
                MaxNumberOfMessages=min(10, self.sub.batch_size - len(batch)),
                WaitTimeSeconds=wait,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            messages = response.get("Messages", [])
            batch += messages
            if not batch or time.monotonic() >= window_end:
                break
            if not messages:
                self.sleep(0.05)
        return batch

    def loop(self) -> None:
        while not self.stop_event.is_set():
            messages = self._receive()  # received messages are invisible in the queue until deleted
            if not messages:
                continue
            self.busy = True
            try:
                self.handle(messages)
            finally:
                self.busy = False

    def handle(self, messages: list[dict]) -> None:
        event = sqs_event(messages, self.res.queue_arn)
        with self.ledger.lock:
            self.tally.receives += len(messages)
            self.tally.delivered.update(m["MessageId"] for m in messages)
            self.tally.invocations += 1
        processed_now = self.invocation_log.begin()
        try:
            response = self.function.invoke(event)
            failed = self._failed_ids(response, messages)
        except Exception:
            with self.ledger.lock:
                self.tally.function_errors += 1
            failed = {m["MessageId"] for m in messages}
        succeeded = [m for m in messages if m["MessageId"] not in failed]
        if not succeeded:
            return
        for message in succeeded:
            event_id = pipeline_message.event_id_of_body(message["Body"])
            if event_id in processed_now:
                continue
            with self.ledger.lock:
                if event_id and self.tally.processed.get(event_id):
                    self.tally.duplicates_suppressed += 1
                else:
                    self.tally.acked_without_processing += 1
        self._inject_duplicates(succeeded)
        for start in range(0, len(succeeded), 10):
            chunk = succeeded[start : start + 10]
            result = self.sqs.delete_message_batch(
                QueueUrl=self.res.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
            with self.ledger.lock:
                self.tally.deleted += len(result.get("Successful", []))

    @staticmethod
    def _failed_ids(response, messages: list[dict]) -> set[str]:
        ids = {m["MessageId"] for m in messages}
        try:
            return set(batch_item_failures(response, ids))
        except InvalidBatchResponse:
            return ids  # Lambda treats the whole batch as failed

    def _inject_duplicates(self, succeeded: list[dict]) -> None:
        """Redeliver a share of successfully processed messages once (at-least-once delivery)."""
        if self.duplicate_share <= 0:
            return
        for message in succeeded:
            event_id = pipeline_message.event_id_of_body(message["Body"]) or message["MessageId"]
            bucket = int(hashlib.sha1(event_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
            if bucket >= self.duplicate_share:
                continue
            with self.ledger.lock:
                if event_id in self.tally.duplicated_ids:
                    continue  # redeliver each change once, not the redelivery again
                self.tally.duplicated_ids.add(event_id)
            attributes = {
                name: {k: v for k, v in a.items() if k in ("DataType", "StringValue", "BinaryValue")}
                for name, a in (message.get("MessageAttributes") or {}).items()
            }
            kwargs = {"MessageAttributes": attributes} if attributes else {}
            group = (message.get("Attributes") or {}).get("MessageGroupId")
            if group:  # a FIFO queue: the copy joins the item's group, under its own deduplication id
                kwargs.update(MessageGroupId=group, MessageDeduplicationId=f"redelivery-{message['MessageId']}")
            self.sqs.send_message(QueueUrl=self.res.queue_url, MessageBody=message["Body"], **kwargs)
            with self.ledger.lock:
                self.tally.duplicates_injected += 1
