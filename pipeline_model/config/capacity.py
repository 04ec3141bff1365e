"""The optional ``[capacity]`` section: the peak a pipeline must carry.

Nothing in the stack reads it; :mod:`pipeline_model.capacity` turns it into per-pipeline and per-subscriber
figures against AWS's quotas (``make capacity``, and ``make synth`` prints them when the section is set).
See docs/capacity.md.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

#: DynamoDB's largest item, 400 KB (DynamoDB Developer Guide, "Constraints in Amazon DynamoDB": item size).
MAX_ITEM_SIZE_KIB = 400
#: Lambda's longest invocation, 900 s (Lambda quotas: function timeout); a message cannot take longer.
MAX_MESSAGE_MS = 900_000


class CapacityConfig(BaseModel):
    """The peak one environment must carry (see docs/capacity.md); a config that cannot carry it is a warning, or an error with strict = true."""

    # The same settings as schema._Model (strict, frozen, no unknown fields, docstrings as descriptions);
    # a base of its own because schema.py imports this module.
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, strict=True,
                              use_attribute_docstrings=True)

    peak_writes_per_second: Annotated[float, Field(gt=0, le=10_000_000, allow_inf_nan=False)]
    """Peak changes per second written to the table (puts, updates and deletes: each is one stream record and one message)."""
    item_size_kib: Annotated[float, Field(gt=0, le=MAX_ITEM_SIZE_KIB, allow_inf_nan=False)] = 1
    """Item size at the 99th percentile, in KiB (DynamoDB's maximum is 400)."""
    consumer_ms_per_message: Annotated[float, Field(gt=0, le=MAX_MESSAGE_MS, allow_inf_nan=False)] = 50
    """Milliseconds a consumer spends on one message (default 50: the budget of the consumer's deadline rule)."""
    strict: bool = False
    """true: a configuration that cannot carry its peak is an error (synth stops) instead of a warning."""
