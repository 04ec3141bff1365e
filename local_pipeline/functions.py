"""Load the real Lambda handlers in this process and invoke them the way Lambda does.

Every function's ``app.py`` is imported under its own module name (they are all called
``app``), with its folder on ``sys.path`` only while it is imported. Modules the import
brings in from that folder (the consumer's ``business``) are kept with the function and
taken out of ``sys.modules`` again, so two functions never share them and every run starts
from a fresh import (fresh clients bound to this run's emulator).

Lambda gives each function its own environment variables; in one process they share
``os.environ``. :class:`EnvironmentGate` lets invocations of one function run concurrently
and switches the variables between functions only when none is running (first come, first
served, so no function starves).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator

from .safety import check_client

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = PROJECT_ROOT / "functions"

_load_lock = threading.Lock()


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


class LambdaContext:
    """The attributes and method of the Lambda context object that handlers and Powertools use."""

    def __init__(self, function: "LambdaFunction") -> None:
        self.function_name = function.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = function.arn
        self.memory_limit_in_mb = function.memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function.name}"
        self.log_stream_name = f"local/{self.aws_request_id}"
        self._deadline = time.monotonic() + function.timeout_s * function.deadline_scale

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


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
        return Path(self.functions_dir) / self.code

    @property
    def env_key(self) -> str:
        return self.name

    def load(self) -> "LambdaFunction":
        path = self.folder / "app.py"
        if not path.is_file():
            raise FileNotFoundError(f"{self.name}: handler file {path} not found")
        module_name = f"_local_pipeline_{self.name.replace('-', '_')}_app"
        folder = str(self.folder)
        with _load_lock, self.gate.use(self.env_key, self.full_environment()), self._stdout():
            # A module of the same name imported elsewhere (say a test's own `business`) must not
            # stand in for this folder's: set such entries aside while the function imports.
            local_names = {p.stem for p in self.folder.glob("*.py")} | {
                p.parent.name for p in self.folder.glob("*/__init__.py")
            }
            shadowing = {name: sys.modules.pop(name) for name in local_names if name in sys.modules}
            before = set(sys.modules)
            sys.path.insert(0, folder)
            try:
                spec = importlib.util.spec_from_file_location(module_name, path)
                assert spec is not None and spec.loader is not None
                module = importlib.util.module_from_spec(spec)
                sys.modules[module_name] = module
                spec.loader.exec_module(module)
            finally:
                sys.path.remove(folder)
                sys.modules.pop(module_name, None)
                for name in set(sys.modules) - before:
                    mod = sys.modules.get(name)
                    file = getattr(mod, "__file__", None) or ""
                    if file and Path(file).resolve().is_relative_to(self.folder.resolve()):
                        self.modules[name] = sys.modules.pop(name)
                sys.modules.update(shadowing)
        self.module = module
        self.check_clients()
        return self

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

    @contextlib.contextmanager
    def _stdout(self) -> Iterator[None]:
        # Loggers created at import bind sys.stdout: point it at the function log stream.
        stream = self.log_stream if self.log_stream is not None else io.StringIO()
        with contextlib.redirect_stdout(stream):
            yield

    def invoke(self, event: dict) -> Any:
        """Call the handler like Lambda would; exceptions propagate (a function error)."""
        assert self.module is not None, "load() first"
        handler: Callable[[dict, Any], Any] = getattr(self.module, "handler")
        # One instance = one Lambda execution environment: one invocation at a time.
        with self._busy, self.gate.use(self.env_key, self.full_environment()):
            context = LambdaContext(self)
            started = time.monotonic()
            self.invocations += 1
            try:
                return handler(event, context)
            except BaseException:
                self.errors += 1
                raise
            finally:
                if time.monotonic() - started > self.timeout_s:
                    self.timeouts += 1
