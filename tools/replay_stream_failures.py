"""Replay the stream batches that ended in the producer's on-failure queue, and never delete data.

For a DynamoDB stream, Lambda's on-failure destination gets *metadata only*: one JSON message
per failed batch whose ``DDBStreamBatchInfo`` names the stream, the shard, the first and last
sequence numbers and the batch size. The records themselves stay in the stream only for its
24 h retention. This tool reads each message, reads that sequence number range of the shard
again (GetShardIterator AT_SEQUENCE_NUMBER, or TRIM_HORIZON when the start is already trimmed,
then GetRecords up to the end sequence number), hands the records to the real producer handler
as a DynamoDB-stream event, and accounts for every record of the range by its sequence number:

* ``replayed``: read from the stream and published (the producer reported no failure at or before it);
* ``already delivered``: published earlier in this run, or listed in ``--journal`` by an earlier run;
* ``EXPIRED``: gone from the stream: TrimmedDataAccessException, or missing from the front of the range
  (a stream loses only its oldest records, after 24 h);
* ``missing``: not found although not provably trimmed (the read ended before the end of the range, the
  stream could not be read, or the producer failed on it: see the record's note); a rerun may find it;
* ``filtered``: a change the stream mapping's filter (``stream.event_names``) excludes: Lambda never hands it to
  the deployed producer, so the replay does not publish it either (it counts as done, not as missing).

The producer runs with exactly the environment the stack deploys (``contract.producer_environment``: the topic,
the message size budget of the subscribers' delivery modes and queue size, which follows the stack profile, the
item fields lifted into message attributes, the publish concurrency), computed from the pipeline's configuration:
``--config FILE`` / ``--environment NAME``, resolved as ``make local`` and ``cdktf synth`` resolve them (default
$PIPELINE_CONFIG, else the original design). Replaying with another configuration than the deployed one publishes
what that configuration says: a different size budget or missing lifted attributes (a subscription filtering on
them would not receive the change).

The failure message is deleted only when every record of the range is replayed or already delivered:
the start and end sequence numbers were read and the number of records matches ``batchSize``. Anything
else leaves it in the queue (visible again at the end of the run, so its alarm keeps firing).

    python -m tools.replay_stream_failures --queue-url URL --topic-arn ARN [--config FILE] [--environment NAME] \\
        [--region R] [--dry-run] [--max-messages N] [--journal FILE]

With ``[stream] on_failure = "s3"`` the failed batches are objects in the pipeline's failure bucket, each holding
the invocation record and the whole event (the records themselves): ``--bucket NAME`` replays them from there, at
any time (the stream is not read), with the same per-record report (``EXPIRED`` cannot happen: a record absent
from the stored payload is ``missing``). An object is deleted only when every record of its batch was replayed or
already delivered; the bucket is versioned, so its data stays as a noncurrent version until the lifecycle rule
expires it (stream.failure_retention_days).

    python -m tools.replay_stream_failures --bucket NAME --topic-arn ARN [--config FILE] [--environment NAME] \\
        [--prefix P] [--region R] [--dry-run] [--max-messages N] [--journal FILE]

Exit status: 0 every record replayed or already delivered (or, with --dry-run, replayable); 1 a record
was expired, missing or not replayed (its message is kept); 2 bad arguments or an AWS error that stopped
the run.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, TextIO

from pipeline_model.lambda_runtime import (
    FUNCTIONS_DIR,
    InvalidBatchResponse,
    LambdaContext,
    batch_item_failures,
    load_handler,
    FAILURE_OBJECT_PREFIX,
    parse_batch_info,
    parse_failure_object,
    stream_event,
    temporary_environment,
)
from pipeline_model.config import ConfigError, PipelineConfig, load_environments
from pipeline_model.contract import MESSAGE_ATTRIBUTES_ENV, producer_environment
from pipeline_model.mapping import stream_record_passes
from pipeline_model.message_size import BUDGET_VARIABLE
from pipeline_model.packaging import code_folder

#: publish(event) -> the producer's response ({"batchItemFailures": [...]}).
Publish = Callable[[dict], Any]

#: GetRecords allows at most 1,000 records per call.
GET_RECORDS_LIMIT = 1000
#: Consecutive empty GetRecords pages after which an open shard counts as read as far as it goes now.
EMPTY_READS = 3
#: How long a received failure message stays invisible while its batch is replayed.
VISIBILITY_TIMEOUT_S = 900
#: SQS long poll of the CLI: an empty receive after this wait ends the run.
RECEIVE_WAIT_S = 2

# Message outcomes.
REPLAYED, KEPT, EXPIRED, WOULD_REPLAY = "REPLAYED", "KEPT", "EXPIRED", "WOULD_REPLAY"
# Record outcomes.
RECORD_REPLAYED, ALREADY_DELIVERED, RECORD_EXPIRED, MISSING, RECORD_WOULD_REPLAY, RECORD_FILTERED = (
    "replayed", "already delivered", "EXPIRED", "missing", "would replay", "filtered")
RECORD_STATUSES = (RECORD_REPLAYED, ALREADY_DELIVERED, RECORD_FILTERED, RECORD_EXPIRED, MISSING, RECORD_WOULD_REPLAY)
#: Record outcomes that complete a batch: nothing of it is left to publish.
DONE = (RECORD_REPLAYED, ALREADY_DELIVERED, RECORD_FILTERED)

#: (stream ARN, shard id, sequence number): a record, wherever it is reported.
RecordKey = tuple[str, str, str]


# ---------------------------------------------------------------------------------------------- report


@dataclass
class RecordOutcome:
    """One record of a batch, or ``count`` records whose sequence numbers cannot be known (they are gone)."""

    status: str
    sequence: str | None = None
    count: int = 1
    detail: str = ""

    def line(self) -> str:
        what = self.sequence if self.sequence is not None else f"{self.count} record(s), sequence numbers unknown"
        return f"    {self.status:<17} {what}" + (f"  -- {self.detail}" if self.detail else "")


@dataclass
class MessageOutcome:
    message_id: str
    status: str  # REPLAYED | KEPT | EXPIRED | WOULD_REPLAY
    detail: str = ""
    stream_arn: str = ""
    shard_id: str = ""
    start: str = ""
    end: str = ""
    batch_size: int | None = None
    records_found: int = 0
    records: list[RecordOutcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(r.count for r in self.records if r.status == status)

    @property
    def records_published(self) -> int:
        """Records of this batch the producer published in this run."""
        return self.count(RECORD_REPLAYED)

    @property
    def complete(self) -> bool:
        """Every record of the range is accounted for as replayed, already delivered or filtered out."""
        return bool(self.records) and all(r.status in DONE for r in self.records)

    def lines(self) -> list[str]:
        where = f"{self.shard_id} {self.start}..{self.end}" if self.shard_id else "(no batch info)"
        size = "?" if self.batch_size is None else self.batch_size
        head = f"  {self.status:<12} {self.message_id}  {where}  records {self.records_found}/{size}"
        return [head + (f"  -- {self.detail}" if self.detail else ""), *(r.line() for r in self.records)]


@dataclass
class ReplayReport:
    queue_url: str
    dry_run: bool = False
    outcomes: list[MessageOutcome] = field(default_factory=list)

    def _count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    def records(self, status: str) -> int:
        return sum(o.count(status) for o in self.outcomes)

    @property
    def messages(self) -> int:
        return len(self.outcomes)

    @property
    def replayed(self) -> int:
        """Messages whose every record was republished (or already delivered), deleted from the queue."""
        return self._count(REPLAYED)

    @property
    def kept(self) -> int:
        """Messages left in the queue: a record missing or not replayed, or the message was unusable."""
        return self._count(KEPT)

    @property
    def expired(self) -> int:
        """Messages with records gone from the stream: data loss, left in the queue."""
        return self._count(EXPIRED)

    @property
    def records_replayed(self) -> int:
        return self.records(RECORD_REPLAYED)

    @property
    def ok(self) -> bool:
        return self.kept == 0 and self.expired == 0

    def render(self) -> str:
        mode = " (dry run: nothing published or deleted)" if self.dry_run else ""
        lines = [f"replaying stream failures from {self.queue_url}{mode}"]
        for outcome in self.outcomes:
            lines += outcome.lines()
        counts = "  ".join(f"{status}: {self.records(status)}" for status in RECORD_STATUSES
                           if status != (RECORD_REPLAYED if self.dry_run else RECORD_WOULD_REPLAY))
        deleted = "deleted: 0 (dry run)" if self.dry_run else f"deleted: {self.replayed}"
        lines.append(f"summary: messages: {self.messages}  {deleted}  kept: {self.kept}  expired: {self.expired}")
        lines.append(f"summary: records: {counts}")
        if self.records(RECORD_EXPIRED):
            lines.append(
                f"EXPIRED: {self.records(RECORD_EXPIRED)} record(s) are no longer in the stream (24 h retention): "
                "those changes are LOST from the pipeline; recover them from the table or a backup. Their messages "
                "stay in the queue for an operator (see docs/operations.md)."
            )
        if self.records(MISSING):
            where = "objects stay in the bucket" if self.queue_url.startswith("s3://") else "messages stay in the queue"
            lines.append(f"missing: {self.records(MISSING)} record(s) were not replayed (see above); their {where}: "
                         "rerun when the cause is fixed.")
        if self.kept and not self.records(MISSING):
            lines.append(f"KEPT: {self.kept} message(s) could not be replayed and stay in the queue (see above).")
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- stream


def _error_code(error: BaseException) -> str | None:
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        return (response.get("Error") or {}).get("Code")
    return None


def _sequence(record: dict) -> int:
    return int(record["dynamodb"]["SequenceNumber"])


@dataclass
class RangeRead:
    """What the stream still holds of a sequence number range."""

    records: list[dict] = field(default_factory=list)  # in [start, end], in order
    reached_end: bool = False  # read past the end of the range (or to the end of a closed shard)
    trimmed: str | None = None  # the stream said the start is trimmed or the stream/shard is gone: why
    stopped: str | None = None  # the read ended early, before the end of the range: why


def read_range(streams_client: Any, info: dict) -> RangeRead:
    """The records from startSequenceNumber to endSequenceNumber (inclusive) the stream still has.

    Never raises for a stream that is gone or trimmed (that is what :class:`RangeRead` reports); other errors
    (access denied, throttling after the client's retries) propagate.
    """
    arn, shard = info["streamArn"], info["shardId"]
    start, end = int(info["startSequenceNumber"]), int(info["endSequenceNumber"])
    result = RangeRead()

    def iterator(kind: str, sequence: int | None = None) -> str:
        args = {"SequenceNumber": str(sequence)} if sequence is not None else {}
        return streams_client.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType=kind, **args)[
            "ShardIterator"]

    def first_iterator() -> str | None:
        try:
            return iterator("AT_SEQUENCE_NUMBER", start)
        except Exception as error:
            code = _error_code(error)
            if code == "ResourceNotFoundException":
                result.trimmed = f"{code}: the stream or shard is gone"
                return None
            if code != "TrimmedDataAccessException":
                raise
            result.trimmed = f"{code}: the start of the range is past the stream's 24 h retention"
        try:  # what is left of the range starts at the oldest record the shard still has
            return iterator("TRIM_HORIZON")
        except Exception as error:
            if _error_code(error) in ("TrimmedDataAccessException", "ResourceNotFoundException"):
                return None
            raise

    shard_iterator = first_iterator()
    renewed, empty = False, 0
    while shard_iterator:
        try:
            response = streams_client.get_records(ShardIterator=shard_iterator, Limit=GET_RECORDS_LIMIT)
        except Exception as error:
            code = _error_code(error)
            if code == "ExpiredIteratorException" and not renewed:
                renewed = True  # iterators live 15 min: take a fresh one once, after the last record read
                shard_iterator = (iterator("AFTER_SEQUENCE_NUMBER", _sequence(result.records[-1])) if result.records
                                  else first_iterator())
                continue
            if code in ("TrimmedDataAccessException", "ExpiredIteratorException", "ResourceNotFoundException"):
                result.stopped = f"{code} while reading"
                if not result.records and code != "ExpiredIteratorException":
                    result.trimmed = result.trimmed or f"{code}: the range is past the stream's 24 h retention"
                return result
            raise
        shard_iterator = response.get("NextShardIterator")
        page = response.get("Records") or []
        if not page:
            if shard_iterator is None:
                break
            empty += 1
            if empty >= EMPTY_READS:
                result.stopped = f"{EMPTY_READS} empty reads before the end of the range (the shard is still open)"
                return result
            continue
        empty = 0
        for record in page:
            sequence = _sequence(record)
            if sequence < start:
                continue
            if sequence > end:
                result.reached_end = True
                return result
            result.records.append(record)
            if sequence == end:
                result.reached_end = True
                return result
    result.reached_end = True  # a closed shard, read to its end (or nothing to read)
    return result


# ---------------------------------------------------------------------------------------------- replay


def _published(response: Any, records: list[dict]) -> tuple[int, str | None]:
    """How many records, from the first, the producer published, and why not the rest.

    As Lambda reads a stream function's partial batch response: every record from the lowest reported sequence
    number on is not done (the producer reports the first failure and every record after it)."""
    try:
        failed = batch_item_failures(response, {r["dynamodb"]["SequenceNumber"] for r in records})
    except InvalidBatchResponse as error:
        return 0, f"invalid producer response: {error}"
    if not failed:
        return len(records), None
    lowest = min(int(ident) for ident in failed)
    done = sum(1 for r in records if _sequence(r) < lowest)
    return done, f"the producer reported it failed (from {lowest} on, {len(records) - done} of {len(records)} records)"


def _gaps(outcome: MessageOutcome, read: RangeRead, start: int, end: int) -> list[RecordOutcome]:
    """The records of the range the stream did not give, by what can be known of them.

    A stream loses only its oldest records (trimmed after 24 h), so records missing from the front of the range
    are EXPIRED; the start and end sequence numbers are known, the others only by count (``batchSize``)."""
    found = [_sequence(r) for r in read.records]
    present = set(found)
    front = found[0] > start if found else read.trimmed is not None
    not_read = read.stopped or ("not in the stream" if read.reached_end else "the read ended before reaching it")
    gaps: list[RecordOutcome] = []
    if start not in present:
        trimmed = read.trimmed or "before the oldest record the shard still has: trimmed after the 24 h retention"
        gaps.append(RecordOutcome(RECORD_EXPIRED if front else MISSING, str(start), detail=trimmed if front else not_read))
    if end != start and end not in present:
        gone = front and not found and read.reached_end  # the whole range is older than the shard's oldest record
        gaps.append(RecordOutcome(RECORD_EXPIRED if gone else MISSING, str(end),
                                  detail=(read.trimmed or "trimmed") if gone else not_read))
    size = outcome.batch_size
    if size is not None:
        rest = size - len(found) - len(gaps)
        if rest > 0:
            expired = bool(gaps) and all(g.status == RECORD_EXPIRED for g in gaps)
            note = "trimmed with the start of the range" if expired else "not found in the stream (rerun to retry)"
            low, high = (start, found[0]) if expired and found else (found[-1] if found else start, end)
            gaps.append(RecordOutcome(RECORD_EXPIRED if expired else MISSING, None, count=rest,
                                      detail=f"between {low} and {high}: {note}"))
        elif rest < 0 and not gaps:
            outcome.detail = f"the range holds {len(found)} records, the message says {size}: all of them replayed"
    return gaps


#: Why a filtered record is not published.
FILTERED_DETAIL = "excluded by stream.event_names: Lambda never hands it to the producer"


def _publish_records(records: list[dict], arn: str, shard: str, publish: Publish | None, dry_run: bool,
                     delivered: set[RecordKey], journal: TextIO | None,
                     event_names: Iterable[str] | None = None) -> dict[str, RecordOutcome]:
    """Each record's outcome by sequence number: filtered (the stream mapping's filter of ``event_names`` drops it,
    as Lambda does: pipeline_model.mapping), already delivered (``delivered``), else published by the real
    producer in one call (replayed, up to the first failure it reports; missing from there on), or in a dry run
    would replay. What is published is added to ``delivered`` and written to ``journal``."""
    results: dict[str, RecordOutcome] = {}
    fresh = []
    for record in records:
        sequence = record["dynamodb"]["SequenceNumber"]
        if not stream_record_passes(event_names, record):
            results[sequence] = RecordOutcome(RECORD_FILTERED, sequence, detail=FILTERED_DETAIL)
        elif (arn, shard, sequence) in delivered:
            results[sequence] = RecordOutcome(ALREADY_DELIVERED, sequence, detail="published before")
        else:
            fresh.append(record)
    if dry_run:
        for r in fresh:
            results[r["dynamodb"]["SequenceNumber"]] = RecordOutcome(RECORD_WOULD_REPLAY, r["dynamodb"]["SequenceNumber"])
    elif fresh:
        assert publish is not None, "publish is required unless dry_run"
        try:
            done, problem = _published(publish(stream_event(fresh, arn)), fresh)
        except Exception as error:
            done, problem = 0, f"the producer raised {type(error).__name__}: {error}"
        for index, record in enumerate(fresh):
            sequence = record["dynamodb"]["SequenceNumber"]
            if index < done:
                results[sequence] = RecordOutcome(RECORD_REPLAYED, sequence)
                delivered.add((arn, shard, sequence))
                if journal is not None:
                    journal.write(f"{arn} {shard} {sequence}\n")
            else:
                results[sequence] = RecordOutcome(MISSING, sequence, detail=f"not replayed: {problem}")
        if journal is not None:
            journal.flush()
    return results


def replay_message(message: dict, sqs_client: Any, streams_client: Any, queue_url: str,
                   publish: Publish | None, dry_run: bool, delivered: set[RecordKey] | None = None,
                   journal: TextIO | None = None, event_names: Iterable[str] | None = None) -> MessageOutcome:
    """Replay one failure message; ``delivered``: records published before (this run, or the journal);
    ``event_names``: the stream mapping's filter (stream.event_names; None: every change passes)."""
    delivered = set() if delivered is None else delivered
    outcome = MessageOutcome(message_id=message.get("MessageId", "?"), status=KEPT)
    try:
        info = parse_batch_info(message.get("Body", ""))
    except ValueError as error:
        outcome.detail = str(error)
        return outcome
    arn, shard = info["streamArn"], info["shardId"]
    start, end = int(info["startSequenceNumber"]), int(info["endSequenceNumber"])
    outcome.stream_arn, outcome.shard_id, outcome.start, outcome.end = arn, shard, str(start), str(end)
    batch_size = info.get("batchSize")
    outcome.batch_size = batch_size if isinstance(batch_size, int) and not isinstance(batch_size, bool) else None

    try:
        read = read_range(streams_client, info)
    except Exception as error:  # access denied, throttled after retries, ...: keep, report, go on
        reason = f"reading the stream failed: {type(error).__name__}: {error}"
        outcome.detail = reason
        outcome.records = [RecordOutcome(MISSING, None, count=outcome.batch_size or 1,
                                         detail=f"between {start} and {end}: not read")]
        return outcome
    outcome.records_found = len(read.records)
    gaps = _gaps(outcome, read, start, end)

    results = _publish_records(read.records, arn, shard, publish, dry_run, delivered, journal, event_names)
    ordered = [results[r["dynamodb"]["SequenceNumber"]] for r in read.records]
    outcome.records = [g for g in gaps if g.sequence == str(start)] + ordered + \
                      [g for g in gaps if g.sequence != str(start)]

    if any(r.status == RECORD_EXPIRED for r in outcome.records):
        outcome.status = EXPIRED
        outcome.detail = outcome.detail or "records gone from the stream: kept for an operator"
        return outcome
    if dry_run:
        outcome.status = WOULD_REPLAY if not gaps else KEPT
        return outcome
    if not outcome.complete or gaps:
        outcome.detail = outcome.detail or "not every record of the range was replayed: kept"
        return outcome
    try:
        sqs_client.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    except Exception as error:
        outcome.detail = f"replayed, but deleting the message failed ({type(error).__name__}: {error}); " \
                         "a rerun finds its records already delivered only with --journal (consumers drop duplicates)"
        return outcome
    outcome.status = REPLAYED
    return outcome


def read_journal(lines: Iterable[str]) -> set[RecordKey]:
    """The records a journal (``--journal``) lists as published: ``<stream ARN> <shard id> <sequence number>``."""
    found: set[RecordKey] = set()
    for line in lines:
        parts = line.split()
        if len(parts) == 3 and parts[2].isdigit():
            found.add((parts[0], parts[1], parts[2]))
    return found


def replay(sqs_client: Any, streams_client: Any, queue_url: str, publish: Publish | None, *,
           dry_run: bool = False, max_messages: int | None = None, wait_seconds: int = RECEIVE_WAIT_S,
           visibility_timeout: int = VISIBILITY_TIMEOUT_S, delivered: set[RecordKey] | None = None,
           journal: TextIO | None = None, event_names: Iterable[str] | None = None) -> ReplayReport:
    """Replay every message of the on-failure queue (at most ``max_messages``).

    Messages are received one at a time and hidden while their batch is replayed; those not
    deleted (kept, expired, or all of them in a dry run) are made visible again at the end, so
    the queue's alarm keeps firing and the next run sees them. ``delivered``: records already
    published (by an earlier run, from its journal); records published now are added to it and
    written to ``journal``. ``event_names``: the stream mapping's filter (``config.stream.event_names``): the
    records it excludes are reported filtered and not published.
    """
    if publish is None and not dry_run:
        raise ValueError("publish is required unless dry_run")
    delivered = set() if delivered is None else delivered
    report = ReplayReport(queue_url=queue_url, dry_run=dry_run)
    seen: set[str] = set()
    hidden: list[str] = []
    try:
        while max_messages is None or report.messages < max_messages:
            messages = sqs_client.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=1, VisibilityTimeout=visibility_timeout,
                WaitTimeSeconds=wait_seconds, AttributeNames=["All"],
            ).get("Messages", [])
            if not messages:
                break
            for message in messages:
                if message["MessageId"] in seen:  # at-least-once delivery of the same message
                    continue
                seen.add(message["MessageId"])
                outcome = replay_message(message, sqs_client, streams_client, queue_url, publish, dry_run,
                                         delivered, journal, event_names)
                report.outcomes.append(outcome)
                if outcome.status != REPLAYED:
                    hidden.append(message["ReceiptHandle"])
    finally:
        for handle in hidden:
            with contextlib.suppress(Exception):
                sqs_client.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=handle, VisibilityTimeout=0)
    return report


# ---------------------------------------------------------------------------------------------- bucket

def replay_object(s3_client: Any, bucket: str, key: str, publish: Publish | None, dry_run: bool,
                  delivered: set[RecordKey] | None = None, journal: TextIO | None = None,
                  event_names: Iterable[str] | None = None) -> MessageOutcome:
    """Replay one failed batch from the stored payload; delete the object only when every record of the batch
    was replayed or already delivered (in a versioned bucket the data stays as a noncurrent version until the
    lifecycle rule expires it)."""
    delivered = set() if delivered is None else delivered
    outcome = MessageOutcome(message_id=key, status=KEPT)
    try:
        body = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception as error:  # access denied, KMS, gone since it was listed: keep, report, go on
        outcome.detail = f"reading the object failed: {type(error).__name__}: {error}"
        outcome.records = [RecordOutcome(MISSING, None, detail="not read")]
        return outcome
    try:
        info, records = parse_failure_object(body)
    except ValueError as error:
        outcome.detail = str(error)
        return outcome
    arn, shard = info["streamArn"], info["shardId"]
    start, end = info["startSequenceNumber"], info["endSequenceNumber"]
    outcome.stream_arn, outcome.shard_id, outcome.start, outcome.end = arn, shard, str(start), str(end)
    size = info.get("batchSize")
    outcome.batch_size = size if isinstance(size, int) and not isinstance(size, bool) else None
    outcome.records_found = len(records)

    present = {r["dynamodb"]["SequenceNumber"] for r in records}
    gaps = [RecordOutcome(MISSING, str(sequence), detail="named by DDBStreamBatchInfo but not in the payload")
            for sequence in dict.fromkeys((str(start), str(end))) if str(sequence) not in present]
    if outcome.batch_size is not None and outcome.batch_size - len(records) - len(gaps) > 0:
        gaps.append(RecordOutcome(MISSING, None, count=outcome.batch_size - len(records) - len(gaps),
                                  detail=f"between {start} and {end}: not in the payload"))
    results = _publish_records(records, arn, shard, publish, dry_run, delivered, journal, event_names)
    outcome.records = [results[r["dynamodb"]["SequenceNumber"]] for r in records] + gaps
    if dry_run:
        outcome.status = WOULD_REPLAY if not gaps else KEPT
        return outcome
    if gaps or not outcome.complete:
        outcome.detail = outcome.detail or "not every record of the batch was replayed: kept"
        return outcome
    try:
        s3_client.delete_object(Bucket=bucket, Key=key)
    except Exception as error:
        outcome.detail = f"replayed, but deleting the object failed ({type(error).__name__}: {error}); a rerun " \
                         "finds its records already delivered only with --journal (consumers drop duplicates)"
        return outcome
    outcome.status = REPLAYED
    return outcome


def failure_objects(s3_client: Any, bucket: str, prefix: str = FAILURE_OBJECT_PREFIX) -> Iterable[str]:
    """The keys of the failed batches in the bucket, oldest first (keys carry the date and time)."""
    keys: list[str] = []
    for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [item["Key"] for item in page.get("Contents") or []]
    return sorted(keys, key=lambda k: (k.rsplit("/", 1)[-1], k))


def replay_bucket(s3_client: Any, bucket: str, publish: Publish | None, *, prefix: str = FAILURE_OBJECT_PREFIX,
                  dry_run: bool = False, max_objects: int | None = None, delivered: set[RecordKey] | None = None,
                  journal: TextIO | None = None, event_names: Iterable[str] | None = None) -> ReplayReport:
    """Replay every failed batch in the failure bucket (at most ``max_objects``), at any time after the failure:
    the records come from the stored payload, not from the stream. Objects fully replayed are deleted; the others
    stay for a rerun."""
    if publish is None and not dry_run:
        raise ValueError("publish is required unless dry_run")
    delivered = set() if delivered is None else delivered
    report = ReplayReport(queue_url=f"s3://{bucket}/{prefix}", dry_run=dry_run)
    for key in failure_objects(s3_client, bucket, prefix):
        if max_objects is not None and report.messages >= max_objects:
            break
        report.outcomes.append(replay_object(s3_client, bucket, key, publish, dry_run, delivered, journal,
                                             event_names))
    return report


# ---------------------------------------------------------------------------------------------- producer


def load_config(path: str | None = None, environment: str | None = None) -> PipelineConfig:
    """The pipeline's configuration, resolved as ``make local`` and ``cdktf synth`` resolve it: ``path``, else
    $PIPELINE_CONFIG, else the original design; ``environment`` picks one of its environments (required when the
    file has several). Raises :class:`ConfigError` (one line naming the field or argument)."""
    configs = load_environments(path=path or None, select="")
    if environment is None:
        if len(configs) > 1:
            raise ConfigError(f"--environment: the configuration has {len(configs)} environments; choose one "
                              f"({', '.join(c.environment for c in configs)}): the one whose failures you replay")
        return configs[0]
    for config in configs:
        if config.environment == environment:
            return config
    raise ConfigError(f"--environment: no environment named {environment!r} "
                      f"(configured: {', '.join(c.environment for c in configs)})")


def producer_settings(config: PipelineConfig, topic_arn: str) -> dict[str, str]:
    """The environment the producer runs with in the replay: exactly the deployed one
    (:func:`pipeline_model.contract.producer_environment`, the function the construct calls)."""
    return producer_environment(config, topic_arn)


#: The variables the producer's environment may hold (pipeline_model.contract.producer_environment).
_PRODUCER_VARIABLES = ("SNS_TOPIC_ARN", "POWERTOOLS_SERVICE_NAME", BUDGET_VARIABLE, "PUBLISH_CONCURRENCY",
                       MESSAGE_ATTRIBUTES_ENV)


def load_producer(topic_arn: str, config: PipelineConfig | None = None, *, functions_dir: Path = FUNCTIONS_DIR,
                  code: str | None = None, log_stream: TextIO | None = None) -> Publish:
    """publish(event) calling the real producer handler (functions/<code>/app.py, default the configuration's
    ``producer_code``) with the environment the stack deploys for ``config`` (default: the original design) and
    SNS_TOPIC_ARN=topic_arn: its size budget, lifted message attributes and publish concurrency.

    The module is imported afresh (its own SNS client, created from the current environment). Its logs
    (Powertools, bound to stdout at import) go to ``log_stream`` (default: stderr), so they do not mix with
    the summary.
    """
    if config is None:
        config = _default_config()
    code = code or config.producer_code
    # Exactly the deployed environment: a variable the stack does not set is not set here either (the handler
    # reads the budget and the concurrency at import, the lifted attributes and the topic per call).
    environment: dict[str, str | None] = {name: None for name in _PRODUCER_VARIABLES}
    environment.update(producer_settings(config, topic_arn))
    folder = code_folder(code) if functions_dir == FUNCTIONS_DIR else Path(functions_dir) / code
    with temporary_environment(environment):
        producer = load_handler(folder, stdout=log_stream if log_stream is not None else sys.stderr)

    def publish(event: dict) -> Any:
        with temporary_environment(environment):
            return producer(event, LambdaContext(f"{code}-replay", timeout_s=900))

    return publish


def _default_config() -> PipelineConfig:
    from pipeline_model.config import build_config

    return build_config()


# ---------------------------------------------------------------------------------------------- CLI

_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:([a-z0-9-]+):([0-9]{12}):[A-Za-z0-9_-]{1,256}(\.fifo)?$")
_QUEUE_URL = re.compile(r"^https?://[^/\s]+/[0-9]{12}/[A-Za-z0-9_-]{1,80}(\.fifo)?$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")


def make_clients(region: str) -> tuple[Any, Any]:
    """SQS and DynamoDB Streams clients, created once per run."""
    return _client("sqs", region), _client("dynamodbstreams", region)


def _client(service: str, region: str) -> Any:
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(region_name=region)
    return session.client(service, config=Config(retries={"mode": "standard", "max_attempts": 5}))


_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.replay_stream_failures",
        description="Replay DynamoDB stream batches listed in the producer's on-failure queue "
                    "(metadata only) by re-reading them from the stream, or stored in its failure bucket "
                    "(--bucket: the records themselves), and running the producer on them.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--queue-url", help="URL of the on-failure queue (stream_failure_queue_url output)")
    source.add_argument("--bucket", help="name of the failure bucket (stream_failure_bucket output; "
                                         "[stream] on_failure = \"s3\"): replay from the stored records")
    parser.add_argument("--prefix", default=FAILURE_OBJECT_PREFIX,
                        help=f"with --bucket: replay only objects under this key prefix (default {FAILURE_OBJECT_PREFIX!r})")
    parser.add_argument("--topic-arn", required=True, help="ARN of the pipeline's SNS topic to publish to")
    parser.add_argument("--config", metavar="FILE",
                        help="the pipeline's configuration file, the one deployed (default: $PIPELINE_CONFIG, else the "
                             "original design): the producer runs with the environment the stack gives it")
    parser.add_argument("--environment", metavar="NAME",
                        help="the environment of --config whose failures these are (required when it has several)")
    parser.add_argument("--region", help="AWS region (default: the topic ARN's region)")
    parser.add_argument("--dry-run", action="store_true", help="read and report only: publish nothing, delete nothing")
    parser.add_argument("--max-messages", type=_positive, metavar="N",
                        help="handle at most N failure messages (with --bucket: objects)")
    parser.add_argument("--journal", metavar="FILE",
                        help="records published are appended here; records it lists are reported 'already delivered' "
                             "and not published again (keep one file per stream across reruns)")
    args = parser.parse_args(argv)
    topic = _TOPIC_ARN.fullmatch(args.topic_arn)
    if not topic:
        parser.error(f"--topic-arn {args.topic_arn!r} is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)")
    if args.bucket is not None and not _BUCKET.fullmatch(args.bucket):
        parser.error(f"--bucket {args.bucket!r} is not an S3 bucket name (3-63 of a-z 0-9 . -)")
    if args.queue_url is not None and not _QUEUE_URL.fullmatch(args.queue_url):
        parser.error(f"--queue-url {args.queue_url!r} is not an SQS queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>)")
    args.region = args.region or topic.group(1)
    if not _REGION.fullmatch(args.region):
        parser.error(f"--region {args.region!r} is not an AWS region name")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    delivered: set[RecordKey] = set()
    journal: TextIO | None = None
    try:
        if args.journal and not args.dry_run:
            path = Path(args.journal)
            if path.is_file():
                with path.open(encoding="utf-8") as lines:
                    delivered = read_journal(lines)
            journal = path.open("a", encoding="utf-8")
        elif args.journal and Path(args.journal).is_file():
            with Path(args.journal).open(encoding="utf-8") as lines:
                delivered = read_journal(lines)
    except (OSError, UnicodeDecodeError) as error:
        print(f"error: --journal {args.journal!r}: cannot be read and appended to ({error.__class__.__name__}: "
              f"{getattr(error, 'strerror', None) or error})", file=sys.stderr)
        return 2
    try:
        config = load_config(args.config, args.environment)
    except ConfigError as error:  # one line per problem, as main.py and make local print them
        print("\n".join(f"error: {line}" for line in error.lines()), file=sys.stderr)
        if journal is not None:
            journal.close()
        return 2
    event_names = config.stream.event_names
    try:
        publish = None if args.dry_run else load_producer(args.topic_arn, config)
        if args.bucket is not None:
            report = replay_bucket(_client("s3", args.region), args.bucket, publish, prefix=args.prefix,
                                   dry_run=args.dry_run, max_objects=args.max_messages, delivered=delivered,
                                   journal=journal, event_names=event_names)
        else:
            sqs_client, streams_client = make_clients(args.region)
            report = replay(sqs_client, streams_client, args.queue_url, publish, dry_run=args.dry_run,
                            max_messages=args.max_messages, wait_seconds=RECEIVE_WAIT_S, delivered=delivered,
                            journal=journal, event_names=event_names)
    except KeyboardInterrupt:
        print("interrupted: batches not yet replayed stay in the queue or bucket", file=sys.stderr)
        return 130
    except Exception as error:  # no credentials, no such queue, access denied, ...
        print(f"error: {type(error).__name__}: {error}", file=sys.stderr)
        return 2
    finally:
        if journal is not None:
            journal.close()
    print(report.render())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
