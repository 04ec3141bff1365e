"""The invocation deadline, as both handlers read it (carried by every function zip, like pipeline_message.py)."""

from __future__ import annotations

from typing import Any


class DeadlineReached(Exception):
    """Raised instead of starting work (a message, a request or a retry attempt) that could outlive the function."""


def remaining_ms(context: Any) -> int | None:
    """Milliseconds left in the invocation, or None when unknown (no context, or a context without the method)."""
    get = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(get):
        return None
    try:
        return int(get())
    except Exception:  # a broken context must not break the handler
        return None
