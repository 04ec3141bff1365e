"""Accounting: what was written, what reached the stream, what each subscriber processed.

A *change* is one write to the table (INSERT, MODIFY or REMOVE) and is identified by
``(key, eventName, version)`` on the writer's side and by the stream ``eventID`` on the
pipeline's side; the stream poller links the two. A change is *lost* for a subscriber when
it was written, the subscriber should have received it, and at the end it is neither
processed by that subscriber's business logic nor in its DLQ nor in the stream's on-failure
queue nor in its delivery DLQ. A change the stream mapping's filter drops (``stream.event_names``) never reaches the producer, as
with Lambda's event filtering: it is *filtered out*, expected by no subscriber, and never lost.

A processed change is *out of order* for a subscriber when that subscriber's business logic already processed a
change of the same item with a higher stream sequence number (the stream keeps each item's changes in order;
``ordering = "per-item"`` promises the consumers see that order, the standard design does not).

Dead letters are told apart: a *poison* dead letter is a change of a poison item (one the
business logic rejects every time: the DLQ is where it belongs); any other change in a DLQ or
in the stream's on-failure queue that was never processed is an *outage casualty*: a healthy
change that ran out of receives or retries while something was down, and needs a redrive.

A change SNS could not deliver to a subscriber's queue (too large for it: SNS's NumberOfNotificationsFailed) is
*dead-lettered by delivery* when it is in that subscriber's delivery DLQ, and lost when it is not; every failed
delivery is counted (``delivery_failed``), also when a redrive later delivered the change.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

Identity = tuple[str, str, int]  # (item key, eventName, version)


class InvocationLog:
    """The eventIDs one function instance's business logic processed during its current invocation.

    A local function instance runs one invocation at a time (as a Lambda execution environment does), so its
    poller starts the log before invoking and reads it afterwards."""

    def __init__(self) -> None:
        self.event_ids: set[str] = set()

    def begin(self) -> set[str]:
        self.event_ids = set()
        return self.event_ids

    def add(self, event_id: str) -> None:
        self.event_ids.add(event_id)


def _percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, int(round(q * (len(sorted_values) - 1)))))
    return sorted_values[index]


@dataclass
class SubscriberTally:
    attempts: int = 0
    rejected: int = 0  # business.process raised (poison, outage, ...)
    processed: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))  # eventID -> done times
    delivered: set[str] = field(default_factory=set)  # SQS message ids received
    receives: int = 0
    deleted: int = 0
    duplicates_suppressed: int = 0
    duplicates_injected: int = 0
    duplicated_ids: set[str] = field(default_factory=set)
    acked_without_processing: int = 0  # success reported for a never-processed change: would be a loss
    invocations: int = 0
    function_errors: int = 0
    dead_letters: dict[str, dict] = field(default_factory=dict)  # eventID -> message found in the DLQ
    delivery_dead_letters: dict[str, dict] = field(default_factory=dict)  # eventID -> message in the delivery DLQ
    delivery_failed: int = 0  # SNS -> SQS deliveries that failed (SNS's NumberOfNotificationsFailed)
    highest: dict[str, int] = field(default_factory=dict)  # item key -> highest sequence number processed
    out_of_order: int = 0  # processed changes whose item already had a later change processed
    out_of_order_examples: list[str] = field(default_factory=list)


class Ledger:
    def __init__(self, subscribers: list[str]) -> None:
        self.lock = threading.Lock()
        self.started = time.monotonic()
        self.writes: dict[Identity, float] = {}  # identity -> time written
        self.write_order: list[Identity] = []
        self.poison: set[str] = set()  # item keys whose changes the business logic rejects
        self.stream: dict[str, Identity] = {}  # eventID -> identity
        self.sequence: dict[int, str] = {}  # sequence number -> eventID
        self.sequence_of: dict[str, int] = {}  # eventID -> sequence number
        self.subs = {name: SubscriberTally() for name in subscribers}
        self.producer_invocations = 0
        self.producer_retries = 0
        self.producer_bisections = 0
        self.producer_errors = 0
        self.stream_failures: dict[str, dict] = {}  # eventID -> on-failure message it belongs to
        self.filtered: set[str] = set()  # eventIDs the stream mapping's filter dropped (never sent to the producer)
        self.writer_done_at: float | None = None

    # --- writer ------------------------------------------------------------------------------
    def written(self, identity: Identity, at: float) -> None:
        with self.lock:
            self.writes[identity] = at
            self.write_order.append(identity)

    # --- stream ------------------------------------------------------------------------------
    def stream_record(self, record: dict) -> None:
        ddb = record.get("dynamodb", {})
        image = ddb.get("NewImage") or ddb.get("OldImage") or {}
        key = next(iter(ddb.get("Keys", {}).values()), {}).get("S", "")
        version = int(image.get("version", {}).get("N", "0"))
        with self.lock:
            self.stream[record["eventID"]] = (key, record["eventName"], version)
            self.sequence[int(ddb["SequenceNumber"])] = record["eventID"]
            self.sequence_of[record["eventID"]] = int(ddb["SequenceNumber"])

    def filtered_out(self, record: dict) -> None:
        """A stream record the mapping's filter dropped: in the stream, never handed to the producer."""
        self.stream_record(record)
        with self.lock:
            self.filtered.add(record["eventID"])

    def identity(self, event_id: str | None) -> Identity | None:
        return self.stream.get(event_id) if event_id else None

    # --- consumer side -------------------------------------------------------------------------
    def processed(self, sub: str, event_id: str) -> None:
        now = time.monotonic()
        with self.lock:
            tally = self.subs[sub]
            tally.processed[event_id].append(now)
            identity, sequence = self.stream.get(event_id), self.sequence_of.get(event_id)
            if identity is None or sequence is None:
                return
            highest = tally.highest.get(identity[0])
            if highest is not None and sequence < highest:
                tally.out_of_order += 1
                if len(tally.out_of_order_examples) < 10:
                    tally.out_of_order_examples.append(f"{sub}:{identity[0]}:{identity[1]}:v{identity[2]}")
            else:
                tally.highest[identity[0]] = sequence

    def is_poison(self, event_id: str | None, message: Any) -> bool:
        """Whether the change is one of a poison item: by its stream identity, else by the message's keys."""
        identity = self.identity(event_id)
        if identity is not None:
            return identity[0] in self.poison
        keys = message.get("keys") if isinstance(message, dict) else None
        key = keys.get("id") if isinstance(keys, dict) else None
        return isinstance(key, str) and key in self.poison

    # --- results -------------------------------------------------------------------------------
    def summary(self, published: int, elapsed_s: float, expected_for: dict[str, set[Identity] | None]) -> dict:
        with self.lock:
            written = len(self.write_order)
            by_identity: dict[Identity, str] = {ident: eid for eid, ident in self.stream.items()}
            latencies: list[float] = []
            first_write = min(self.writes.values(), default=self.started)
            last_done = first_write
            totals = defaultdict(int)
            per_sub: dict[str, dict] = {}
            lost_examples: list[str] = []
            failed_ids = set(self.stream_failures)
            dropped = {self.stream[eid] for eid in self.filtered}  # by the stream mapping's filter: expected nowhere
            for name, tally in self.subs.items():
                expected = expected_for.get(name)
                wanted = [i for i in self.write_order if i not in dropped and (expected is None or i in expected)]
                processed_once = more_than_once = dead = delivery_dead = lost = processed = 0
                for ident in wanted:
                    eid = by_identity.get(ident)
                    done = tally.processed.get(eid, []) if eid else []
                    if done:
                        processed += 1
                        if len(done) == 1:
                            processed_once += 1
                        else:
                            more_than_once += 1
                        latencies.append(done[0] - self.writes[ident])
                        last_done = max(last_done, done[0])
                    elif eid is not None and (eid in tally.dead_letters or eid in failed_ids):
                        dead += 1
                    elif eid is not None and eid in tally.delivery_dead_letters:
                        delivery_dead += 1  # SNS could not deliver it; kept in the delivery DLQ: not lost
                    else:
                        lost += 1
                        if len(lost_examples) < 10:
                            lost_examples.append(f"{name}:{ident[0]}:{ident[1]}:v{ident[2]}")
                poison_dead = sum(
                    1 for eid in tally.dead_letters
                    if (ident := self.stream.get(eid)) is not None and ident[0] in self.poison
                )
                outage_dead = sum(
                    1 for eid in tally.dead_letters
                    if not tally.processed.get(eid)
                    and not ((ident := self.stream.get(eid)) is not None and ident[0] in self.poison)
                )
                row = {
                    "expected": len(wanted),
                    "delivered": len(tally.delivered),
                    "processed": processed,
                    "processed_once": processed_once,
                    "processed_more_than_once": more_than_once,
                    "dead_lettered": len(tally.dead_letters),
                    "dead_lettered_expected": dead,
                    "dead_lettered_poison": poison_dead,
                    "dead_lettered_outage": outage_dead,
                    "delivery_failed": tally.delivery_failed,
                    "dead_lettered_delivery": len(tally.delivery_dead_letters),
                    "dead_lettered_delivery_expected": delivery_dead,
                    "lost": lost,
                    "duplicates_injected": tally.duplicates_injected,
                    "duplicates_suppressed": tally.duplicates_suppressed,
                    "acked_without_processing": tally.acked_without_processing,
                    "rejected_attempts": tally.rejected,
                    "invocations": tally.invocations,
                    "function_errors": tally.function_errors,
                    "out_of_order": tally.out_of_order,
                }
                per_sub[name] = row
                for k, v in row.items():
                    totals[k] += v
            latencies.sort()
            span = max(last_done - first_write, 1e-9)
            p50, p99 = _percentile(latencies, 0.50), _percentile(latencies, 0.99)
            return {
                "written": written,
                "in_stream": sum(1 for i in self.write_order if i in by_identity),
                "filtered_out": len(dropped),
                "published": published,
                "delivered": totals["delivered"],
                "expected": totals["expected"],
                "processed": totals["processed"],
                "processed_once": totals["processed_once"],
                "processed_more_than_once": totals["processed_more_than_once"],
                "dead_lettered": totals["dead_lettered"] + len(self.stream_failures),
                "stream_failures": len(self.stream_failures),
                "dead_lettered_poison": totals["dead_lettered_poison"],
                "dead_lettered_outage": totals["dead_lettered_outage"],
                # healthy changes dead-lettered: in a subscriber DLQ unprocessed, or in the stream failure queue
                "outage_casualties": totals["dead_lettered_outage"] + len(self.stream_failures),
                # SNS could not deliver to a queue (too large for it): failures, and messages in the delivery DLQs
                "delivery_failed": totals["delivery_failed"],
                "dead_lettered_delivery": totals["dead_lettered_delivery"],
                "lost": totals["lost"],
                "out_of_order": totals["out_of_order"],
                "out_of_order_examples": [e for t in self.subs.values() for e in t.out_of_order_examples][:10],
                "duplicates_injected": totals["duplicates_injected"],
                "duplicates_suppressed": totals["duplicates_suppressed"],
                "acked_without_processing": totals["acked_without_processing"],
                "poison": len(self.poison),
                "throughput_per_s": round(totals["processed"] / span, 1) if totals["processed"] else 0.0,
                "p50_ms": round(p50 * 1000, 1) if p50 is not None else None,
                "p99_ms": round(p99 * 1000, 1) if p99 is not None else None,
                "elapsed_s": round(elapsed_s, 2),
                "producer_invocations": self.producer_invocations,
                "producer_retries": self.producer_retries,
                "producer_bisections": self.producer_bisections,
                "producer_errors": self.producer_errors,
                "lost_examples": lost_examples,
                "subscribers": per_sub,
            }
