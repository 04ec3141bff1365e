"""Run the pipeline end to end on an embedded AWS emulator (moto server), offline.

``make local ARGS="--items 500 --poison 5 --json"`` or, in Python::

    from pipeline_model.config import build_config
    from local_pipeline import LocalPipeline, Options, Workload

    result = LocalPipeline(build_config(), Options(workload=Workload(items=100, poison=3))).run()
    assert result.ok, result.summary
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .runner import ConsumerOutage, LocalPipeline, Options, PoisonMessage, Result, exit_status
    from .timing import Timing
    from .workload import Workload

__all__ = ["ConsumerOutage", "LocalPipeline", "Options", "PoisonMessage", "Result", "Timing", "Workload", "exit_status"]

#: Where each public name lives. Loaded on first use, so ``local_pipeline.offline`` (the offline AWS settings the
#: handler tests and the bench use) does not start by importing the emulator.
_HOME = {"ConsumerOutage": "runner", "LocalPipeline": "runner", "Options": "runner", "PoisonMessage": "runner",
         "Result": "runner", "exit_status": "runner", "Timing": "timing", "Workload": "workload"}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
    globals()[name] = value
    return value
