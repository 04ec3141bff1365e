"""Producer: concurrent PublishBatch requests keep the failure contract, FIFO order within a group and the bound.

The SNS stand-in below replaces the client's ``publish_batch`` (the producer's worker threads call it) and
completes requests out of order on purpose: a request may only return when it is the most recent one in flight
(last in, first out), after ``limit`` requests are in flight (unless ``hold``) or no new one came for ``quiet``
seconds. So the first request of a batch finishes last. No assertion is about time."""

from __future__ import annotations

import json
import threading
import time

import pytest
from handlers_support import AskCounting, seq, stream_event, stream_record

from pipeline_model.lambda_runtime import LambdaContext
from pipeline_model.lambda_runtime import batch_item_failures as failures

CONCURRENCY = 4
STANDARD_TOPIC = "arn:aws:sns:us-east-1:123456789012:changes"
FIFO_TOPIC = "arn:aws:sns:us-east-1:123456789012:changes.fifo"

concurrent = pytest.mark.parametrize("producer", [CONCURRENCY], indirect=True, ids=[f"concurrency-{CONCURRENCY}"])


class StandIn:
    """SNS PublishBatch, answering out of order (LIFO). Entries whose eventID is in ``fail_events`` are reported
    Failed (code InternalError); a request holding an eventID of ``raise_events`` raises. A request holding an
    eventID of ``throttle_events`` is throttled (raises ``throttled``, as the producer's client hook does) the first
    ``throttle_times`` times that eventID is sent. Thread-safe."""

    def __init__(self, limit: int, *, quiet: float = 0.2, hold: bool = False, fail_events=(), raise_events=(),
                 throttle_events=(), throttle_times: int = 10**6, throttled=None) -> None:
        # hold: answer only after ``quiet`` seconds without a new request, so an extra request would be seen
        self.limit, self.quiet = (float("inf") if hold else limit), quiet
        self.fail_events, self.raise_events = set(fail_events), set(raise_events)
        self.throttle_left = {event_id: throttle_times for event_id in throttle_events}
        self.throttled_class, self.throttled = throttled, 0
        self.cond = threading.Condition()
        self.in_flight: list[int] = []  # arrival numbers of the requests in flight, oldest first
        self.max_in_flight = 0
        self.arrivals: list[list[str]] = []  # the eventIDs of each request, in arrival order
        self.completions: list[int] = []  # arrival numbers, in completion order
        self.accepted: list[dict] = []  # accepted messages, in acceptance order
        self.last_arrival = time.monotonic()
        self.group_busy: dict[str, int] = {}  # FIFO group -> arrival number of its request in flight
        self.overlaps: list[str] = []  # FIFO groups sent while a change of theirs was still in flight

    def __call__(self, TopicArn: str, PublishBatchRequestEntries: list[dict]) -> dict:  # noqa: N803 (boto3 names)
        entries = PublishBatchRequestEntries
        messages = [json.loads(e["Message"]) for e in entries]
        with self.cond:
            number = len(self.arrivals)
            self.arrivals.append([m["eventID"] for m in messages])
            for entry in entries:
                group = entry.get("MessageGroupId")
                if group is not None:
                    if group in self.group_busy:
                        self.overlaps.append(group)
                    self.group_busy[group] = number
            self.in_flight.append(number)
            self.max_in_flight = max(self.max_in_flight, len(self.in_flight))
            self.last_arrival = time.monotonic()
            self.cond.notify_all()
            while not (
                self.in_flight[-1] == number
                and (len(self.in_flight) >= self.limit or time.monotonic() - self.last_arrival >= self.quiet)
            ):
                self.cond.wait(timeout=self.quiet / 4)
            failing = [m["eventID"] in self.fail_events for m in messages]
            raising = any(m["eventID"] in self.raise_events for m in messages)
            throttling = [m["eventID"] for m in messages if self.throttle_left.get(m["eventID"], 0) > 0]
            for event_id in throttling:
                self.throttle_left[event_id] -= 1
            self.throttled += bool(throttling)
            if not raising and not throttling:
                self.accepted += [m for m, bad in zip(messages, failing) if not bad]
            for entry in entries:
                if entry.get("MessageGroupId") is not None:
                    self.group_busy.pop(entry["MessageGroupId"], None)
            self.in_flight.remove(number)
            self.completions.append(number)
            self.cond.notify_all()
        if raising:
            raise RuntimeError("injected: the connection was reset")
        if throttling:
            raise self.throttled_class("Throttling", "Rate exceeded")
        return {
            "Successful": [{"Id": e["Id"], "MessageId": f"m-{e['Id']}"} for e, bad in zip(entries, failing) if not bad],
            "Failed": [{"Id": e["Id"], "Code": "InternalError", "SenderFault": False, "Message": "injected"}
                       for e, bad in zip(entries, failing) if bad],
        }

    @property
    def accepted_ids(self) -> list[int]:
        return [int(m["eventID"][3:]) for m in self.accepted]

    @property
    def reordered(self) -> bool:
        return self.completions != sorted(self.completions)


@pytest.fixture
def stand_in(producer, monkeypatch):
    """Install a stand-in: ``stand_in(topic_arn, **options)``."""

    def install(topic_arn: str = STANDARD_TOPIC, **options) -> StandIn:
        fake = StandIn(producer.PUBLISH_CONCURRENCY, throttled=producer.Throttled, **options)
        monkeypatch.setattr(producer.sns, "publish_batch", fake)
        monkeypatch.setenv("SNS_TOPIC_ARN", topic_arn)
        return fake

    return install


CTX = LambdaContext("handlers-test", timeout_s=60, clock=lambda: 0.0)


# ---------------------------------------------------------------------------------------------- bound


@concurrent
def test_in_flight_requests_reach_but_never_exceed_the_concurrency(producer, stand_in):
    fake = stand_in(quiet=0.2, hold=True)
    records = [stream_record(i) for i in range(80)]  # 8 requests
    assert producer.handler(stream_event(records), CTX) == {"batchItemFailures": []}
    assert fake.max_in_flight == CONCURRENCY
    assert len(fake.arrivals) == 8 and sorted(fake.accepted_ids) == list(range(80))  # each record once
    assert fake.reordered  # requests really completed out of order
    assert not [t for t in threading.enumerate() if t.name.startswith("publish")]  # the pool is gone


@pytest.mark.parametrize("producer", [1, 2, 16], indirect=True)
def test_the_bound_is_the_configured_concurrency(producer, stand_in):
    fake = stand_in(quiet=0.3)
    assert producer.handler(stream_event([stream_record(i) for i in range(200)]), CTX) == {"batchItemFailures": []}
    assert fake.max_in_flight == min(producer.PUBLISH_CONCURRENCY, 20)
    assert sorted(fake.accepted_ids) == list(range(200))


# ---------------------------------------------------------------------------------------------- failure contract


@concurrent
def test_a_failed_entry_in_the_middle_reports_the_earliest_unpublished_record(producer, stand_in):
    fake = stand_in(fail_events={"ev-47"})
    records = [stream_record(i) for i in range(100)]
    response = producer.handler(stream_event(records), CTX)
    assert failures(response) == [seq(i) for i in range(47, 100)]  # Lambda resumes at 47: nothing after it skipped
    assert set(range(47)) <= set(fake.accepted_ids)  # everything before it is published
    assert 47 not in fake.accepted_ids
    assert len(fake.arrivals) < 10  # publishing stopped at the failure (the request of 40-49 finished first)
    assert fake.reordered


@concurrent
def test_a_failed_request_in_the_middle_reports_its_first_record(producer, stand_in):
    fake = stand_in(raise_events={"ev-25"})
    response = producer.handler(stream_event([stream_record(i) for i in range(100)]), CTX)
    assert failures(response) == [seq(i) for i in range(20, 100)]  # the request of records 20-29, and the rest
    assert set(range(20)) <= set(fake.accepted_ids)
    assert not set(range(20, 30)) & set(fake.accepted_ids)


@concurrent
def test_an_earlier_request_failing_last_still_wins(producer, stand_in):
    """The first request completes last (LIFO): its failure is reported even though later requests succeeded."""
    fake = stand_in(fail_events={"ev-3"})
    response = producer.handler(stream_event([stream_record(i) for i in range(40)]), CTX)
    assert fake.completions[-1] == 0  # the request holding ev-3 finished after the others
    assert failures(response) == [seq(i) for i in range(3, 40)]
    assert set(fake.accepted_ids) == set(range(40)) - {3}  # duplicates on retry, never a loss


@concurrent
def test_deadline_starts_nothing_new_and_waits_for_the_requests_in_flight(producer, stand_in, caplog):
    fake = stand_in()
    records = [stream_record(i) for i in range(100)]
    # the first request is never checked; the next two are; the fourth sees the deadline
    response = producer.handler(stream_event(records), AskCounting(asks=2))
    assert len(fake.arrivals) == 3
    assert len(fake.completions) == 3  # every request in flight returned before the handler did
    assert failures(response) == [seq(i) for i in range(30, 100)]
    assert sorted(fake.accepted_ids) == list(range(30))
    (logged,) = [r for r in caplog.records if "deadline reached" in r.getMessage()]
    assert logged.first_record == 30


# ---------------------------------------------------------------------------------------------- throttling


def sent_times(fake: StandIn, event_id: str) -> int:
    return sum(event_id in request for request in fake.arrivals)


@concurrent
def test_a_throttled_request_is_retried_and_everything_delivered(producer, stand_in):
    fake = stand_in(quiet=0.1, throttle_events={"ev-25"}, throttle_times=2)
    records = [stream_record(i) for i in range(100)]
    assert producer.handler(stream_event(records), CTX) == {"batchItemFailures": []}
    assert fake.throttled == 2 and sent_times(fake, "ev-25") == 3  # re-submitted twice, then accepted
    assert sorted(fake.accepted_ids) == list(range(100))  # each record once: nothing lost, nothing doubled
    assert fake.max_in_flight <= CONCURRENCY  # a request waiting to be retried still counts toward the bound


@concurrent
def test_exhausted_throttling_retries_report_that_request_and_the_rest(producer, stand_in):
    fake = stand_in(quiet=0.1, throttle_events={"ev-47"})
    response = producer.handler(stream_event([stream_record(i) for i in range(100)]), CTX)
    assert failures(response) == [seq(i) for i in range(40, 100)]  # the request of records 40-49, and the rest
    assert sent_times(fake, "ev-47") == producer.THROTTLE_MAX_ATTEMPTS  # bounded
    assert set(range(40)) <= set(fake.accepted_ids) and not set(range(40, 50)) & set(fake.accepted_ids)


@concurrent
def test_the_deadline_stops_a_throttled_request_being_retried(producer, stand_in, caplog):
    fake = stand_in(quiet=0.1, throttle_events={"ev-0"})
    # the first request is never checked; the next three requests are; then the retry of the first sees it
    response = producer.handler(stream_event([stream_record(i) for i in range(100)]), AskCounting(asks=3))
    assert sent_times(fake, "ev-0") < producer.THROTTLE_MAX_ATTEMPTS
    assert failures(response) == [seq(i) for i in range(100)]  # its records were never published: all reported
    assert any("not retrying a throttled" in r.getMessage() for r in caplog.records)
    assert len(fake.completions) == len(fake.arrivals)  # every request in flight returned before the handler did


# ---------------------------------------------------------------------------------------------- FIFO


def fifo_records(n: int) -> list[dict]:
    """Every third record changes the hot item; the others each change an item of their own."""
    return [stream_record(i, keys={"pk": {"S": "hot" if i % 3 == 0 else f"item-{i}"}}) for i in range(n)]


@concurrent
def test_fifo_group_order_holds_with_out_of_order_completion(producer, stand_in):
    fake = stand_in(FIFO_TOPIC, quiet=0.1)
    records = fifo_records(45)
    assert producer.handler(stream_event(records), CTX) == {"batchItemFailures": []}
    assert fake.overlaps == []  # a group's next change never started while its previous one was in flight
    hot = [m["eventID"] for m in fake.accepted if m["keys"]["pk"] == "hot"]
    assert hot == [f"ev-{i}" for i in range(0, 45, 3)]  # the hot item's changes in stream order
    assert sorted(fake.accepted_ids) == list(range(45))  # each record once
    assert fake.reordered and fake.max_in_flight > 1  # concurrent, and completed out of order
    for request in fake.arrivals:  # one change per item per request
        groups = [records[int(e[3:])]["dynamodb"]["Keys"]["pk"]["S"] for e in request]
        assert len(groups) == len(set(groups))


@concurrent
def test_fifo_failed_change_holds_back_its_group_and_reports_from_the_earliest(producer, stand_in):
    fake = stand_in(FIFO_TOPIC, quiet=0.1, fail_events={"ev-3"})  # the hot item's second change
    records = fifo_records(60)
    response = producer.handler(stream_event(records), CTX)
    assert failures(response) == [seq(i) for i in range(3, 60)]
    sent = {int(e[3:]) for request in fake.arrivals for e in request}
    assert not {i for i in range(6, 60, 3)} & sent  # no later change of the hot item was sent after ev-3
    assert fake.overlaps == [] and set(range(3)) <= set(fake.accepted_ids)


@concurrent
def test_fifo_a_throttled_change_still_goes_before_the_later_changes_of_its_item(producer, stand_in):
    fake = stand_in(FIFO_TOPIC, quiet=0.1, throttle_events={"ev-3"}, throttle_times=2)  # the hot item's second change
    records = fifo_records(45)
    assert producer.handler(stream_event(records), CTX) == {"batchItemFailures": []}
    assert fake.throttled == 2 and sent_times(fake, "ev-3") == 3
    accepted_at = max(n for n, request in enumerate(fake.arrivals) if "ev-3" in request)
    assert not any(f"ev-{i}" in request for request in fake.arrivals[:accepted_at] for i in range(6, 45, 3))
    assert fake.overlaps == []  # no later change of the hot item was sent while ev-3 was in flight or waiting
    hot = [m["eventID"] for m in fake.accepted if m["keys"]["pk"] == "hot"]
    assert hot == [f"ev-{i}" for i in range(0, 45, 3)]  # the hot item's changes in stream order
    assert sorted(fake.accepted_ids) == list(range(45))  # each record once
    assert any("ev-3" not in request and "ev-0" not in request
               for request in fake.arrivals[:accepted_at])  # other items' changes went meanwhile


# ---------------------------------------------------------------------------------------------- setting


@pytest.mark.parametrize(("value", "expected"), [(None, 8), ("", 8), ("1", 1), ("16", 16), ("3", 3)])
def test_publish_concurrency_setting(producer, value, expected):
    assert producer.publish_concurrency(value) == expected


@pytest.mark.parametrize("value", ["0", "17", "-1", "four", "2.5"])
def test_a_bad_publish_concurrency_is_logged_and_the_default_used(producer, caplog, value):
    assert producer.publish_concurrency(value) == producer.DEFAULT_PUBLISH_CONCURRENCY
    (logged,) = [r for r in caplog.records if "PUBLISH_CONCURRENCY" in r.getMessage()]
    assert logged.levelname == "ERROR" and "1 to 16" in logged.getMessage()


def test_the_setting_is_read_at_init():
    from handlers_support import load

    module = load("producer", PUBLISH_CONCURRENCY="5")
    assert module.PUBLISH_CONCURRENCY == 5 and module.sns.meta.config.max_pool_connections == 10
    module = load("producer", PUBLISH_CONCURRENCY="16")
    assert module.sns.meta.config.max_pool_connections == 16  # one pooled connection per request in flight
