"""Producer: DynamoDB stream records -> SNS messages (PublishBatch).

Message format: ``pipeline_message.py`` (functions/shared/, carried at the root of every function zip) builds
the message of each record (plain JSON, numbers exact, UTF-8, the ``eventName``/``tableName`` attributes for filter
policies, keys-only ``truncated`` messages for records over SNS's 256 KiB) and the consumers parse it with the same
module.

Batching: SNS PublishBatch with at most 10 entries and at most 256 KiB (body + attributes) per request,
so 1,000 small records => 100 calls.

Oversize records: a record whose message would exceed 256 KiB is published keys-only (``truncated: true``, see
pipeline_message.py) and logged as a warning with its eventID, keys and reason, neither dropped nor retried forever.
A record that cannot be converted at all gets the same treatment; if even its keys cannot be converted, the record
is reported as failed (see below).

Malformed records: a record that is not an object, has no ``dynamodb`` object, or no ``SequenceNumber`` string
(Lambda never sends one; a hand-made or corrupted event might) is not published and never raises. It is logged
at ERROR with its position and content, and counts as the first failed record (see below). Its own position
cannot be reported (``itemIdentifier`` is a sequence number, and an empty one would fail the whole batch), so
the producer reports the record just before it (already published: republished on retry, consumers drop the
duplicate), which keeps the malformed record inside the range Lambda retries and, after the retries, names in
the on-failure message. Only when no record before it has a sequence number (a malformed record at the head of
the batch) is there nothing to resume from: the report starts at the next identifiable record, and the
malformed records are logged in full ("cannot be retried"): that log is their only copy. A batch with no
identifiable record at all is logged the same way and reported as done (Lambda never sends one).

Failures: SNS-reported failed entries and any exception are returned as
``{"batchItemFailures": [{"itemIdentifier": <SequenceNumber>}, ...]}`` listing the EARLIEST record not known to
be published and EVERY record after it in the batch (one batch = one shard, and Lambda resumes from the lowest
reported sequence number); records before it are never reported. No new request starts after a failed one.
Records after the reported one that were already published (later entries of the same request, or requests
that were in flight, see "Concurrency") are published again on retry; consumers suppress those duplicates by
``eventID``.

Deadline (the function timeout defaults to 3 s): a stream batch of 100 records needs 10
PublishBatch calls, and letting the invocation time out is the worst outcome -- Lambda counts it as a function
error, so EVERY record of the batch is retried and republished and a retry attempt is burnt. So:

* SNS client bounds: ``connect_timeout`` 1 s, ``read_timeout`` 1 s, standard-mode retries with at most 3
  attempts (2 retries, jittered back-off of at most 1 s then 2 s; throttling is retried by the producer instead,
  see "Throttling"). One HTTP attempt is therefore bounded by about
  ``CONNECT_TIMEOUT_S + READ_TIMEOUT_S`` = 2 s (the read timeout applies per socket read; PublishBatch responses
  are a few hundred bytes). SNS normally answers in tens of milliseconds, so 1 s is generous; a timed-out attempt
  may still have been published by SNS and is retried -- consumers drop the duplicate by ``eventID``. The
  unguarded worst case of one call (3 x 2 s + 3 s back-off = 9 s) is not reachable because of the next point.
* Safety margin ``DEADLINE_MARGIN_MS = max(500 ms, one attempt's bound)`` = 2,000 ms. Before every PublishBatch
  call except the invocation's first, and before every retry attempt (botocore's and the producer's), the
  producer reads ``context.get_remaining_time_in_millis()``; with less than the margin left it starts no new
  request, logs "deadline reached", waits for the requests in flight (each within one attempt's bound: their
  retries are checked too), and reports the first unpublished record and every later one (the ordering rule below);
  records already published in this invocation are not reported. The first call of an invocation is always
  attempted, so every invocation makes progress even when the function timeout is shorter than the margin
  (otherwise a tiny timeout would report the whole batch on every retry until it expires). A 3 s function thus
  publishes for about 1 s per invocation (plenty for 10 calls at normal latency); a slow SNS leads to a partial
  batch response instead of a timeout. A margin of one *attempt* (not the 9 s worst-case call) is enough
  because retries are deadline-checked too. Without a context (or without ``get_remaining_time_in_millis``)
  there is no deadline check.

Per-item ordering: when ``SNS_TOPIC_ARN`` names a FIFO topic (it ends in ``.fifo``; SNS requires the two ids
exactly then), every entry carries ``MessageGroupId`` (the table and the item's keys) and
``MessageDeduplicationId`` (the record's eventID), see "FIFO ids" in pipeline_message.py. Each item's changes
are published in stream order, so they enter its group in order, and the failure rule above keeps that order on
retry. A request carries at most one change per item, and an item's next change is sent only once its previous
one is known published (SNS accepted its entry): SNS reports each entry on its own, so if an entry failed and a
later change of the same item (in the same request, or in a request running beside it) were accepted, the retry
would republish the failed one after it (a duplicate of the later one within 5 minutes is dropped by SNS
deduplication and does not restore the order). An item changed several times in one stream batch therefore
costs one request, one after another, per change; other items' changes go in the same requests meanwhile.

Throttling: SNS refuses a whole request over the account's publish rate (error code ``Throttling``, "Rate
exceeded"; the model's ``Throttled``/HTTP 429 and ``KMSThrottling`` for the topic key count too, see
``THROTTLING_CODES``). botocore does not retry it: a ``needs-retry`` hook (:func:`configure_client`) raises
:class:`Throttled` instead, because botocore's back-off for throttling is up to 1 s and a concurrent batch would
finish its other requests and then wait for that one. The producer re-submits the request after its own back-off
with full jitter -- the n-th retry waits ``uniform(0, min(THROTTLE_BACKOFF_CAP_S, THROTTLE_BACKOFF_BASE_S * 2 **
(n - 1)))``, windows 50, 100, 200, 400 ms -- while the other requests keep going; at most ``THROTTLE_MAX_ATTEMPTS``
(5) attempts per request, so at most 0.75 s of waiting. A request waiting to be retried is still in flight: it
counts toward the concurrency, its FIFO groups' next changes still wait for it, and the retry is deadline-checked
like a new request. Entries that SNS reports Failed with a throttling code are re-submitted alone the same way.
After the last attempt the request is a failure (the rule above: its first record and every later one are
reported). Other errors (connection errors, timeouts, 5xx) are left to botocore's standard retries.

Concurrency: up to ``PUBLISH_CONCURRENCY`` PublishBatch requests are in flight at once (default 8, 1-16; the
configuration's ``producer.publish_concurrency``; 1 = one request after another in the invocation's thread, no
pool), from a thread pool made for the invocation and shut down before it returns (no thread outlives it; the
boto3 client is shared: clients are thread-safe, and the deadline hook only reads). :class:`Plan` chooses each
request: the earliest sendable records in stream order. On a standard topic any record is sendable, so
requests are consecutive runs of records, completed in any order. On a FIFO topic a record is sendable once
every earlier change of its item is known published; other items' changes overtake a waiting one. Memory: at
most that many requests (each <= 256 KiB) in flight, beside the batch's messages that are built up front. At
~20 ms per call a 1,000-record batch takes about 100 x 20 ms / 8 = 0.25 s instead of 2 s (docs/producer-throughput.md).

The SNS client is created once per container, when the module is imported (at init), with the bounds above and a
connection pool of ``max(10, PUBLISH_CONCURRENCY)``.

Environment: ``SNS_TOPIC_ARN`` (required), ``PUBLISH_CONCURRENCY`` (see "Concurrency"; optional),
``MESSAGE_SIZE_BUDGET`` (optional, read at init: the largest message every subscribed queue takes, see "Size
budget" in pipeline_message.py; set by the construct; a bad value fails the init naming the variable).
Requires the event source mapping to have ``function_response_types = ["ReportBatchItemFailures"]``.
"""

from __future__ import annotations

import heapq
import itertools
import os
import random
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

import boto3
import pipeline_message
from aws_lambda_powertools import Logger
from botocore.config import Config
from lambda_deadline import DeadlineReached, remaining_ms
from pipeline_message import MAX_MESSAGE_BYTES

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "producer"))

MAX_BATCH_ENTRIES = 10

# Client bounds and deadline margin: see "Deadline" in the module docstring.
CONNECT_TIMEOUT_S = 1
READ_TIMEOUT_S = 1
MAX_ATTEMPTS = 3
DEADLINE_MARGIN_MS = max(500, int((CONNECT_TIMEOUT_S + READ_TIMEOUT_S) * 1000))

#: PublishBatch requests in flight at once (``PUBLISH_CONCURRENCY``, the config's producer.publish_concurrency;
#: pipeline_model.config holds the same default and range, a test keeps them equal). 1 = one after another.
DEFAULT_PUBLISH_CONCURRENCY = 8
MAX_PUBLISH_CONCURRENCY = 16


def publish_concurrency(value: str | None) -> int:
    """The ``PUBLISH_CONCURRENCY`` setting: unset = the default; a value that is not an integer in range is logged
    as an error and the default is used (the function still publishes, rather than failing every invocation)."""
    if value is None or not value.strip():
        return DEFAULT_PUBLISH_CONCURRENCY
    try:
        number = int(value)
    except ValueError:
        number = 0
    if not 1 <= number <= MAX_PUBLISH_CONCURRENCY:
        logger.error(
            f"PUBLISH_CONCURRENCY={value!r} is not an integer from 1 to {MAX_PUBLISH_CONCURRENCY}; "
            f"using {DEFAULT_PUBLISH_CONCURRENCY} (set producer.publish_concurrency in the configuration)"
        )
        return DEFAULT_PUBLISH_CONCURRENCY
    return number


PUBLISH_CONCURRENCY = publish_concurrency(os.environ.get("PUBLISH_CONCURRENCY"))

BOTO_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
    connect_timeout=CONNECT_TIMEOUT_S,
    read_timeout=READ_TIMEOUT_S,
    # one pooled connection per concurrent request (botocore keeps 10 by default)
    max_pool_connections=max(10, PUBLISH_CONCURRENCY),
)

# The Lambda context of the invocation in progress (one at a time per container), for the retry guard.
_context: Any = None


def _guard_retry(request: Any = None, **kwargs: Any) -> None:
    """botocore ``request-created`` hook: refuse a retry attempt when less than the margin is left.

    Runs once per HTTP attempt, after botocore's back-off sleep; the first attempt is checked by ``publish``."""
    attempt = ((getattr(request, "context", None) or {}).get("retries") or {}).get("attempt", 1)
    if attempt > 1:
        left = remaining_ms(_context)
        if left is not None and left < DEADLINE_MARGIN_MS:
            raise DeadlineReached(f"{left} ms left (< {DEADLINE_MARGIN_MS} ms): not starting attempt {attempt}")


#: Error codes of a throttled request: SNS answers "Throttling" ("Rate exceeded"), its model names "Throttled"
#: (ThrottledException, HTTP 429); KMSThrottling when the topic key's KMS calls are throttled. A 429 status
#: counts too. See "Throttling" in the module docstring.
THROTTLING_CODES = frozenset({
    "Throttling", "ThrottlingException", "Throttled", "ThrottledException", "TooManyRequestsException",
    "RequestLimitExceeded", "KMSThrottling", "KMSThrottlingException",
})
#: The producer's own retries of a throttled request (or of throttled entries): full jitter, the n-th retry waits
#: uniform(0, min(CAP, BASE * 2 ** (n - 1))) seconds; at most THROTTLE_MAX_ATTEMPTS attempts per request.
#: Windows 50, 100, 200, 400 ms: at most 0.75 s of waiting per request (docs/producer-throughput.md, "Throttling").
THROTTLE_BACKOFF_BASE_S = 0.05
THROTTLE_BACKOFF_CAP_S = 0.5
THROTTLE_MAX_ATTEMPTS = 5


class Throttled(Exception):
    """SNS throttled a PublishBatch request (raised by the client hook instead of botocore's retry)."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code


def is_throttling(code: Any, status: Any = None) -> bool:
    return code in THROTTLING_CODES or status == 429


def _throttled_is_not_retried_by_botocore(response: Any = None, caught_exception: Any = None, **kwargs: Any) -> None:
    """botocore ``needs-retry`` hook, run before botocore's retry handler: a throttled attempt raises
    :class:`Throttled` instead of being retried after botocore's back-off (up to 1 s for throttling), so the
    producer re-submits it with its own shorter back-off while the other requests keep going. Everything else
    (connection errors, timeouts, 5xx) is left to botocore's standard retries."""
    if caught_exception is not None or not response:
        return None
    http, parsed = response
    error = (parsed or {}).get("Error") or {}
    if is_throttling(error.get("Code"), getattr(http, "status_code", None)):
        raise Throttled(str(error.get("Code") or getattr(http, "status_code", "")), str(error.get("Message") or ""))
    return None


def configure_client(client: Any) -> Any:
    """Install the deadline guard and the throttling hook on an SNS client."""
    client.meta.events.register("request-created.sns.PublishBatch", _guard_retry, unique_id="producer-deadline")
    client.meta.events.register_first(
        "needs-retry.sns.PublishBatch", _throttled_is_not_retried_by_botocore, unique_id="producer-throttling"
    )
    return client


#: What every subscribed queue takes (envelope or raw delivery), read once at init.
MESSAGE_BUDGET = pipeline_message.parse_budget(os.environ.get(pipeline_message.BUDGET_VARIABLE))


def backoff_s(retry: int) -> float:
    """Seconds to wait before the ``retry``-th retry (1 = the first) of a throttled request: full jitter."""
    return random.random() * min(THROTTLE_BACKOFF_CAP_S, THROTTLE_BACKOFF_BASE_S * 2 ** (retry - 1))


#: The SNS client, created once per container (at init).
sns = configure_client(boto3.client("sns", config=BOTO_CONFIG))


class Prepared:
    """One stream record turned into a PublishBatch entry."""

    __slots__ = ("sequence_number", "entry", "size", "truncated")

    def __init__(self, sequence_number: str, entry: dict, size: int, truncated: bool) -> None:
        self.sequence_number = sequence_number
        self.entry = entry
        self.size = size
        self.truncated = truncated


def sequence_number_of(record: Any) -> str | None:
    """The record's ``dynamodb.SequenceNumber`` when it is a non-empty string, else None (a malformed record)."""
    ddb = record.get("dynamodb") if isinstance(record, dict) else None
    sequence_number = ddb.get("SequenceNumber") if isinstance(ddb, dict) else None
    return sequence_number if isinstance(sequence_number, str) and sequence_number else None


def _malformed_reason(record: Any) -> str:
    if not isinstance(record, dict):
        return f"record is a {type(record).__name__}, not an object"
    if not isinstance(record.get("dynamodb"), dict):
        return "record has no 'dynamodb' object"
    return "record has no 'dynamodb.SequenceNumber' string"


#: How much of a malformed record a log line carries (its repr), so one record cannot flood the log.
LOGGED_RECORD_CHARS = 64 * 1024


def _logged(record: Any) -> str:
    return repr(record)[:LOGGED_RECORD_CHARS]


def is_fifo_topic(topic_arn: str) -> bool:
    return topic_arn.endswith(".fifo")


def prepare(record: dict, index: int, fifo: bool = False) -> Prepared:
    """Build the PublishBatch entry for one stream record (keys-only if the full message is too big), with the
    FIFO group and deduplication ids when ``fifo``.

    ``record`` must have a sequence number (see :func:`sequence_number_of`)."""
    message = pipeline_message.build(record, MESSAGE_BUDGET)  # a record whose keys cannot be converted fails (raises)
    sequence_number = record["dynamodb"]["SequenceNumber"]
    if message.truncated:
        logger.warning(
            "publishing keys-only (truncated) message",
            extra={"eventID": record.get("eventID"), "keys": message.keys, "reason": message.truncated_reason,
                   "sequenceNumber": sequence_number},
        )
    entry = {"Id": f"r{index}", "Message": message.body, "MessageAttributes": message.attributes}
    if fifo:
        entry["MessageGroupId"] = pipeline_message.record_group_id(record)
        entry["MessageDeduplicationId"] = pipeline_message.deduplication_id(pipeline_message.event_id(record))
    return Prepared(sequence_number, entry, message.size, message.truncated)


class Plan:
    """Which records go into the next PublishBatch request, and which are known to be published.

    A request takes the earliest sendable records in stream order: at most 10 entries and 256 KiB, and at most one
    change per FIFO message group. A FIFO record is sendable only once every earlier change of its group is known
    published, so a group's next change never starts while its previous one is in flight or failed (see
    "Concurrency"). On a standard topic every record is its own group: requests are consecutive runs of records,
    exactly the sequential batching."""

    def __init__(self, prepared: list[Prepared]) -> None:
        self.prepared = prepared
        self.published = [False] * len(prepared)
        # a standard topic's entries have no group: each record is its own (no dependency)
        self._groups = [item.entry.get("MessageGroupId", i) for i, item in enumerate(prepared)]
        self._unsent: dict[Any, deque[int]] = {}  # group -> its records not yet sent, in stream order
        for i, group in enumerate(self._groups):
            self._unsent.setdefault(group, deque()).append(i)
        # the first unsent record of each group with nothing in flight, smallest index first
        self._ready = [queue[0] for queue in self._unsent.values()]
        heapq.heapify(self._ready)

    def next_request(self) -> list[int]:
        """The record indices of the next request (in stream order), now in flight; [] when nothing is sendable."""
        chosen: list[int] = []
        size = 0
        while self._ready and len(chosen) < MAX_BATCH_ENTRIES:
            index = self._ready[0]
            if chosen and size + self.prepared[index].size > MAX_MESSAGE_BYTES:
                break
            heapq.heappop(self._ready)
            self._unsent[self._groups[index]].popleft()
            chosen.append(index)
            size += self.prepared[index].size
        return chosen

    def published_ok(self, index: int) -> None:
        """Record ``index`` is known published: the next change of its group becomes sendable."""
        self.published[index] = True
        queue = self._unsent[self._groups[index]]
        if queue:
            heapq.heappush(self._ready, queue[0])

    def first_unsent(self) -> int | None:
        """The earliest record not sent yet (None when every record was sent)."""
        return min((queue[0] for queue in self._unsent.values() if queue), default=None)

    def first_unpublished(self) -> int | None:
        """The earliest record not known to be published (None when all are)."""
        return next((i for i, ok in enumerate(self.published) if not ok), None)


# ---------------------------------------------------------------------------------------------- handler


def _failures(records: list, first_failed: int | None) -> dict:
    """The partial batch response: the first failed record and every later one, by sequence number.

    A record without a sequence number cannot be named; when the first failed record is one, the record before
    it is named instead, so Lambda still resumes at or before it (see "Malformed records")."""
    if first_failed is None:
        return {"batchItemFailures": []}
    identifiers = [s for s in map(sequence_number_of, records[first_failed:]) if s is not None]
    if sequence_number_of(records[first_failed]) is None:
        # Publishing stops at the first malformed record, so every record before it has a sequence number.
        if first_failed > 0:
            identifiers.insert(0, sequence_number_of(records[first_failed - 1]))
        else:  # malformed head of the batch: Lambda resumes at the first identifiable record, past these
            skipped = []
            for record in records:
                if sequence_number_of(record) is not None:
                    break
                skipped.append(_logged(record))
            logger.error(
                "malformed stream records cannot be retried (no sequence number at or before them to resume "
                "from): this log is their only copy",
                extra={"records": skipped, "resume_from": identifiers[0] if identifiers else None},
            )
    return {"batchItemFailures": [{"itemIdentifier": s} for s in identifiers]}


def _prepare_all(records: list, fifo: bool) -> tuple[list[Prepared], int | None]:
    """Entries for the records in order, up to the first one that is malformed or cannot be converted (its index is
    the second value, else None): ``prepared[i]`` is ``records[i]``."""
    prepared: list[Prepared] = []
    for i, record in enumerate(records):
        if sequence_number_of(record) is None:
            logger.error(
                "malformed stream record: not published, reported as failed",
                extra={"index": i, "reason": _malformed_reason(record), "record": _logged(record)},
            )
            return prepared, i
        try:
            prepared.append(prepare(record, i, fifo))
        except Exception:
            logger.exception("stream record could not be converted", extra={"index": i, "eventID": record.get("eventID")})
            return prepared, i
    return prepared, None


def _publish_batch(topic_arn: str, entries: list[dict]) -> Any:
    """One PublishBatch call (in a worker thread when publishing concurrently): the response, or the exception."""
    try:
        return sns.publish_batch(TopicArn=topic_arn, PublishBatchRequestEntries=entries)
    except Exception as exc:  # handled by the dispatcher, in the invocation's thread
        return exc


#: What one attempt of a request came to (see :func:`_settle`).
DONE, RETRY, FAILED = "done", "retry", "failed"


def _settle(plan: Plan, request: list[int], outcome: Any, attempt: int) -> tuple[str, list[int]]:
    """Record the outcome of attempt ``attempt`` of a request: ``(DONE, [])`` when all its records are published,
    ``(RETRY, records)`` when SNS throttled the request (or only throttled entries failed) and attempts are left,
    else ``(FAILED, [])``: some record is not known to be published and will not be retried here."""
    start = request[0]
    if isinstance(outcome, Throttled):
        if attempt < THROTTLE_MAX_ATTEMPTS:
            return RETRY, request
        logger.error(
            "PublishBatch throttled on every attempt",
            extra={"first_record": start, "entries": len(request), "attempts": attempt, "code": outcome.code},
        )
        return FAILED, []
    if isinstance(outcome, DeadlineReached):
        logger.warning("deadline reached during PublishBatch retries", extra={"first_record": start, "reason": str(outcome)})
        return FAILED, []
    if isinstance(outcome, BaseException):
        logger.error(
            "PublishBatch failed",
            exc_info=(type(outcome), outcome, outcome.__traceback__),
            extra={"first_record": start, "entries": len(request)},
        )
        return FAILED, []
    ok = {s["Id"] for s in outcome.get("Successful", [])}
    codes = {f.get("Id"): f.get("Code") for f in outcome.get("Failed", [])}
    failed, throttled = [], []
    for index in request:
        entry_id = plan.prepared[index].entry["Id"]
        if entry_id in ok:
            plan.published_ok(index)
        elif is_throttling(codes.get(entry_id)):
            throttled.append(index)
        else:
            failed.append(index)
    if failed or (throttled and attempt >= THROTTLE_MAX_ATTEMPTS):
        logger.error(
            "PublishBatch reported failed entries",
            extra={"failed": outcome.get("Failed", []), "first_record": min(failed + throttled), "attempts": attempt},
        )
        return FAILED, []
    return (RETRY, throttled) if throttled else (DONE, [])


def publish(records: list[dict], topic_arn: str, context: Any = None, concurrency: int | None = None) -> int | None:
    """Publish the records, at most ``concurrency`` (default ``PUBLISH_CONCURRENCY``) PublishBatch requests at a
    time; return the index of the earliest record not known to be published, or None.

    A request is in flight from its first attempt until it is settled, including while it waits to be retried
    after throttling (see "Throttling"). After a failed request (or entry) no new request starts; nor does one
    (other than the first), or a retry, with less than ``DEADLINE_MARGIN_MS`` left. Requests in flight are always
    waited for (see "Concurrency")."""
    fifo = is_fifo_topic(topic_arn)
    prepared, first_failed = _prepare_all(records, fifo)
    plan = Plan(prepared)
    limit = max(1, PUBLISH_CONCURRENCY if concurrency is None else concurrency)
    running: dict[Future, tuple[list[int], int]] = {}  # request, attempt
    waiting: list[tuple[float, int, list[int], int]] = []  # heap of (due, tie-break, request, attempt): back-off
    order = itertools.count()
    pool: ThreadPoolExecutor | None = None
    calls, stopped = 0, False

    def settle(request: list[int], attempt: int, outcome: Any) -> None:
        nonlocal stopped
        verdict, again = _settle(plan, request, outcome, attempt)
        if verdict == RETRY:
            delay = backoff_s(attempt)
            logger.warning(
                "PublishBatch throttled: retrying after a back-off",
                extra={"first_record": again[0], "entries": len(again), "attempt": attempt,
                       "backoff_s": round(delay, 3)},
            )
            heapq.heappush(waiting, (time.monotonic() + delay, next(order), again, attempt + 1))
        elif verdict == FAILED:
            stopped = True

    def send(request: list[int], attempt: int) -> None:
        nonlocal pool
        entries = [prepared[i].entry for i in request]
        if limit == 1:  # sequential: in this thread, no pool
            settle(request, attempt, _publish_batch(topic_arn, entries))
            return
        if pool is None:
            pool = ThreadPoolExecutor(max_workers=limit, thread_name_prefix="publish")
        running[pool.submit(_publish_batch, topic_arn, entries)] = (request, attempt)

    try:
        while True:
            while waiting and waiting[0][0] <= time.monotonic():  # throttled requests whose back-off is over
                _, _, request, attempt = heapq.heappop(waiting)
                left = remaining_ms(context)
                if left is not None and left < DEADLINE_MARGIN_MS:
                    logger.warning(
                        "deadline reached: not retrying a throttled PublishBatch request",
                        extra={"remaining_ms": left, "margin_ms": DEADLINE_MARGIN_MS, "first_record": request[0],
                               "attempt": attempt},
                    )
                    stopped = True  # its records stay unpublished: reported
                    continue
                send(request, attempt)
            while not stopped and len(running) + len(waiting) < limit:
                left = remaining_ms(context) if calls else None  # the first call always goes: progress guarantee
                if left is not None and left < DEADLINE_MARGIN_MS:
                    first = plan.first_unsent()
                    if first is not None:
                        logger.warning(
                            "deadline reached: not publishing the rest of the batch",
                            extra={"remaining_ms": left, "margin_ms": DEADLINE_MARGIN_MS, "first_record": first,
                                   "published_calls": calls, "in_flight": len(running) + len(waiting)},
                        )
                    stopped = True
                    break
                request = plan.next_request()
                if not request:
                    break  # all sent, or FIFO: the next changes wait for their groups' requests in flight
                calls += 1
                send(request, 1)
            if not running and not waiting:
                break
            timeout = max(0.0, waiting[0][0] - time.monotonic()) if waiting else None
            if not running:
                time.sleep(timeout or 0.0)  # only requests in back-off: wait for the first to be due
                continue
            finished, _ = wait(running, timeout=timeout, return_when=FIRST_COMPLETED)
            for future in finished:
                request, attempt = running.pop(future)
                settle(request, attempt, future.result())
    finally:
        if pool is not None:
            pool.shutdown(wait=True)  # no thread outlives the invocation (Lambda freezes the container after it)
    unpublished = plan.first_unpublished()
    return unpublished if unpublished is not None else first_failed


def handler(event: dict, context: Any) -> dict:
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        logger.error("event has no Records list: nothing to publish", extra={"event": _logged(event)})
        return {"batchItemFailures": []}
    if not records:
        return {"batchItemFailures": []}
    global _context
    _context = context
    try:
        topic_arn = os.environ["SNS_TOPIC_ARN"]
        first_failed = publish(records, topic_arn, context)
    except Exception:
        logger.exception("producer failed; reporting the whole batch")
        first_failed = 0
    finally:
        _context = None
    if first_failed is not None:
        logger.warning(
            "reporting batch item failures",
            extra={"reported": len(records) - first_failed, "records": len(records)},
        )
    return _failures(records, first_failed)
