"""The embedded AWS emulator: moto in server mode on 127.0.0.1, on a free port, in this process."""

from __future__ import annotations

import datetime
import logging
import socket
import threading
import time
import urllib.request

from moto.moto_server import threaded_moto_server as _tms
from moto.server import ThreadedMotoServer

from .safety import require_loopback

#: Seconds an idle keep-alive connection is kept open by the emulator. Without a limit every
#: client connection pins one server thread until the client is garbage-collected.
IDLE_CONNECTION_SECONDS = 2.0

#: moto's default account (ARNs are built with it).
ACCOUNT_ID = "123456789012"


class _RequestHandler(_tms.MotoRequestHandler):
    timeout = IDLE_CONNECTION_SECONDS

    def setup(self) -> None:
        # werkzeug writes headers and body separately: without TCP_NODELAY, Nagle + delayed
        # ACKs add ~40 ms to every response (10x the emulator's own work per request).
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().setup()

    def log_message(self, format, *args):  # noqa: A002 - stdlib signature
        pass


_EPOCH = datetime.datetime(1970, 1, 1)


#: A per-thread instant the clock below returns while set (see :func:`atomic_fifo_receives`).
_frozen = threading.local()


def _unix_time(dt: datetime.datetime | None = None) -> float:
    """moto.core.utils.unix_time without building two datetimes per call (same result)."""
    if dt is None:
        frozen = getattr(_frozen, "now", None)
        return time.time() if frozen is None else frozen
    return (dt - _EPOCH).total_seconds()


def _unix_time_millis(dt: datetime.datetime | None = None) -> float:
    return _unix_time(dt) * 1000.0


#: Modules that imported moto's clock helpers by name. moto's SQS checks every message's
#: visibility with them on every call (O(queue length)), and they cost ~25 us each: with a
#: backlog of a few hundred messages that made each SQS call take 100+ ms of CPU.
_CLOCK_MODULES = ("moto.core.utils", "moto.sqs.models", "moto.sns.models", "moto.dynamodb.models",
                  "moto.dynamodb.models.table")


def _speedups() -> list[tuple[object, str, object]]:
    """Same-result replacements for moto helpers that dominate its CPU time here.

    * the clock helpers above;
    * the per-message RSA key of SNS signatures (:func:`reuse_sns_signing_key`);
    * SNS filter policies matched as SNS documents them (:func:`sns_filter_semantics`);
    * ``moto.backends.list_of_moto_modules``, which lists moto's package directory (about
      90 ``stat`` calls) on every request to find the backend: cached, the directory does
      not change while the process runs.

    Returned as (module, attribute, original) so :meth:`Emulator.stop` can undo them.
    """
    import importlib

    from moto import backends

    saved = []
    for name in _CLOCK_MODULES:
        module = importlib.import_module(name)
        for attr, fast in (("unix_time", _unix_time), ("unix_time_millis", _unix_time_millis)):
            if hasattr(module, attr):
                saved.append((module, attr, getattr(module, attr)))
                setattr(module, attr, fast)
    modules = tuple(backends.list_of_moto_modules())
    saved.append((backends, "list_of_moto_modules", backends.list_of_moto_modules))
    backends.list_of_moto_modules = lambda: modules
    saved.append(reuse_sns_signing_key())
    saved.append(fifo_groups_in_flight())
    saved.append(atomic_fifo_receives())
    saved.append(sns_delivery_size_limit())
    saved.append(sns_filter_semantics())
    return saved


#: SNS -> SQS deliveries the emulator refused as SNS does (too large for the queue), per subscription ARN.
DELIVERY_FAILURES: dict[str, int] = {}


def sns_envelope_text(post_data: dict) -> str:
    """The envelope as SNS writes it to a queue: one member a line, ``"Name" : value``, non-ASCII as UTF-8
    (moto writes ASCII escapes and other spacing)."""
    import json

    return json.dumps(post_data, ensure_ascii=False, indent=2, separators=(",", " : "))


def sns_delivery_size_limit() -> tuple:
    """What moto 5.2.5 lacks: SNS refuses to deliver a message larger than the queue's MaximumMessageSize (the
    envelope, or with raw delivery the body + message attributes, in UTF-8 bytes). The delivery fails
    (:data:`DELIVERY_FAILURES`, SNS's NumberOfNotificationsFailed) and the message goes to the subscription's
    redrive-policy DLQ when it has one and the message fits there; the publish itself succeeds, as with SNS.
    Returns (class, attribute, original)."""
    import json

    from moto.sns.models import Subscription
    from moto.sqs import sqs_backends

    original = Subscription.__dict__["publish"]

    def publish(self, message, message_id, subject=None, message_attributes=None, group_id=None,
                deduplication_id=None, message_structure=None):
        if self.protocol != "sqs" or message_structure == "json" or (
                self._filter_policy_matcher is not None
                and not self._filter_policy_matcher.matches(message_attributes, message)):
            return original(self, message, message_id, subject, message_attributes, group_id, deduplication_id,
                            message_structure)
        region, queue_name = self.endpoint.split(":")[3], self.endpoint.split(":")[-1]
        backend = sqs_backends[self.account_id][region]
        attributes = message_attributes or {}
        raw_bytes = len(message.encode("utf-8")) + sum(
            len(n.encode("utf-8")) + len(a["Type"]) + len(str(a["Value"]).encode("utf-8")) for n, a in attributes.items())
        if str(self.attributes.get("RawMessageDelivery")).lower() == "true":
            size = raw_bytes
        else:
            size = len(sns_envelope_text(self.get_post_data(message, message_id, subject, attributes)).encode("utf-8"))
        if size <= int(backend.get_queue(queue_name).maximum_message_size):
            return original(self, message, message_id, subject, message_attributes, group_id, deduplication_id,
                            message_structure)
        DELIVERY_FAILURES[self.arn] = DELIVERY_FAILURES.get(self.arn, 0) + 1
        redrive = json.loads(self.attributes.get("RedrivePolicy") or "{}").get("deadLetterTargetArn")
        if redrive:
            dlq_name = redrive.split(":")[-1]
            if raw_bytes <= int(backend.get_queue(dlq_name).maximum_message_size):
                backend.send_message(
                    dlq_name, message,
                    message_attributes={n: {"DataType": a["Type"], "StringValue": str(a["Value"])}
                                        for n, a in attributes.items()},
                    deduplication_id=deduplication_id, group_id=group_id, validate_group_id=False)
        return None

    Subscription.publish = publish  # type: ignore[method-assign]
    return (Subscription, "publish", original)


def sns_filter_semantics() -> tuple:
    """Fix for moto 5.2.5's SNS filter policies: subscriptions match messages by SNS's documented semantics
    (:mod:`local_pipeline.sns_filter` lists where moto's differ). Returns (class, attribute, original)."""
    from moto.sns.utils import FilterPolicyMatcher

    from .sns_filter import matches

    original = FilterPolicyMatcher.__dict__["matches"]

    def sns_matches(self, message_attributes, message):
        return matches(self.filter_policy, self.filter_policy_scope, message_attributes, message)

    FilterPolicyMatcher.matches = sns_matches  # type: ignore[method-assign]
    return (FilterPolicyMatcher, "matches", original)


def fifo_groups_in_flight() -> tuple:
    """Fix for moto 5.2.5's FIFO queues: a message group is blocked only by a message of it that is in flight
    (received, not yet deleted, visibility timeout not yet over), as in SQS.

    moto blocks a group while any message of it is in the queue's ``pending_messages`` set, and takes a message
    out of that set only when a ReceiveMessage walks past it visible again. Two ways that breaks the order:

    * a failed batch ``A, B`` of one group (both reported, both visible again): the next receive takes ``A`` out
      of the set, still finds ``B`` in it, skips ``A``, then takes ``B`` out and delivers ``B`` before ``A``;
    * a ReceiveMessage racing with the DeleteMessage of the same message (a redelivery after the visibility
      timeout while the first receiver deletes it) can leave the deleted message in the set for good, and its
      group never delivers again (the item's later changes look lost).

    Returns (class, attribute, original)."""
    from moto.sqs.models import Queue

    original = Queue.__dict__["pending_message_groups"]

    def pending_message_groups(self) -> set[str]:
        present = {id(message) for message in self._messages}
        return {
            m.group_id for m in list(self._pending_messages)
            if m.group_id is not None and id(m) in present and not m.visible
        }

    Queue.pending_message_groups = property(pending_message_groups)  # type: ignore[method-assign,assignment]
    return (Queue, "pending_message_groups", original)


def atomic_fifo_receives() -> tuple:
    """Fix for moto 5.2.5's FIFO queues: one ReceiveMessage at a time per FIFO queue, as SQS does it.

    moto's receive reads which groups are in flight once, then hands out messages, without a lock: two pollers
    receiving at the same moment can both take a message of the same group (``A`` to one, ``B`` to the other),
    and ``B`` may then be processed before ``A``. And it reads the clock for every message, so a message whose
    visibility timeout ends during the walk counts as in flight when its group is checked early and as visible
    when a later message of the group is checked: the later one goes out first. Here the receive of a FIFO queue
    runs under the queue's lock, at one frozen instant (the clock above, per thread), and does its long-poll wait
    outside the lock (short sleeps), so other pollers and deletes are not held up.
    Returns (class, attribute, original)."""
    from moto.sqs.models import SQSBackend

    original = SQSBackend.__dict__["receive_message"]
    locks: dict[str, threading.Lock] = {}
    guard = threading.Lock()

    def receive_message(self, queue_name, count, wait_seconds_timeout, visibility_timeout, message_attribute_names=None):
        if not self.get_queue(queue_name).fifo_queue:
            return original(self, queue_name, count, wait_seconds_timeout, visibility_timeout, message_attribute_names)
        with guard:
            lock = locks.setdefault(f"{self.account_id}/{self.region_name}/{queue_name}", threading.Lock())
        deadline = time.monotonic() + (wait_seconds_timeout or 0)
        while True:
            with lock:
                _frozen.now = time.time()
                try:
                    result = original(self, queue_name, count, 0, visibility_timeout, message_attribute_names)
                finally:
                    _frozen.now = None
            if result or time.monotonic() >= deadline:
                return result
            time.sleep(0.05)

    SQSBackend.receive_message = receive_message  # type: ignore[method-assign]
    return (SQSBackend, "receive_message", original)


def reuse_sns_signing_key() -> tuple:
    """moto's SNS makes a new 2048-bit RSA key to sign every enveloped delivery (~50-100 ms of
    CPU each); one key per process signs just as well. Returns (class, attribute, original)."""
    from moto.sns.models import Subscription

    original = Subscription.private_key
    key = original(None)  # type: ignore[arg-type]
    Subscription.private_key = lambda self: key  # type: ignore[method-assign]
    return (Subscription, "private_key", original)


class _Server(ThreadedMotoServer):
    """ThreadedMotoServer whose connections time out when idle (so shutdown leaves no thread)."""

    def _server_entry(self) -> None:
        app = _tms.DomainDispatcherApplication(_tms.create_backend_app)
        self._server = _tms.make_server(self._ip_address, self._port, app, True, request_handler=_RequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever(poll_interval=0.1)


class Emulator:
    """Start with :meth:`start`, stop with :meth:`stop` (idempotent; also use as a context manager)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        require_loopback(host, "emulator address")
        self.host = host
        self.url = ""
        self._server: _Server | None = None
        self._threads_before: set[threading.Thread] = set()
        self._saved_clock: list = []

    def start(self) -> "Emulator":
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._threads_before = set(threading.enumerate())
        self._saved_clock = _speedups()
        self._server = _Server(ip_address=self.host, port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = require_loopback(f"http://{host}:{port}", "emulator endpoint")
        # moto keeps its state in this process: start from empty (earlier runs, other tests).
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
        return self

    def stop(self, wait_seconds: float = IDLE_CONNECTION_SECONDS + 3) -> list[str]:
        """Stop the server and wait for its threads; return the names of threads still alive."""
        server, self._server = self._server, None
        if server is None:
            return []
        try:
            server.stop()
        finally:
            if server._server is not None:
                server._server.server_close()
            for module, attr, original in reversed(self._saved_clock):
                setattr(module, attr, original)
            self._saved_clock = []
        deadline = time.monotonic() + wait_seconds
        while True:
            left = [t for t in threading.enumerate() if t not in self._threads_before and t is not threading.current_thread() and t.is_alive()]
            if not left or time.monotonic() > deadline:
                return [t.name for t in left]
            time.sleep(0.05)

    def __enter__(self) -> "Emulator":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def trim_stream(region: str, table_name: str) -> int:
    """Trim every record from the emulated table's stream, as DynamoDB Streams does once they are 24 h old (the
    emulator keeps them for ever). Sequence numbers of later records continue where they were. Returns how many
    records were trimmed."""
    from moto.dynamodb.models import dynamodb_backends

    shard = dynamodb_backends[ACCOUNT_ID][region].get_table(table_name).stream_shard
    trimmed = len(shard.items)
    shard.starting_sequence_number += trimmed
    shard.items = []
    return trimmed
