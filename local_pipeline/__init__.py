"""Run the pipeline end to end on an embedded AWS emulator (moto server), offline.

``make local ARGS="--items 500 --poison 5 --json"`` or, in Python::

    from pipeline_model.config import build_config
    from local_pipeline import LocalPipeline, Options, Workload

    result = LocalPipeline(build_config(), Options(workload=Workload(items=100, poison=3))).run()
    assert result.ok, result.summary
"""

from .runner import ConsumerOutage, LocalPipeline, Options, PoisonMessage, Result, exit_status
from .timing import Timing
from .workload import Workload

__all__ = ["ConsumerOutage", "LocalPipeline", "Options", "PoisonMessage", "Result", "Timing", "Workload", "exit_status"]
