"""Each local function imports its own folder's modules, whatever else the process imported."""

from __future__ import annotations

import sys
import types

from local_pipeline.functions import FUNCTIONS_DIR, EnvironmentGate, LambdaFunction


def test_a_foreign_module_of_the_same_name_does_not_shadow_the_functions_own(monkeypatch):
    foreign = types.ModuleType("business")
    foreign.process = lambda message: None
    monkeypatch.setitem(sys.modules, "business", foreign)
    function = LambdaFunction(
        name="consumer-under-test", code="consumer", arn="arn:aws:lambda:us-east-1:123456789012:function:c",
        environment={}, timeout_s=3, memory_mb=128, gate=EnvironmentGate(),
    ).load()
    own = function.modules["business"]
    assert own is not foreign
    assert own.__file__ == str(FUNCTIONS_DIR / "consumer" / "business.py")
    assert function.module.business is own
    assert sys.modules["business"] is foreign  # put back for whoever imported it


def test_the_invocation_deadline_is_scaled_only_in_fast_mode():
    """The emulator is far slower than AWS: fast runs give an invocation 10x its timeout before the deadline, so the
    consumer's deadline margin does not stop batches AWS would finish; --no-fast keeps the configured timeout."""
    from local_pipeline.timing import Timing

    for timing, expected_ms in ((Timing(), 30_000), (Timing(fast=False), 3_000)):
        function = LambdaFunction(
            name="f", code="consumer", arn="arn", environment={}, timeout_s=3, memory_mb=128,
            gate=EnvironmentGate(), deadline_scale=timing.deadline_scale,
        )
        left = function.new_context().get_remaining_time_in_millis()
        assert expected_ms - 100 < left <= expected_ms


def test_code_is_a_shipped_handler_or_a_folder_relative_to_the_working_directory(tmp_path, monkeypatch):
    """The local run resolves a function's code as synth does: a subscriber whose code lives in the
    app's folder ("./handlers/audit") loads from there, not from the package's handlers."""
    import shutil

    mine = tmp_path / "handlers" / "audit"
    shutil.copytree(FUNCTIONS_DIR / "consumer", mine)
    monkeypatch.chdir(tmp_path)

    def function(code):
        return LambdaFunction(name="c", code=code, arn="arn:aws:lambda:us-east-1:123456789012:function:c",
                              environment={}, timeout_s=3, memory_mb=128, gate=EnvironmentGate())

    assert function("consumer").folder == FUNCTIONS_DIR / "consumer"
    assert function("./handlers/audit").folder == mine
    assert function(str(mine)).folder == mine
    loaded = function("./handlers/audit").load()
    assert loaded.modules["business"].__file__ == str(mine / "business.py")
