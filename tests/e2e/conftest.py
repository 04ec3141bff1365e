"""End-to-end tests of `make local`: the real handlers on the embedded emulator (moto server).

Each scenario runs the local pipeline once (module-scoped fixtures) and several tests read its
result. Timing comes from local_pipeline's fast defaults (1 s visibility timeout); small
workloads and a low max_receive_count keep the whole suite well under a minute.
"""

from __future__ import annotations

import os
import threading

import pytest

from pipeline_model.config import build_config
from local_pipeline import LocalPipeline, Options


def run_pipeline(config=None, **options):
    """Run once in-process; check that nothing is left behind (threads, environment)."""
    threads_before = set(threading.enumerate())
    environ_before = dict(os.environ)
    pipeline = LocalPipeline(config or build_config(), Options(**options))
    result = pipeline.run()
    assert dict(os.environ) == environ_before, "the run must restore os.environ"
    left = [t.name for t in threading.enumerate() if t not in threads_before and t.is_alive()]
    assert not left and not result.leftover_threads, f"threads left behind: {left or result.leftover_threads}"
    return pipeline, result


@pytest.fixture(scope="module")
def run():
    return run_pipeline

