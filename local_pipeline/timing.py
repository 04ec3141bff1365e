"""Timing values of a local run.

With ``fast`` (the default) the waits that only exist to pace real AWS are shortened so a
run of a few hundred items takes seconds; every name, count and structural setting still
comes from the configuration. Exactly these values change:

* SQS visibility timeout of each subscriber queue: ``fast_visibility_timeout_s`` (1 s)
  instead of ``subscribers[].visibility_timeout_seconds`` (30 s by default), so a rejected
  message is retried after 1 s and reaches its DLQ after ``max_receive_count`` seconds.
* Retry back-off of the stream poller: 20 ms doubling up to 0.5 s (Lambda: ~1 s up to 1 min).
* Polling: SQS long polls of 1 s, stream reads every 100 ms while the stream is idle
  (Lambda: 4 times a second per shard).
* Function deadline: an invocation's ``get_remaining_time_in_millis()`` counts down from
  ``deadline_scale`` (10) x the configured timeout. The emulator answers in tens of
  milliseconds where AWS answers in a few, and it shares this process's CPU with the
  handlers, so at 1x the consumer's deadline margin (README "Consumer deadline") would stop
  batches that AWS finishes easily, and every stopped message costs a receive. The handlers'
  deadline logic is tested against the real numbers in ``tests/handlers/``.

``--no-fast`` uses the configured visibility timeouts and Lambda-like back-off.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline_model.config import SubscriberConfig


@dataclass(frozen=True)
class Timing:
    fast: bool = True
    fast_visibility_timeout_s: int = 1
    visibility_override_s: int | None = None
    stream_idle_poll_s: float = 0.1
    sqs_wait_s: int = 1
    fast_deadline_scale: float = 10.0

    @property
    def deadline_scale(self) -> float:
        """Factor on the configured function timeout for the invocation deadline (1 with ``--no-fast``)."""
        return self.fast_deadline_scale if self.fast else 1.0

    def visibility_timeout(self, sub: SubscriberConfig) -> int:
        if self.visibility_override_s is not None:
            return self.visibility_override_s
        return self.fast_visibility_timeout_s if self.fast else sub.visibility_timeout_seconds

    def retry_backoff(self, attempt: int) -> float:
        base, cap = (0.02, 0.5) if self.fast else (1.0, 60.0)
        return min(cap, base * (2 ** max(0, attempt - 1)))
