"""One local run: emulator up, resources from the config, real handlers, workload, tally, teardown."""

from __future__ import annotations

import contextlib
import hashlib
import io
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, TextIO

from pipeline_model import contract
from pipeline_model.config import PipelineConfig
from pipeline_model.lambda_runtime import FAILURE_OBJECT_PREFIX, parse_batch_info, shared_module

from .emulator import ACCOUNT_ID, DELIVERY_FAILURES, Emulator
from .functions import FUNCTIONS_DIR, EnvironmentGate, LambdaFunction
from .ledger import Identity, InvocationLog, Ledger
from .pollers import QueuePoller, StreamPoller
from .resources import Resources, provision
from .safety import apply_local_environment, bypass_proxies_for_loopback, check_client, isolated_environment, loopback_guard
from .timing import Timing
from .workload import Workload, write


class PoisonMessage(ValueError):
    """Raised by the instrumented business logic for a change of a poison item."""


class ConsumerOutage(RuntimeError):
    """Raised by the instrumented business logic while a simulated outage lasts."""


class TransientFailure(RuntimeError):
    """Raised by the instrumented business logic on the first attempt of a "flaky" change (``--flaky``)."""


#: fault(subscriber_name, message) -> None; raise to make the business logic reject the message.
Fault = Callable[[str, Any], None]


@dataclass
class Options:
    workload: Workload = field(default_factory=Workload)
    duplicates: float = 0.0  # share of processed messages redelivered once
    timing: Timing = field(default_factory=Timing)
    timeout_s: float = 120.0
    pollers_per_queue: int = 1
    outage_s: float = 0.0  # business logic fails for this long after its first call
    flaky: float = 0.0  # share of changes whose first attempt (per subscriber) fails, as a transient error would
    fault: Fault | None = None
    progress: TextIO | None = None  # where progress lines go (None: nowhere)
    function_log: TextIO | None = None  # handlers' stdout/logs (None: discarded)
    functions_dir: Path = FUNCTIONS_DIR  # where the handlers' code folders are
    #: Extra/replaced environment variables per function name (fault injection in tests).
    environment_overrides: dict[str, dict[str, str]] = field(default_factory=dict)
    #: Called once the pipeline has drained, while the emulator still runs (e.g. to replay the
    #: stream failure queue); the run then waits for the pipeline to drain again.
    after_drain: Callable[["LocalPipeline"], None] | None = None
    #: The subscriber queues' maximum message size in bytes (None: the stack profile's, as deployed); a smaller one
    #: makes SNS's deliveries of larger messages fail (fault injection: a queue smaller than the producer assumes).
    queue_message_bytes: int | None = None


@dataclass
class Result:
    summary: dict
    dead_letters: dict[str, list[dict]]  # subscriber -> DLQ messages (body, attributes)
    stream_failures: list[dict]  # on-failure queue messages, or failure bucket objects ({"Key", "Body"})
    leftover_threads: list[str]
    timed_out: bool
    errors: list[str]
    #: subscriber -> the messages SNS could not deliver to its queue, left in its delivery DLQ
    delivery_dead_letters: dict[str, list[dict]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        s = self.summary
        return bool(s) and not self.timed_out and not self.errors and s["lost"] == 0 and s["processed_more_than_once"] == 0

    @property
    def casualties(self) -> int:
        """Healthy changes that ended in a DLQ or the stream failure queue (an outage, not poison, put them there)."""
        return self.summary.get("outage_casualties", 0) if self.summary else 0

    @property
    def delivery_failed(self) -> int:
        """SNS deliveries to a subscriber queue that failed (the message too large for the queue)."""
        return self.summary.get("delivery_failed", 0) if self.summary else 0


#: Exit statuses of ``python -m local_pipeline`` (README "Run it locally" and ``--help``).
EXIT_OK = 0  # every change processed exactly once, or dead-lettered as poison
EXIT_FAILED = 1  # a change lost or processed twice, the run timed out, or it failed
EXIT_USAGE = 2  # bad configuration or arguments
EXIT_CASUALTIES = 3  # nothing lost, but healthy changes were dead-lettered (an outage): redrive them
EXIT_DELIVERY_FAILED = 4  # nothing lost, but SNS failed to deliver to a queue: fix the size, redrive the delivery DLQ
EXIT_INTERRUPTED = 130  # Ctrl-C / SIGTERM


def exit_status(result: Result) -> int:
    if not result.ok:
        return EXIT_FAILED
    if result.delivery_failed:
        return EXIT_DELIVERY_FAILED
    return EXIT_CASUALTIES if result.casualties else EXIT_OK


class _Faults:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.first_call: float | None = None
        self.lock = threading.Lock()
        self.flaky_failed: set[tuple[str, str]] = set()  # (subscriber, eventID) whose first attempt failed

    def check(self, sub: str, message: Any) -> None:
        if self.options.outage_s > 0:
            with self.lock:
                if self.first_call is None:
                    self.first_call = time.monotonic()
            if time.monotonic() - self.first_call < self.options.outage_s:
                raise ConsumerOutage(f"simulated outage of {sub} ({self.options.outage_s} s)")
        if self.options.flaky > 0:
            event_id = message.get("eventID") if isinstance(message, dict) else None
            if event_id and _share_bucket(event_id) < self.options.flaky:
                with self.lock:
                    first = (sub, event_id) not in self.flaky_failed
                    self.flaky_failed.add((sub, event_id))
                if first:
                    raise TransientFailure(f"simulated transient failure of {event_id} at {sub} (first attempt)")
        if self.options.fault is not None:
            self.options.fault(sub, message)


def _share_bucket(event_id: str) -> float:
    """A stable number in [0, 1] per eventID: "a share of the changes" picks the same ones in every run."""
    # salted, so the flaky changes are not the same ones --duplicates picks (it hashes the bare eventID)
    return int(hashlib.sha1(f"flaky:{event_id}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


pipeline_message = shared_module("pipeline_message")


def _instrument(function: LambdaFunction, sub: str, ledger: Ledger, faults: _Faults,
                log: InvocationLog) -> Callable[[], None]:
    """Wrap the consumer's business.process: count, reject poison, inject faults, log what it processed."""
    business = function.modules.get("business") or getattr(function.module, "business", None)
    if business is None or not callable(getattr(business, "process", None)):
        raise RuntimeError(f"{function.name}: functions/{function.code} has no business.process to drive")
    original = business.process
    tally = ledger.subs[sub]

    def process(message, *args, **kwargs):
        event_id = message.get("eventID") if isinstance(message, dict) else None
        with ledger.lock:
            tally.attempts += 1
        try:
            if ledger.is_poison(event_id, message):
                raise PoisonMessage(f"poison change {event_id} rejected by the business logic")
            faults.check(sub, message)
            result = original(message, *args, **kwargs)
        except Exception:
            with ledger.lock:
                tally.rejected += 1
            raise
        if event_id:
            ledger.processed(sub, event_id)
            log.add(event_id)
        return result

    business.process = process

    def restore() -> None:
        business.process = original

    return restore


class LocalPipeline:
    def __init__(self, config: PipelineConfig, options: Options | None = None) -> None:
        self.config = config
        self.options = options or Options()
        self.ledger = Ledger([s.name for s in config.subscribers])
        self.stop = threading.Event()
        self.errors: list[str] = []
        self.functions: dict[str, LambdaFunction] = {}
        #: Per consumer function instance: what its business logic processed in the current invocation.
        self.invocation_logs: dict[str, InvocationLog] = {}
        self.resources: Resources | None = None
        self.clients: Any = None
        self.emulator: Emulator | None = None
        self._pollers: list = []
        self._writer: threading.Thread | None = None
        #: Set by a Ctrl-C during teardown: skip waiting for pollers and collecting results, still stop the emulator.
        self.hurry = False

    # --- public --------------------------------------------------------------------------------
    def run(self) -> Result:
        log = self.options.function_log if self.options.function_log is not None else io.StringIO()
        started = time.monotonic()
        timed_out = False
        restores: list[Callable[[], None]] = []
        dead_letters: dict[str, list[dict]] = {}
        delivery_dead: dict[str, list[dict]] = {}
        failures: list[dict] = []
        leftover: list[str] = []
        summary: dict = {}
        interrupted = False
        with isolated_environment(), loopback_guard(), contextlib.redirect_stdout(log):
            bypass_proxies_for_loopback()  # before the first request to the emulator (its reset)
            self.emulator = Emulator()
            try:
                self.emulator.start()
                apply_local_environment(self.emulator.url, self.config.region)
                self._progress(f"emulator on {self.emulator.url} (moto server, in-process)")
                self.clients = self._make_clients()
                self.resources = provision(self.config, self.clients, self.options.timing,
                                           queue_message_bytes=self.options.queue_message_bytes)
                self._load_functions(log)
                faults = _Faults(self.options)
                for key, function in self.functions.items():
                    if key != "__producer__":
                        log = self.invocation_logs.setdefault(key, InvocationLog())
                        restores.append(_instrument(function, key.split("#")[0], self.ledger, faults, log))
                self._start()
                timed_out = self._wait(started)
                if self.options.after_drain is not None and not timed_out and not self.errors:
                    self.options.after_drain(self)
                    timed_out = self._wait(started)
            except KeyboardInterrupt:
                self.errors.append("interrupted")
                raise
            except Exception as error:
                self.errors.append(f"{type(error).__name__}: {error}")
                raise
            finally:
                # A Ctrl-C from here on must not abort the teardown half way (the emulator would keep running):
                # it only makes the teardown skip its slow, optional parts.
                previous = self._catch_interrupts()
                if "interrupted" in self.errors:  # said only now, so a Ctrl-C in answer lands in the teardown
                    self._progress("interrupted: stopping (Ctrl-C again to skip collecting results)")
                try:
                    self.stop.set()
                    self._join([*self._pollers, self._writer], timeout_s=15)
                    try:
                        if self.resources is not None and self.clients is not None and not self.hurry:
                            dead_letters, failures, delivery_dead = self._collect()
                            summary = self._summary(time.monotonic() - started)
                    except Exception as error:  # never mask the original error / skip teardown
                        self.errors.append(f"collecting results failed: {type(error).__name__}: {error}")
                    for restore in restores:
                        restore()
                    self._close_clients()
                    leftover = self.emulator.stop(wait_seconds=0.5) if self.hurry else self.emulator.stop()
                    self._progress("emulator stopped")
                    if not self.hurry:
                        leftover += [t.name for t in [*self._pollers, self._writer] if t is not None and t.is_alive()]
                finally:
                    interrupted = self.hurry
                    for signum, handler in (previous or {}).items():
                        signal.signal(signum, handler)
        if interrupted and "interrupted" not in self.errors:
            raise KeyboardInterrupt  # a Ctrl-C during an otherwise normal teardown still ends the run as interrupted
        if leftover:
            self.errors.append(f"threads left behind: {leftover}")
        return Result(summary, dead_letters, failures, leftover, timed_out, list(self.errors),
                      delivery_dead_letters=delivery_dead)

    # --- teardown ------------------------------------------------------------------------------
    def _catch_interrupts(self) -> dict | None:
        """Turn SIGINT/SIGTERM into "hurry" for the teardown (main thread only); return the handlers to restore."""
        if threading.current_thread() is not threading.main_thread():
            return None

        def hurry(signum, frame):
            if not self.hurry:
                self._progress("interrupted during teardown: skipping the wait for pollers and the results; stopping the emulator")
            self.hurry = True
            self.stop.set()

        return {signum: signal.signal(signum, hurry) for signum in (signal.SIGINT, signal.SIGTERM)}

    def _join(self, threads: list, timeout_s: float) -> None:
        """Wait for the threads to end, at most `timeout_s` each, and not at all once :attr:`hurry` is set."""
        for thread in threads:
            deadline = time.monotonic() + timeout_s
            while thread is not None and thread.is_alive() and not self.hurry and time.monotonic() < deadline:
                thread.join(0.1)

    # --- setup ---------------------------------------------------------------------------------
    def _make_clients(self) -> Any:
        import boto3
        from botocore.config import Config

        session = boto3.session.Session(region_name=self.config.region)
        cfg = Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=20)
        clients = SimpleNamespace(
            **{name: session.client(name, config=cfg) for name in ("dynamodb", "dynamodbstreams", "sns", "sqs", "s3")}
        )
        for name, client in vars(clients).items():
            check_client(client, name)
        return clients

    def _close_clients(self) -> None:
        if self.clients is not None:
            for client in vars(self.clients).values():
                with contextlib.suppress(Exception):
                    client.close()

    def _arn(self, name: str) -> str:
        return f"arn:aws:lambda:{self.config.region}:{ACCOUNT_ID}:function:{name}"

    def _load_functions(self, log: TextIO) -> None:
        gate = EnvironmentGate()
        cfg, res = self.config, self.resources
        assert res is not None

        def load(name: str, code: str, environment: dict[str, str], function: Any) -> LambdaFunction:
            return LambdaFunction(
                name=name,
                code=code,
                arn=self._arn(name),
                environment={**environment, **self.options.environment_overrides.get(name, {})},
                timeout_s=function.timeout,
                memory_mb=function.memory_size,
                gate=gate,
                log_stream=log,
                functions_dir=self.options.functions_dir,
                deadline_scale=self.options.timing.deadline_scale,
            ).load()

        self.functions["__producer__"] = load(
            cfg.names.producer_function, cfg.producer_code,
            contract.producer_environment(cfg, res.topic_arn), cfg.producer,
        )
        for sub in cfg.subscribers:
            names = cfg.names.subscriber(sub.name)
            environment = contract.consumer_environment(sub, names, res.subscribers[sub.name].idempotency_table)
            for index in range(max(1, self.options.pollers_per_queue)):  # one execution environment per poller
                self.functions[f"{sub.name}#{index}"] = load(names.function, sub.code, environment, sub.function)

    def _on_error(self, message: str) -> None:
        self.errors.append(message)
        self.stop.set()

    def _start(self) -> None:
        res = self.resources
        assert res is not None
        common = dict(clients=self.clients, ledger=self.ledger, timing=self.options.timing, stop=self.stop,
                      on_error=self._on_error)
        self.stream_poller = StreamPoller(config=self.config, res=res, function=self.functions["__producer__"], **common)
        self._pollers = [self.stream_poller]
        for sub in self.config.subscribers:
            for index in range(max(1, self.options.pollers_per_queue)):
                self._pollers.append(
                    QueuePoller(sub_res=res.subscribers[sub.name], function=self.functions[f"{sub.name}#{index}"],
                                invocation_log=self.invocation_logs[f"{sub.name}#{index}"],
                                duplicate_share=self.options.duplicates, index=index, **common)
                )
        for poller in self._pollers:
            poller.start()

        def writer() -> None:
            try:
                write(self.options.workload, res.table_name, self.clients.dynamodb, self.ledger, self.stop)
            except Exception as error:
                self._on_error(f"writer failed: {type(error).__name__}: {error}")
            finally:
                self.ledger.writer_done_at = time.monotonic()

        self._writer = threading.Thread(target=writer, name="workload-writer", daemon=True)
        self._writer.start()

    # --- waiting for the pipeline to drain -----------------------------------------------------
    def _queues_empty(self) -> bool:
        assert self.resources is not None
        for sr in self.resources.subscribers.values():
            attrs = self.clients.sqs.get_queue_attributes(
                QueueUrl=sr.queue_url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                                "ApproximateNumberOfMessagesDelayed"],
            )["Attributes"]
            if any(int(v) for v in attrs.values()):
                return False
        return True

    def _quiescent(self) -> bool:
        done_at = self.ledger.writer_done_at
        if done_at is None or self.stream_poller.busy or self.stream_poller.last_empty_read <= done_at:
            return False
        if any(p.busy for p in self._pollers[1:]):
            return False
        return self._queues_empty()

    def _wait(self, started: float) -> bool:
        calm = 0
        next_progress = 0.0
        while not self.stop.is_set():
            now = time.monotonic()
            if now >= next_progress:
                self._progress(self._progress_line(now - started))
                next_progress = now + 1.0
            if now - started > self.options.timeout_s:
                self._progress(f"timeout after {self.options.timeout_s:.0f} s: stopping with work still in flight")
                return True
            calm = calm + 1 if self._quiescent() else 0
            if calm >= 2:
                self._progress(self._progress_line(time.monotonic() - started) + "  (drained)")
                return False
            self.stop.wait(0.5 if calm == 0 else 0.2)
        return False

    def _progress(self, line: str) -> None:
        if self.options.progress is not None:
            print(f"[local] {line}", file=self.options.progress, flush=True)

    def _progress_line(self, elapsed: float) -> str:
        led = self.ledger
        with led.lock:
            processed = sum(len(t.processed) for t in led.subs.values())
            rejected = sum(t.rejected for t in led.subs.values())
            written, in_stream = len(led.write_order), len(led.stream)
        total = self.options.workload.changes
        return (f"{elapsed:5.1f}s written {written}/{total}  stream {in_stream}  producer calls {led.producer_invocations}"
                f"  processed {processed}  rejected attempts {rejected}  published {self._published()}")

    # --- results -------------------------------------------------------------------------------
    def _published(self) -> int | None:
        """Messages the topic accepted, read from the emulator's own record (same process)."""
        try:
            from moto.sns.models import sns_backends

            topic = sns_backends[ACCOUNT_ID][self.config.region].topics[self.resources.topic_arn]
            return len(topic.sent_notifications)
        except Exception:
            return None

    def _drain(self, url: str) -> list[dict]:
        messages: list[dict] = []
        while True:
            got = self.clients.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=300, WaitTimeSeconds=0,
                AttributeNames=["All"], MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not got:
                return messages
            messages += got

    def _collect(self) -> tuple[dict[str, list[dict]], list[dict], dict[str, list[dict]]]:
        res = self.resources
        assert res is not None
        dead: dict[str, list[dict]] = {}
        delivery_dead: dict[str, list[dict]] = {}
        for name, sr in res.subscribers.items():
            dead[name] = self._drain(sr.dlq_url)
            tally = self.ledger.subs[name]
            for message in dead[name]:
                event_id = pipeline_message.event_id_of_body(message["Body"])
                tally.dead_letters[event_id or message["MessageId"]] = message
            # What SNS could not deliver to the queue: the published message (a raw body), in the delivery DLQ.
            delivery_dead[name] = self._drain(sr.delivery_dlq_url)
            for message in delivery_dead[name]:
                event_id = pipeline_message.event_id_of_body(message["Body"])
                tally.delivery_dead_letters[event_id or message["MessageId"]] = message
            tally.delivery_failed = DELIVERY_FAILURES.get(sr.subscription_arn, 0)
        failures = self._failure_objects() if res.failure_bucket else self._drain(res.failure_queue_url)
        for message in failures:
            info = parse_batch_info(message["Body"])
            for seq in range(int(info["startSequenceNumber"]), int(info["endSequenceNumber"]) + 1):
                event_id = self.ledger.sequence.get(seq)
                if event_id:
                    self.ledger.stream_failures[event_id] = info
        return dead, failures, delivery_dead

    def _failure_objects(self) -> list[dict]:
        """The failed batches still in the failure bucket, as {"Key", "Body"} (the replay deletes those it replayed)."""
        s3, bucket = self.clients.s3, self.resources.failure_bucket
        objects = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=FAILURE_OBJECT_PREFIX):
            for item in page.get("Contents") or []:
                body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode()
                objects.append({"Key": item["Key"], "Body": body})
        return objects

    def trim_stream(self) -> int:
        """Simulate the stream's 24 h retention passing: every record written so far is trimmed from the stream
        (in the emulator), as DynamoDB Streams does after 24 hours. Returns how many were trimmed."""
        from .emulator import trim_stream

        return trim_stream(self.config.region, self.resources.table_name)

    def _expected(self) -> dict[str, set[Identity] | None]:
        """Changes each subscriber should receive: all, unless its filter policy rejects them.

        A change is filtered out for a subscriber only if it was published and SNS's filter semantics
        (local_pipeline.sns_filter, the emulator's matcher) reject every publication of it for that subscription.
        A change that was never published stays expected everywhere (so it counts as lost).
        """
        expected: dict[str, set[Identity] | None] = {}
        filtered = [s for s in self.config.subscribers if s.filter_policy]
        if not filtered:
            return {s.name: None for s in self.config.subscribers}
        from moto.sns.models import sns_backends

        from .sns_filter import matches

        topic = sns_backends[ACCOUNT_ID][self.config.region].topics[self.resources.topic_arn]
        notes = list(topic.sent_notifications)
        for sub in self.config.subscribers:
            if not sub.filter_policy:
                expected[sub.name] = None
                continue
            matched: dict[Identity, bool] = {}
            for _mid, message, _subject, attributes, _group in notes:
                ident = self.ledger.identity(pipeline_message.event_id_of_body(message))
                if ident is not None:
                    matched[ident] = matched.get(ident, False) or matches(
                        sub.filter_policy, sub.filter_policy_scope, attributes, message)
            expected[sub.name] = {i for i in self.ledger.write_order if matched.get(i, True)}
        return expected

    def _summary(self, elapsed: float) -> dict:
        summary = self.ledger.summary(self._published() or 0, elapsed, self._expected())
        summary["environment"] = self.config.environment
        summary["fast"] = self.options.timing.fast
        summary["function_timeouts"] = sum(f.timeouts for f in self.functions.values())
        return summary
