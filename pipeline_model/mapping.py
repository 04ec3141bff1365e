"""What the event source mappings are told beyond batching and retries, computed once from the
configuration: the stream mapping's event filter, the metrics setting, the SQS mapping's maximum
concurrency. Pure, so that the constructs (which write them into the synthesized mappings) and the
local run (which must filter the stream exactly as Lambda does) read the same answers.

AWS's ranges (Lambda API reference, CreateEventSourceMapping and its types):

* ``ScalingConfig.MaximumConcurrency``: 2-1,000 (SQS event sources only).
* ``EventSourceMappingMetricsConfig.Metrics``: ``EventCount`` (the other values, ``ErrorCount`` and
  ``KafkaMetrics``, are for Kafka sources only).
* ``FilterCriteria.Filters[].Pattern``: a string of at most 4,096 characters; the filter rule syntax is
  Lambda event filtering's (a record matches a pattern ``{"eventName": ["INSERT", "MODIFY"]}`` when its
  ``eventName`` is one of the values).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal

#: The change types a DynamoDB stream record carries (its ``eventName``).
EventName = Literal["INSERT", "MODIFY", "REMOVE"]
EVENT_NAMES: Final = ("INSERT", "MODIFY", "REMOVE")

#: ScalingConfig.MaximumConcurrency's valid range (Lambda API reference, ScalingConfig).
MAXIMUM_CONCURRENCY_MIN: Final = 2
MAXIMUM_CONCURRENCY_MAX: Final = 1000

#: The one metric an event source mapping can be asked for (EventSourceMappingMetricsConfig.Metrics).
EVENT_COUNT_METRIC: Final = "EventCount"

#: The longest filter pattern Lambda accepts (Filter.Pattern, Lambda API reference).
FILTER_PATTERN_MAX_CHARS: Final = 4096


def stream_filter_pattern(event_names: Iterable[str] | None) -> str | None:
    """The stream mapping's filter pattern (JSON text) for ``event_names``, or None when every change
    passes (no filter: ``None``, or all three change types)."""
    if event_names is None:
        return None
    wanted = [name for name in EVENT_NAMES if name in set(event_names)]  # stable order: the stack's JSON
    if len(wanted) == len(EVENT_NAMES):
        return None
    return json.dumps({"eventName": wanted}, separators=(",", ":"))


def stream_record_passes(event_names: Iterable[str] | None, record: Mapping[str, Any]) -> bool:
    """Whether Lambda hands ``record`` (a DynamoDB stream record as Lambda delivers it) to the producer
    under the filter of ``event_names``: what the pattern of :func:`stream_filter_pattern` matches."""
    pattern = stream_filter_pattern(event_names)
    if pattern is None:
        return True
    return record.get("eventName") in json.loads(pattern)["eventName"]


def metrics(enabled: bool) -> list[str] | None:
    """The mapping's ``metrics_config.metrics``, or None (not set) when metrics are off."""
    return [EVENT_COUNT_METRIC] if enabled else None
