"""Capacity known at synth: can a configuration carry its stated peak within AWS's quotas?

Pure (no cdktf, no I/O but the command line at the bottom): from a validated :class:`PipelineConfig` and its
``[capacity]`` section it computes, per pipeline and per subscriber, the producer's invocations and PublishBatch
calls per second, the SNS publish rate against the region's quota, FIFO queue throughput, the consumer
concurrency needed against its ceilings, and how long a one-hour backlog takes to drain. Every limit is a named
constant below with its AWS documentation source; docs/capacity.md has the formulas and an example.

Quotas vary by region and account: the values used are AWS's documented defaults for the configuration's region.
An account whose quota was raised passes its own with ``python -m pipeline_model.capacity --quota NAME=VALUE``
(``make capacity ARGS="--quota sns_publish=60000"``).

Command: ``python -m pipeline_model.capacity [--config FILE] [--environments a,b]`` (``make capacity CONFIG=...``).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from . import ordering as _ordering
from .config import CapacityConfig, ConfigError, PipelineConfig, load_environments
from .errors import Problem
from .contract import CONSUMER_DEADLINE_MARGIN_MS

# --- AWS limits (each with its source) --------------------------------------------------------

#: DynamoDB: one write capacity/request unit writes an item of up to 1 KB; larger items take one unit per KB.
#: Source: DynamoDB Developer Guide, "Constraints in Amazon DynamoDB" (capacity unit sizes).
WRITE_UNIT_KIB = 1
#: DynamoDB: a partition serves at most 1,000 write units per second.
#: Source: DynamoDB Developer Guide, "Understanding DynamoDB warm throughput" / "Burst and adaptive capacity"
#: ("each partition is limited to 1,000 write units per second and 3,000 read units per second").
PARTITION_WRITE_UNITS_PER_SECOND = 1000
#: Lambda stream event source mapping: at most 10 concurrent batches per shard (ParallelizationFactor 1-10).
#: Source: Lambda Developer Guide, "Lambda parameters for Amazon DynamoDB event source mappings".
MAX_PARALLELIZATION_FACTOR = 10
#: Lambda: 6 MB payload per synchronous invocation (a stream batch is one).
#: Source: Lambda API Reference, "Invoke" ("For synchronous invocations, the maximum payload size is 6 MB").
INVOCATION_PAYLOAD_KIB = 6 * 1024
#: SNS: 10 entries per PublishBatch request, 256 KiB per message and per request (all entries together).
#: Source: SNS API Reference, "PublishBatch"; AWS General Reference, "Amazon SNS endpoints and quotas".
PUBLISH_BATCH_ENTRIES = 10
PUBLISH_BATCH_KIB = 256
#: SNS Publish + PublishBatch messages per second, per account and region (soft quota), standard topics.
#: Source: AWS General Reference, "Amazon SNS endpoints and quotas", Publish API throttling per account.
SNS_PUBLISH_STANDARD: dict[str, int] = {
    "us-east-1": 30_000,
    "us-west-2": 9_000, "eu-west-1": 9_000,
    **dict.fromkeys(("us-east-2", "us-west-1", "ap-south-1", "ap-northeast-2", "ap-southeast-1", "ap-southeast-2",
                     "ap-northeast-1", "eu-central-1"), 1_500),
}
SNS_PUBLISH_STANDARD_OTHER = 300
#: The same quota for FIFO topics (the account's regional limit applies to a topic whose FifoThroughputScope is
#: MessageGroup, as this pipeline's are). Same source.
SNS_PUBLISH_FIFO: dict[str, int] = {
    "us-east-1": 30_000,
    "us-west-2": 9_000, "eu-west-1": 9_000,
}
SNS_PUBLISH_FIFO_OTHER = 3_000
#: SNS FIFO: 300 messages per second per message group (one group per item here). Same source (footnote).
SNS_FIFO_PER_GROUP = 300
#: SQS FIFO high-throughput mode (this pipeline's FIFO queues: perMessageGroupId): transactions per second per
#: API action, without batching (SNS delivers each message with its own send).
#: Source: SQS Developer Guide, "Amazon SQS message quotas", High throughput for FIFO queues.
SQS_FIFO_HIGH_THROUGHPUT_TPS: dict[str, int] = {
    **dict.fromkeys(("us-east-1", "us-west-2", "eu-west-1"), 70_000),
    **dict.fromkeys(("us-east-2", "eu-central-1"), 19_000),
    **dict.fromkeys(("ap-south-1", "ap-southeast-1", "ap-southeast-2", "ap-northeast-1"), 9_000),
    **dict.fromkeys(("eu-west-2", "sa-east-1"), 4_500),
}
SQS_FIFO_HIGH_THROUGHPUT_TPS_OTHER = 2_400
#: SQS FIFO without high-throughput mode: 300 transactions per second per API action (3,000 messages with
#: batches of 10). Same source. Shown for comparison; this pipeline's FIFO queues use high-throughput mode.
SQS_FIFO_TPS = 300
#: Lambda: 1,000 concurrent executions per account and region by default (new accounts may start lower).
#: Source: Lambda Developer Guide, "Lambda quotas" (concurrent executions).
ACCOUNT_CONCURRENCY = 1_000
#: Lambda SQS event source mapping: at most 1,000 batches processed at once; it starts with 5 and adds up to
#: 300 concurrent invocations per minute while messages wait.
#: Source: Lambda Developer Guide, "Configuring scaling behavior for SQS event source mappings".
SQS_MAPPING_MAX_CONCURRENCY = 1_000
SQS_MAPPING_START_CONCURRENCY = 5
SQS_MAPPING_SCALE_PER_MINUTE = 300

# --- assumptions (not AWS limits; docs/capacity.md explains each) ------------------------------

#: Milliseconds one PublishBatch call takes (the latency `make bench` uses for its SNS stand-in).
PUBLISH_CALL_MS = 20
#: What a message adds to the changed item's two images (keys, eventName, ids, attributes), in KiB.
MESSAGE_OVERHEAD_KIB = 1
#: The producer stops publishing this long before its timeout (functions/producer/app.py DEADLINE_MARGIN_MS;
#: a test keeps the two equal).
PRODUCER_DEADLINE_MARGIN_MS = 2_000
#: The backlog whose drain time is reported: an outage of this many seconds at the peak rate.
BACKLOG_SECONDS = 3_600

#: Quota overrides the command accepts (``--quota NAME=VALUE``): AWS raises these on request.
QUOTA_NAMES = ("sns_publish", "sqs_fifo_tps", "account_concurrency")


@dataclass(frozen=True)
class Quotas:
    """The adjustable quotas of one region (AWS's defaults unless overridden)."""

    sns_publish: int
    sqs_fifo_tps: int
    account_concurrency: int = ACCOUNT_CONCURRENCY
    overridden: tuple[str, ...] = ()

    @classmethod
    def for_region(cls, region: str, fifo: bool, **overrides: int) -> "Quotas":
        sns = (SNS_PUBLISH_FIFO.get(region, SNS_PUBLISH_FIFO_OTHER) if fifo
               else SNS_PUBLISH_STANDARD.get(region, SNS_PUBLISH_STANDARD_OTHER))
        quotas = cls(sns_publish=sns, sqs_fifo_tps=SQS_FIFO_HIGH_THROUGHPUT_TPS.get(region, SQS_FIFO_HIGH_THROUGHPUT_TPS_OTHER))
        unknown = set(overrides) - set(QUOTA_NAMES)
        if unknown:
            raise ValueError(f"unknown quota {sorted(unknown)[0]!r} (known: {', '.join(QUOTA_NAMES)})")
        return replace(quotas, **overrides, overridden=tuple(sorted(overrides)))


@dataclass(frozen=True)
class Check:
    """One figure against one limit. ``ok`` False = the configuration cannot carry its peak there."""

    what: str
    needed: float
    limit: float
    unit: str
    field: str  # the [capacity] field whose value this check depends on most
    hint: str

    @property
    def ok(self) -> bool:
        return self.needed <= self.limit


@dataclass(frozen=True)
class SubscriberCapacity:
    name: str
    fifo: bool
    messages_per_second: float
    concurrency_needed: float
    concurrency_ceiling: int
    ceiling_by: str
    batch_ms: float
    ramp_seconds: float
    drain_seconds: float  # math.inf when it never drains
    checks: tuple[Check, ...]


@dataclass(frozen=True)
class PipelineCapacity:
    environment: str
    stack_name: str
    region: str
    fifo: bool
    capacity: CapacityConfig
    assumed: bool  # no [capacity] section: the command's assumption was used
    quotas: Quotas
    shards: int
    message_kib: float
    records_per_invocation: int
    entries_per_call: int
    calls_per_invocation: int
    publish_concurrency: int
    invocation_ms: float
    invocations_per_second: float
    publish_calls_per_second: float
    producer_concurrency_needed: float
    producer_concurrency_allowed: int
    producer_records_per_second: float
    sns_messages_per_second: float
    producer_drain_seconds: float
    subscribers: tuple[SubscriberCapacity, ...]
    checks: tuple[Check, ...] = field(default=())

    @property
    def all_checks(self) -> tuple[Check, ...]:
        return self.checks + tuple(c for sub in self.subscribers for c in sub.checks)

    @property
    def problems(self) -> list[Check]:
        return [check for check in self.all_checks if not check.ok]


# --- the calculator -------------------------------------------------------------------------------


def shards(peak_writes_per_second: float, item_size_kib: float) -> int:
    """Estimated open stream shards: the partitions the peak write rate needs (DynamoDB Streams has about one
    shard per table partition; a table with more partitions, from its size or past peaks, has more)."""
    units = peak_writes_per_second * math.ceil(item_size_kib / WRITE_UNIT_KIB)
    return max(1, math.ceil(units / PARTITION_WRITE_UNITS_PER_SECOND))


def message_kib(item_size_kib: float) -> float:
    """One change's SNS message: both images (NEW_AND_OLD_IMAGES) plus the overhead; a message over SNS's 256 KiB
    is published keys-only (functions/shared/pipeline_message.py), i.e. about the overhead alone."""
    size = 2 * item_size_kib + MESSAGE_OVERHEAD_KIB
    return size if size <= PUBLISH_BATCH_KIB else MESSAGE_OVERHEAD_KIB


def drain_seconds(backlog: float, capacity_per_second: float, arrivals_per_second: float) -> float:
    """Seconds to empty ``backlog`` while new work keeps arriving at the peak rate (inf when it cannot)."""
    spare = capacity_per_second - arrivals_per_second
    return backlog / spare if spare > 0 else math.inf


def _publish_ms(calls: int, concurrency: int) -> float:
    return math.ceil(calls / concurrency) * PUBLISH_CALL_MS


def estimate(config: PipelineConfig, capacity: CapacityConfig | None = None, **quota_overrides: int) -> PipelineCapacity:
    """The capacity figures of one environment for ``capacity`` (default: its own ``[capacity]`` section)."""
    assumed = capacity is not None and config.capacity is None
    capacity = capacity or config.capacity
    if capacity is None:
        raise ValueError(f"environment {config.environment!r} has no [capacity] section")
    fifo = _ordering.is_fifo(config)
    quotas = Quotas.for_region(config.region, fifo, **quota_overrides)
    peak, item = capacity.peak_writes_per_second, capacity.item_size_kib

    # Producer: full stream batches at the peak (a backlog fills them), published 10 entries (256 KiB) per call.
    n_shards = shards(peak, item)
    msg = message_kib(item)
    record_kib = 2 * item  # the stream record carries both images
    entries = max(1, min(PUBLISH_BATCH_ENTRIES, math.floor(PUBLISH_BATCH_KIB / msg)))
    per_invocation = max(1, min(config.stream.batch_size, math.floor(INVOCATION_PAYLOAD_KIB / record_kib)))
    concurrency = max(1, int(getattr(config.producer, "publish_concurrency", 1)))
    # The producer stops before its deadline: what it publishes in one invocation is capped by its time budget
    # (the first call is always made).
    budget_ms = config.producer.timeout * 1000 - PRODUCER_DEADLINE_MARGIN_MS
    rounds = max(1, math.floor(budget_ms / PUBLISH_CALL_MS))
    per_invocation = min(per_invocation, rounds * concurrency * entries)
    calls = math.ceil(per_invocation / entries)
    invocation_ms = _publish_ms(calls, concurrency)
    invocations = peak / per_invocation
    allowed = n_shards * config.stream.parallelization_factor
    producer_rps = allowed * per_invocation / (invocation_ms / 1000)
    delivered_rps = min(producer_rps, quotas.sns_publish)

    checks = [
        Check("producer records/s (shards x parallelization_factor)", peak, producer_rps,
              "records/s", "peak_writes_per_second",
              f"raise stream.parallelization_factor (now {config.stream.parallelization_factor}, max "
              f"{MAX_PARALLELIZATION_FACTOR}), stream.batch_size or the producer's publish concurrency"),
        Check(f"SNS publish, {config.region} {'FIFO' if fifo else 'standard'} (per account)", peak,
              quotas.sns_publish, "messages/s", "peak_writes_per_second",
              "ask AWS for a higher SNS publish quota (Service Quotas), then pass it with --quota sns_publish=N"),
    ]

    subs = []
    for sub in config.subscribers:
        subs.append(_subscriber(config, sub, capacity, quotas, fifo))
    needed_total = invocations * invocation_ms / 1000 + sum(s.concurrency_needed for s in subs)
    checks.append(Check("Lambda concurrency, producer + consumers (account)",
                        math.ceil(needed_total), quotas.account_concurrency, "concurrent", "peak_writes_per_second",
                        "ask AWS for more concurrent executions, then pass --quota account_concurrency=N"))
    return PipelineCapacity(
        environment=config.environment, stack_name=config.names.stack, region=config.region, fifo=fifo,
        capacity=capacity, assumed=assumed, quotas=quotas, shards=n_shards, message_kib=msg,
        records_per_invocation=per_invocation, entries_per_call=entries, calls_per_invocation=calls,
        publish_concurrency=concurrency, invocation_ms=invocation_ms, invocations_per_second=invocations,
        publish_calls_per_second=invocations * calls,
        producer_concurrency_needed=invocations * invocation_ms / 1000, producer_concurrency_allowed=allowed,
        producer_records_per_second=producer_rps, sns_messages_per_second=peak,
        producer_drain_seconds=drain_seconds(peak * BACKLOG_SECONDS, delivered_rps, peak),
        subscribers=tuple(subs), checks=tuple(checks),
    )


def _subscriber(config: PipelineConfig, sub, capacity: CapacityConfig, quotas: Quotas, fifo: bool) -> SubscriberCapacity:
    # Every change reaches every queue (filter policies are not modelled: the worst case).
    arrivals = capacity.peak_writes_per_second
    ms = capacity.consumer_ms_per_message
    needed = arrivals * ms / 1000  # Little's law: messages/s x seconds per message (a batch runs its messages in turn)
    ceilings = [(quotas.account_concurrency, "account quota"),
                (SQS_MAPPING_MAX_CONCURRENCY, "SQS mapping maximum")]
    reserved = sub.function.reserved_concurrency
    if reserved >= 0:
        ceilings.append((reserved, "reserved_concurrency"))
    maximum = sub.maximum_concurrency  # the SQS mapping's scaling_config (None = not set)
    if maximum is not None:
        ceilings.append((maximum, "maximum_concurrency"))
    ceiling, by = min(ceilings, key=lambda pair: pair[0])
    batch_ms = sub.batch_size * ms + CONSUMER_DEADLINE_MARGIN_MS
    where = sub.name
    checks = [
        Check(f"{where}: concurrency vs {by}", needed, ceiling, "concurrent",
              "consumer_ms_per_message",
              "raise the ceiling named (reserved_concurrency, maximum_concurrency or the account quota) or make the "
              "consumer faster"),
        Check(f"{where}: full batch vs timeout", batch_ms, sub.function.timeout * 1000, "ms", "consumer_ms_per_message",
              f"a batch takes batch_size x ms per message + {CONSUMER_DEADLINE_MARGIN_MS} ms margin: lower batch_size "
              "or raise function.timeout (and visibility_timeout_seconds to 6x it)"),
    ]
    if fifo:
        checks.append(Check(f"{where}: FIFO sends, {config.region} high throughput", arrivals,
                            quotas.sqs_fifo_tps, "TPS", "peak_writes_per_second",
                            "ask AWS for a higher FIFO throughput quota, then pass --quota sqs_fifo_tps=N"))
    ramp = max(0.0, needed - SQS_MAPPING_START_CONCURRENCY) / SQS_MAPPING_SCALE_PER_MINUTE * 60
    capacity_rps = ceiling * 1000 / ms
    if fifo:
        capacity_rps = min(capacity_rps, quotas.sqs_fifo_tps)
    return SubscriberCapacity(
        name=sub.name, fifo=fifo, messages_per_second=arrivals, concurrency_needed=needed,
        concurrency_ceiling=ceiling, ceiling_by=by, batch_ms=batch_ms, ramp_seconds=ramp,
        drain_seconds=drain_seconds(arrivals * BACKLOG_SECONDS, capacity_rps, arrivals), checks=tuple(checks),
    )


# --- warnings, strict mode, the table ------------------------------------------------------------


def _n(value: float) -> str:
    """1,234 / 12.5 / 0.25 / never."""
    if math.isinf(value):
        return "never"
    if value >= 100 or float(value).is_integer():
        return f"{round(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".") if value < 1 else f"{value:,.1f}"


def duration(seconds: float) -> str:
    if math.isinf(seconds):
        return "never (the peak alone uses the whole capacity)"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def problem(estimate_: PipelineCapacity, check: Check) -> Problem:
    """``capacity.<field>``, ``environment 'x': <what> needs N <unit>, the limit is M`` and the hint."""
    return Problem(f"capacity.{check.field}", f"environment {estimate_.environment!r}: {check.what} needs "
                   f"{_n(check.needed)} {check.unit}, the limit is {_n(check.limit)}", check.hint)


def problem_line(estimate_: PipelineCapacity, check: Check) -> str:
    """``capacity.<field>: environment 'x': <what> needs N <unit>, the limit is M; <hint>``."""
    return str(problem(estimate_, check))


def render(estimates: Iterable[PipelineCapacity]) -> str:
    """The readable table: per environment, the producer and each subscriber, then every check."""
    estimates = list(estimates)
    out: list[str] = []
    for e in estimates:
        c = e.capacity
        kind = "FIFO topic and queues" if e.fifo else "standard topic and queues"
        out.append(f"== {e.environment}: stack {e.stack_name}, {e.region}, {kind}")
        out.append(f"   peak {_n(c.peak_writes_per_second)} writes/s, items {_n(c.item_size_kib)} KiB (p99), "
                   f"{_n(c.consumer_ms_per_message)} ms per consumer message"
                   + (" (assumed: no [capacity] section)" if e.assumed else ""))
        if e.quotas.overridden:
            out.append(f"   quotas given: {', '.join(f'{n}={getattr(e.quotas, n):,}' for n in e.quotas.overridden)}")
        out.append(f"   producer: {e.shards} shard{'s' if e.shards > 1 else ''} (estimated) x parallelization_factor "
                   f"{e.producer_concurrency_allowed // e.shards}; {e.records_per_invocation} records per invocation, "
                   f"{_n(e.invocations_per_second)} invocations/s")
        out.append(f"             {e.calls_per_invocation} PublishBatch call{'s' if e.calls_per_invocation > 1 else ''} "
                   f"of <= {e.entries_per_call} entries per invocation ({_n(e.invocation_ms)} ms at "
                   f"{PUBLISH_CALL_MS} ms each, {e.publish_concurrency} at a time), "
                   f"{_n(e.publish_calls_per_second)} calls/s")
        out.append(f"             concurrency {_n(e.producer_concurrency_needed)} needed, "
                   f"{e.producer_concurrency_allowed} allowed; one-hour stream backlog drain: "
                   f"{duration(e.producer_drain_seconds)}")
        out.append(f"   SNS: {_n(e.sns_messages_per_second)} messages/s of {e.message_kib:g} KiB"
                   + (f" (at most {SNS_FIFO_PER_GROUP} per item: one message group each)" if e.fifo else ""))
        for s in e.subscribers:
            queue = "FIFO queue, high throughput" if s.fifo else "standard queue"
            out.append(f"   subscriber {s.name} ({queue}): {_n(s.messages_per_second)} messages/s; concurrency "
                       f"{_n(s.concurrency_needed)} needed, ceiling {s.concurrency_ceiling:,} ({s.ceiling_by})")
            ramp = ("one batch per message group at a time" if s.fifo else
                    f"Lambda scales to it in ~{duration(s.ramp_seconds)}" if s.ramp_seconds else "Lambda starts with 5")
            out.append(f"             {ramp}; one-hour backlog drain: {duration(s.drain_seconds)}")
        rows = [(check.what, _n(check.needed), _n(check.limit), check.unit, "ok" if check.ok else "BREAKS")
                for check in e.all_checks]
        widths = [max(len(row[i]) for row in rows + [("check", "needed", "limit", "unit", "")]) for i in range(4)]
        out.append("   " + "  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in
                                     enumerate(zip(("check", "needed", "limit", "unit"), widths))))
        for row in rows:
            out.append("   " + "  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in
                                         enumerate(zip(row[:4], widths))) + "  " + row[4])
        out.append("")
    by_region: dict[str, list[PipelineCapacity]] = {}
    for e in estimates:
        by_region.setdefault(e.region, []).append(e)
    for region, shared in by_region.items():
        if len(shared) > 1:
            total = shared_region_checks(shared)
            out.append(f"{region}, {len(shared)} environments (quotas are per account and region; if they share an "
                       "account): " + "; ".join(f"{c.what} {_n(c.needed)} of {_n(c.limit)} {c.unit}"
                                                + ("" if c.ok else " BREAKS") for c in total))
    for e in estimates:
        for check in e.problems:
            out.append(f"warning: {problem_line(e, check)}")
    return "\n".join(out).rstrip("\n")


def shared_region_checks(estimates: list[PipelineCapacity]) -> list[Check]:
    """Environments of one region in one account share its SNS publish quota and its concurrent executions."""
    first = estimates[0]
    concurrency = sum(next(c.needed for c in e.checks if c.what.startswith("Lambda concurrency")) for e in estimates)
    return [
        Check("SNS publish", sum(e.sns_messages_per_second for e in estimates),
              min(e.quotas.sns_publish for e in estimates), "messages/s", "peak_writes_per_second", ""),
        Check("Lambda concurrency", concurrency, first.quotas.account_concurrency, "concurrent",
              "peak_writes_per_second", ""),
    ]


def check_strict(estimates: Iterable[PipelineCapacity]) -> None:
    """ConfigError listing every broken check of the environments whose section says ``strict = true``."""
    problems = [problem(e, check) for e in estimates if e.capacity.strict and not e.assumed for check in e.problems]
    if problems:
        raise ConfigError(problems)


def report(configs: Iterable[PipelineConfig]) -> str | None:
    """What synth prints: the table of the environments with a ``[capacity]`` section (None without one).
    Raises ConfigError when a ``strict = true`` section's peak cannot be carried."""
    estimates = [estimate(config) for config in configs if config.capacity is not None]
    if not estimates:
        return None
    check_strict(estimates)
    return render(estimates)


#: Set by `make synth` for the cdktf CLI's run of main.py: the `main.py --check` run before it printed the table.
SHOWN_ENV = "PIPELINE_CAPACITY_SHOWN"


def synth_hook(configs: Iterable[PipelineConfig], argv: list[str], environ: dict[str, str] | None = None) -> None:
    """What main.py runs after loading the configuration: ConfigError for a ``strict = true`` section whose peak
    cannot be carried; the table (and its warnings) printed once per `make synth` (by ``main.py --check``, or by
    the synth run when nothing printed it before)."""
    text = report(configs)
    environ = os.environ if environ is None else environ
    if text and ("--check" in argv or not environ.get(SHOWN_ENV)):
        print(text, file=sys.stdout if "--check" in argv else sys.stderr)


# --- the command -----------------------------------------------------------------------------------

#: The peak assumed for an environment without a [capacity] section: what one table partition can take
#: (1,000 writes/s of 1 KiB items), with the consumer's per-message budget.
ASSUMED = CapacityConfig(peak_writes_per_second=PARTITION_WRITE_UNITS_PER_SECOND, item_size_kib=WRITE_UNIT_KIB)


def load(path: str, select: str) -> list[PipelineConfig]:
    """The environments of ``path`` (none: the default configuration), only those named in ``select``."""
    return load_environments(path, select)


def _quota(text: str) -> tuple[str, int]:
    name, _, value = text.partition("=")
    if name not in QUOTA_NAMES or not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: use NAME=N with NAME one of {', '.join(QUOTA_NAMES)}, N >= 1")
    return name, int(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline_model.capacity", description=(
        "Capacity of each environment against AWS's quotas (docs/capacity.md). An environment without a "
        "[capacity] section is shown at one partition's peak: 1,000 writes/s of 1 KiB items, 50 ms per message."))
    parser.add_argument("--config", default=os.environ.get("PIPELINE_CONFIG", ""),
                        help="TOML/JSON configuration (default: $PIPELINE_CONFIG, else the default configuration)")
    parser.add_argument("--environments", default=os.environ.get("PIPELINE_ENVIRONMENTS", ""),
                        help="only these environments, comma-separated (default: $PIPELINE_ENVIRONMENTS, else all)")
    parser.add_argument("--quota", action="append", type=_quota, default=[], metavar="NAME=N",
                        help=f"an account quota AWS raised for you: {', '.join(QUOTA_NAMES)}")
    parser.add_argument("--strict", action="store_true", help="exit 1 when any environment cannot carry its peak")
    args = parser.parse_args(argv)
    try:
        configs = load(args.config, args.environments)
        estimates = [estimate(c, None if c.capacity else ASSUMED, **dict(args.quota)) for c in configs]
        check_strict(estimates)
    except ConfigError as error:
        heading, _, rest = str(error).partition("\n")
        lines = rest.splitlines() if heading.rstrip(":") == "invalid pipeline configuration" and rest else [str(error)]
        print("\n".join(f"error: {line.strip()}" for line in lines), file=sys.stderr)
        return 2
    print(render(estimates))
    return 1 if args.strict and any(e.problems for e in estimates) else 0


if __name__ == "__main__":
    raise SystemExit(main())
