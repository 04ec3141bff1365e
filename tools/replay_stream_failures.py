"""Replay the stream batches that ended in the producer's on-failure queue.

For a DynamoDB stream, Lambda's on-failure destination gets *metadata only*: one JSON message
per failed batch whose ``DDBStreamBatchInfo`` names the shard and the first and last sequence
numbers. The records themselves stay in the stream only for its 24 h retention. This tool
reads each message, fetches those records from the stream again (GetShardIterator
AT_SEQUENCE_NUMBER, then GetRecords up to the end sequence number), hands them to the real
producer handler as a DynamoDB-stream event, and deletes the message only when the producer
reports no failed record.

A message whose records are no longer in the stream (TrimmedDataAccessException, or fewer
records than the batch had) is reported EXPIRED and left in the queue: those changes are lost
from the pipeline's point of view and an operator has to recover them from elsewhere.
Records still present in a partly trimmed batch are replayed anyway (consumers suppress
duplicates by ``eventID``, so a later run that publishes them again is harmless).

    python -m tools.replay_stream_failures --queue-url URL --topic-arn ARN [--region R] \\
        [--dry-run] [--max-messages N]

Exit status: 0 everything replayed (or, with --dry-run, everything replayable); 1 some message
was kept or expired; 2 bad arguments or an AWS error that stopped the run.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TextIO

from pipeline_model.packaging import code_folder
from tools.lambda_harness import (
    FUNCTIONS_DIR,
    InvalidBatchResponse,
    LambdaContext,
    batch_item_failures,
    load_handler,
    parse_batch_info,
    stream_event,
    temporary_environment,
)

#: publish(event) -> the producer's response ({"batchItemFailures": [...]}).
Publish = Callable[[dict], Any]

#: Stream errors meaning the records (or the stream) are gone.
GONE_ERRORS = frozenset({"TrimmedDataAccessException", "ExpiredIteratorException", "ResourceNotFoundException"})
#: GetRecords allows at most 1,000 records per call.
GET_RECORDS_LIMIT = 1000
#: Consecutive empty GetRecords pages after which an open shard counts as read to its end.
EMPTY_READS = 3
#: How long a received failure message stays invisible while its batch is replayed.
VISIBILITY_TIMEOUT_S = 900
#: SQS long poll of the CLI: an empty receive after this wait ends the run.
RECEIVE_WAIT_S = 2

REPLAYED, KEPT, EXPIRED, WOULD_REPLAY = "REPLAYED", "KEPT", "EXPIRED", "WOULD_REPLAY"


# ---------------------------------------------------------------------------------------------- report


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
    records_published: int = 0  # records the producer accepted (0 unless published)

    def line(self) -> str:
        where = f"{self.shard_id} {self.start}..{self.end}" if self.shard_id else "(no batch info)"
        size = "?" if self.batch_size is None else self.batch_size
        text = f"  {self.status:<12} {self.message_id}  {where}  records {self.records_found}/{size}"
        return text + (f"  -- {self.detail}" if self.detail else "")


@dataclass
class ReplayReport:
    queue_url: str
    dry_run: bool = False
    outcomes: list[MessageOutcome] = field(default_factory=list)

    def _count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def messages(self) -> int:
        return len(self.outcomes)

    @property
    def replayed(self) -> int:
        """Messages whose batch was published in full and which were deleted from the queue."""
        return self._count(REPLAYED)

    @property
    def kept(self) -> int:
        """Messages left in the queue because publishing failed or the message was unusable."""
        return self._count(KEPT)

    @property
    def expired(self) -> int:
        """Messages whose records are (partly) gone from the stream: data loss, left in the queue."""
        return self._count(EXPIRED)

    @property
    def records_replayed(self) -> int:
        return sum(o.records_published for o in self.outcomes)

    @property
    def ok(self) -> bool:
        return self.kept == 0 and self.expired == 0

    def render(self) -> str:
        mode = " (dry run: nothing published or deleted)" if self.dry_run else ""
        lines = [f"replaying stream failures from {self.queue_url}{mode}"]
        lines += [o.line() for o in self.outcomes]
        if self.dry_run:
            tail = f"would replay: {self._count(WOULD_REPLAY)}  records to replay: " \
                   f"{sum(o.records_found for o in self.outcomes if o.status == WOULD_REPLAY)}"
        else:
            tail = f"records replayed: {self.records_replayed}"
        lines.append(f"messages: {self.messages}  {tail}  kept: {self.kept}  expired: {self.expired}")
        if self.expired:
            lines.append(
                f"EXPIRED: {self.expired} message(s) point at records no longer in the stream (24 h retention): "
                "those changes are LOST from the pipeline; the messages stay in the queue for an operator."
            )
        if self.kept:
            lines.append(f"KEPT: {self.kept} message(s) could not be replayed and stay in the queue (see above); rerun when fixed.")
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- stream


def _error_code(error: BaseException) -> str | None:
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        return (response.get("Error") or {}).get("Code")
    return None


class RecordsGone(Exception):
    """The stream no longer has (some of) the records; ``records`` holds those that were read."""

    def __init__(self, reason: str, records: list[dict]) -> None:
        super().__init__(reason)
        self.records = records


def read_batch(streams_client: Any, info: dict) -> list[dict]:
    """The stream records from startSequenceNumber to endSequenceNumber (inclusive), in order.

    Raises :class:`RecordsGone` when the stream reports the data trimmed or the stream gone.
    """
    arn, shard = info["streamArn"], info["shardId"]
    start, end = int(info["startSequenceNumber"]), int(info["endSequenceNumber"])
    records: list[dict] = []

    def iterator(kind: str, sequence: int) -> str:
        return streams_client.get_shard_iterator(
            StreamArn=arn, ShardId=shard, ShardIteratorType=kind, SequenceNumber=str(sequence)
        )["ShardIterator"]

    try:
        shard_iterator: str | None = iterator("AT_SEQUENCE_NUMBER", start)
        renewed, empty = False, 0
        while shard_iterator:
            try:
                response = streams_client.get_records(ShardIterator=shard_iterator, Limit=GET_RECORDS_LIMIT)
            except Exception as error:
                if _error_code(error) != "ExpiredIteratorException" or renewed:
                    raise
                renewed = True  # iterators live 15 min: take a fresh one once, after the last record read
                last = int(records[-1]["dynamodb"]["SequenceNumber"]) if records else None
                shard_iterator = iterator("AFTER_SEQUENCE_NUMBER", last) if last is not None else iterator("AT_SEQUENCE_NUMBER", start)
                continue
            shard_iterator = response.get("NextShardIterator")  # None: the shard is closed and read to its end
            page = response.get("Records") or []
            if not page:
                empty += 1
                if empty >= EMPTY_READS:
                    break
                continue
            empty = 0
            done = False
            for record in page:
                sequence = int(record["dynamodb"]["SequenceNumber"])
                if sequence < start:
                    continue
                if sequence > end:
                    done = True
                    break
                records.append(record)
                if sequence == end:
                    done = True
                    break
            if done:
                break
    except Exception as error:
        code = _error_code(error)
        if code in GONE_ERRORS:
            raise RecordsGone(f"{code}: {error}", records) from error
        raise
    return records


# ---------------------------------------------------------------------------------------------- replay


def _failures_of(response: Any, records: list[dict]) -> str | None:
    """None if the producer accepted every record, else why not."""
    try:
        ids = batch_item_failures(response, {r["dynamodb"]["SequenceNumber"] for r in records})
    except InvalidBatchResponse as error:
        return f"invalid producer response: {error}"
    if not ids:
        return None
    return f"producer reported {len(ids)} of {len(records)} record(s) failed (first {ids[0]})"


def replay_message(message: dict, sqs_client: Any, streams_client: Any, queue_url: str,
                   publish: Publish | None, dry_run: bool) -> MessageOutcome:
    outcome = MessageOutcome(message_id=message.get("MessageId", "?"), status=KEPT)
    try:
        info = parse_batch_info(message.get("Body", ""))
    except ValueError as error:
        outcome.detail = str(error)
        return outcome
    outcome.stream_arn, outcome.shard_id = info["streamArn"], info["shardId"]
    outcome.start, outcome.end = str(info["startSequenceNumber"]), str(info["endSequenceNumber"])
    batch_size = info.get("batchSize")
    outcome.batch_size = batch_size if isinstance(batch_size, int) else None

    gone: str | None = None
    try:
        records = read_batch(streams_client, info)
    except RecordsGone as error:
        records, gone = error.records, str(error)
    except Exception as error:  # access denied, throttled after retries, ...: keep, report, go on
        outcome.detail = f"reading the stream failed: {type(error).__name__}: {error}"
        return outcome
    outcome.records_found = len(records)
    if gone is None and (not records or (outcome.batch_size is not None and len(records) < outcome.batch_size)):
        gone = "trimmed after the stream's 24 h retention"
    if gone is not None:
        outcome.status = EXPIRED
        size = outcome.batch_size if outcome.batch_size is not None else "?"
        present = f"only {len(records)} of {size}" if records else f"none of {size}"
        outcome.detail = f"LOST: {present} record(s) still in the stream ({gone})"
    if dry_run:
        if outcome.status != EXPIRED:
            outcome.status = WOULD_REPLAY
        return outcome
    if not records:
        return outcome
    assert publish is not None, "publish is required unless dry_run"

    event = stream_event(records, info["streamArn"])
    try:
        response = publish(event)
    except Exception as error:
        problem: str | None = f"producer raised {type(error).__name__}: {error}"
    else:
        problem = _failures_of(response, records)
    if problem is not None:
        outcome.detail = f"{outcome.detail}; {problem}" if outcome.status == EXPIRED else problem
        return outcome
    outcome.records_published = len(records)
    if outcome.status == EXPIRED:
        outcome.detail += f"; the {len(records)} remaining record(s) were replayed"
        return outcome
    try:
        sqs_client.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    except Exception as error:
        outcome.detail = f"replayed, but deleting the message failed ({type(error).__name__}: {error}); " \
                         "a rerun publishes it again (consumers drop the duplicates)"
        return outcome
    outcome.status = REPLAYED
    return outcome


def replay(sqs_client: Any, streams_client: Any, queue_url: str, publish: Publish | None, *,
           dry_run: bool = False, max_messages: int | None = None, wait_seconds: int = RECEIVE_WAIT_S,
           visibility_timeout: int = VISIBILITY_TIMEOUT_S) -> ReplayReport:
    """Replay every message of the on-failure queue (at most ``max_messages``).

    Messages are received one at a time and hidden while their batch is replayed; those not
    deleted (kept, expired, or all of them in a dry run) are made visible again at the end, so
    the queue's alarm keeps firing and the next run sees them.
    """
    if publish is None and not dry_run:
        raise ValueError("publish is required unless dry_run")
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
                outcome = replay_message(message, sqs_client, streams_client, queue_url, publish, dry_run)
                report.outcomes.append(outcome)
                if outcome.status != REPLAYED:
                    hidden.append(message["ReceiptHandle"])
    finally:
        for handle in hidden:
            with contextlib.suppress(Exception):
                sqs_client.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=handle, VisibilityTimeout=0)
    return report


# ---------------------------------------------------------------------------------------------- producer


def load_producer(topic_arn: str, *, functions_dir: Path = FUNCTIONS_DIR, code: str = "producer",
                  log_stream: TextIO | None = None) -> Publish:
    """publish(event) calling the real producer handler (functions/<code>/app.py) with SNS_TOPIC_ARN=topic_arn.

    The module is imported afresh (its own SNS client, created from the current environment). Its logs
    (Powertools, bound to stdout at import) go to ``log_stream`` (default: stderr), so they do not mix with
    the summary.
    """
    folder = code_folder(code) if functions_dir == FUNCTIONS_DIR else Path(functions_dir) / code
    producer = load_handler(folder, stdout=log_stream if log_stream is not None else sys.stderr)

    def publish(event: dict) -> Any:
        with temporary_environment({"SNS_TOPIC_ARN": topic_arn}):
            return producer(event, LambdaContext(f"{code}-replay", timeout_s=900))

    return publish


# ---------------------------------------------------------------------------------------------- CLI

_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:([a-z0-9-]+):([0-9]{12}):[A-Za-z0-9_-]{1,256}(\.fifo)?$")
_QUEUE_URL = re.compile(r"^https?://[^/\s]+/[0-9]{12}/[A-Za-z0-9_-]{1,80}(\.fifo)?$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")


def make_clients(region: str) -> tuple[Any, Any]:
    """SQS and DynamoDB Streams clients, created once per run."""
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(region_name=region)
    config = Config(retries={"mode": "standard", "max_attempts": 5})
    return session.client("sqs", config=config), session.client("dynamodbstreams", config=config)


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
                    "(metadata only) by re-reading them from the stream and running the producer on them.",
    )
    parser.add_argument("--queue-url", required=True, help="URL of the on-failure queue (stream_failure_queue_url output)")
    parser.add_argument("--topic-arn", required=True, help="ARN of the pipeline's SNS topic to publish to")
    parser.add_argument("--region", help="AWS region (default: the topic ARN's region)")
    parser.add_argument("--dry-run", action="store_true", help="read and report only: publish nothing, delete nothing")
    parser.add_argument("--max-messages", type=_positive, metavar="N", help="handle at most N failure messages")
    args = parser.parse_args(argv)
    topic = _TOPIC_ARN.fullmatch(args.topic_arn)
    if not topic:
        parser.error(f"--topic-arn {args.topic_arn!r} is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)")
    if not _QUEUE_URL.fullmatch(args.queue_url):
        parser.error(f"--queue-url {args.queue_url!r} is not an SQS queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>)")
    args.region = args.region or topic.group(1)
    if not _REGION.fullmatch(args.region):
        parser.error(f"--region {args.region!r} is not an AWS region name")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        sqs_client, streams_client = make_clients(args.region)
        publish = None if args.dry_run else load_producer(args.topic_arn)
        report = replay(sqs_client, streams_client, args.queue_url, publish,
                        dry_run=args.dry_run, max_messages=args.max_messages, wait_seconds=RECEIVE_WAIT_S)
    except KeyboardInterrupt:
        print("interrupted: messages not yet replayed stay in the queue", file=sys.stderr)
        return 130
    except Exception as error:  # no credentials, no such queue, access denied, ...
        print(f"error: {type(error).__name__}: {error}", file=sys.stderr)
        return 2
    print(report.render())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
