"""Load the real Lambda handlers in this process and invoke them the way Lambda does.

Every function is loaded with :func:`pipeline_model.lambda_runtime.load_handler`, under its own
environment: its own module (they are all called ``app``) and its own copies of the modules
it imports from its folder and the shared code (the consumer's ``business``,
``pipeline_message``), so two functions never share them and every run starts from a fresh
import (module-level clients created for this run's emulator and settings).

Lambda gives each function its own environment variables; in one process they share
``os.environ``. :class:`EnvironmentGate` lets invocations of one function run concurrently
and switches the variables between functions only when none is running (first come, first
served, so no function starves).
"""

from __future__ import annotations

import contextlib
import io
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator

from pipeline_model.packaging import code_folder
from pipeline_model.lambda_runtime import FUNCTIONS_DIR, LambdaContext, load_handler

from .safety import check_client


class EnvironmentGate:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._owner: str | None = None
        self._active = 0
        self._queue: list[tuple[object, str]] = []

    @contextlib.contextmanager
    def use(self, key: str, env: dict[str, str]) -> Iterator[None]:
        ticket = object()
        with self._cond:
            self._queue.append((ticket, key))
            while True:
                position = next(i for i, (t, _) in enumerate(self._queue) if t is ticket)
                ahead_same = all(k == key for _, k in self._queue[:position])
                if ahead_same and (self._active == 0 or self._owner == key):
                    break
                self._cond.wait()
            self._queue.pop(position)
            if self._owner != key:
                os.environ.update(env)
                self._owner = key
            self._active += 1
            self._cond.notify_all()
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify_all()


@dataclass
class LambdaFunction:
    name: str
    code: str
    arn: str
    environment: dict[str, str]
    timeout_s: int
    memory_mb: int
    gate: EnvironmentGate
    log_stream: Any = None  # where the function's stdout (Powertools logs) goes
    functions_dir: Path = FUNCTIONS_DIR
    #: The context's deadline is timeout_s x this (see local_pipeline.timing); ``timeouts`` counts invocations
    #: that ran longer than the configured timeout itself.
    deadline_scale: float = 1.0
    module: ModuleType | None = None
    modules: dict[str, ModuleType] = field(default_factory=dict)  # e.g. {"business": <module>}
    invocations: int = 0
    _busy: threading.Lock = field(default_factory=threading.Lock, repr=False)
    errors: int = 0
    timeouts: int = 0

    @property
    def folder(self) -> Path:
        # The configured code: a shipped handler's name or a folder path (as synth resolves it).
        return code_folder(self.code) if self.functions_dir == FUNCTIONS_DIR else Path(self.functions_dir) / self.code

    @property
    def env_key(self) -> str:
        return self.name

    def load(self) -> "LambdaFunction":
        stream = self.log_stream if self.log_stream is not None else io.StringIO()
        with self.gate.use(self.env_key, self.full_environment()):
            loaded = load_handler(self.folder, stdout=stream)
        self.module, self.modules = loaded.module, loaded.modules
        self.check_clients()
        return self

    def new_context(self) -> LambdaContext:
        """The context of one invocation: its deadline is the timeout x ``deadline_scale``."""
        return LambdaContext(
            function_name=self.name,
            timeout_s=self.timeout_s * self.deadline_scale,
            memory_limit_in_mb=self.memory_mb,
            invoked_function_arn=self.arn,
        )

    def check_clients(self) -> None:
        """Refuse any boto3 client the function holds at module level that is not on loopback."""
        for mod in [self.module, *self.modules.values()]:
            for attr, value in list(vars(mod).items()):
                meta = getattr(value, "meta", None)
                if meta is not None and hasattr(meta, "endpoint_url") and hasattr(meta, "service_model"):
                    check_client(value, f"{self.name}: {attr}")

    def full_environment(self) -> dict[str, str]:
        return {
            "AWS_LAMBDA_FUNCTION_NAME": self.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.name}",
            **self.environment,
        }

    def invoke(self, event: dict) -> Any:
        """Call the handler like Lambda would; exceptions propagate (a function error)."""
        assert self.module is not None, "load() first"
        # One instance = one Lambda execution environment: one invocation at a time.
        with self._busy, self.gate.use(self.env_key, self.full_environment()):
            context = self.new_context()
            started = time.monotonic()
            self.invocations += 1
            try:
                return self.module.handler(event, context)
            except BaseException:
                self.errors += 1
                raise
            finally:
                if time.monotonic() - started > self.timeout_s:
                    self.timeouts += 1
