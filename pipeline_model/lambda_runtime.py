"""The Lambda event and response contract, and running a handler folder in-process as Lambda would.

cdktf-free (it imports neither the emulator nor boto3): ``make local`` (``local_pipeline``), ``make replay``
(``tools.replay_stream_failures``), ``make bench`` and the handler tests all use it.

* :func:`load_handler`: import a function's ``app.py`` from its code folder as a fresh module (a new
  "container": module-level clients and settings are created again, from the environment of the moment),
  with the folder and the shared function code (``pipeline_model.packaging.SHARED_CODE_DIR``, which every
  zip carries at its root) importable only while it loads. The modules the import brings in from there
  (``business``, ``pipeline_message``, ...) stay with the handler and are taken out of ``sys.modules``
  again, so two loads never share them.
* :class:`LambdaContext`: the context object, with a real deadline (``get_remaining_time_in_millis``).
* :func:`temporary_environment`: the function's environment variables while a call runs.
* :func:`batch_item_failures`: a partial batch response read as Lambda reads it.
* The events Lambda's event source mappings pass (:func:`stream_event`, :func:`sqs_event`) and the
  message a DynamoDB stream mapping sends to its on-failure destination (:func:`stream_failure_message`,
  :func:`parse_batch_info`).

The offline, dummy-credential AWS settings of a local run are in ``local_pipeline.offline``.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as _dt
import hashlib
import importlib.util
import itertools
import json
import os
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Collection, Iterable, Iterator, Mapping, TextIO

from pipeline_model.packaging import FUNCTIONS_DIR, SHARED_CODE_DIR

__all__ = [
    "FUNCTIONS_DIR", "LOCAL_ACCOUNT_ID", "SHARED_CODE_DIR", "InvalidBatchResponse", "LambdaContext", "LoadedHandler",
    "as_lambda_event_value", "batch_item_failures", "load_handler", "parse_batch_info", "shared_module",
    "sqs_event", "stream_event", "stream_failure_message", "temporary_environment",
]

#: moto's default account; local ARNs are built with it.
LOCAL_ACCOUNT_ID = "123456789012"

# ---------------------------------------------------------------------------------------------- environment


def _put(values: Mapping[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@contextlib.contextmanager
def temporary_environment(values: Mapping[str, str | None]) -> Iterator[None]:
    """Set (or, for None, remove) these variables while the block runs; put the previous values back after."""
    saved = {name: os.environ.get(name) for name in values}
    try:
        _put(values)
        yield
    finally:
        _put(saved)


# ---------------------------------------------------------------------------------------------- context


@dataclass
class LambdaContext:
    """The Lambda context object: its attributes, and a deadline ``timeout_s`` after creation.

    ``clock`` (seconds, monotonic) is what the deadline is measured with; a clock that stands still gives a
    context whose remaining time never shrinks."""

    function_name: str = "local-function"
    timeout_s: float = 3.0
    memory_limit_in_mb: int = 128
    function_version: str = "$LATEST"
    invoked_function_arn: str = ""
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = ""
    identity: Any = None
    client_context: Any = None
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)

    def __post_init__(self) -> None:
        self.invoked_function_arn = self.invoked_function_arn or (
            f"arn:aws:lambda:us-east-1:{LOCAL_ACCOUNT_ID}:function:{self.function_name}"
        )
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"
        self.log_stream_name = self.log_stream_name or f"local/{self.aws_request_id}"
        self._deadline = self.clock() + self.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - self.clock()) * 1000))


# ---------------------------------------------------------------------------------------------- loading

_load_lock = threading.Lock()
_loads = itertools.count()


@dataclass
class LoadedHandler:
    """A function's ``app`` module, freshly imported, and the modules it brought in from its folders."""

    code_dir: Path
    module: ModuleType
    modules: dict[str, ModuleType] = field(default_factory=dict)  # e.g. {"business": ..., "pipeline_message": ...}

    def __call__(self, event: Any, context: Any) -> Any:
        """Call ``app.handler`` as Lambda does; an exception propagates (a function error)."""
        return self.module.handler(event, context)


def _module_names(folder: Path) -> set[str]:
    return {p.stem for p in folder.glob("*.py")} | {p.parent.name for p in folder.glob("*/__init__.py")}


def load_handler(code_dir: Path | str, *, stdout: TextIO | None = None) -> LoadedHandler:
    """Import ``<code_dir>/app.py`` afresh, as Lambda does in a new execution environment.

    The function's folder comes first on the import path, then the shared code (as in the zip, the function's own
    file wins). A module of the same name imported elsewhere in this process (say a test's own ``business``) is set
    aside while the function imports and put back afterwards. ``stdout``: where output bound at import goes
    (Powertools loggers bind ``sys.stdout`` when created). An error at import (a bad setting) propagates.
    """
    code_dir = Path(code_dir)
    path = code_dir / "app.py"
    if not path.is_file():
        raise FileNotFoundError(f"handler file {path} not found")
    folders = [code_dir.resolve(), SHARED_CODE_DIR.resolve()]
    module_name = f"_lambda_runtime_{code_dir.name.replace('-', '_')}_app_{next(_loads)}"
    own: dict[str, ModuleType] = {}
    redirect = contextlib.redirect_stdout(stdout) if stdout is not None else contextlib.nullcontext()
    with _load_lock, redirect:
        shadowing = {name: sys.modules.pop(name) for name in set().union(*map(_module_names, folders))
                     if name in sys.modules}
        before = set(sys.modules)
        sys.path[:0] = [str(folder) for folder in folders]
        try:
            spec = importlib.util.spec_from_file_location(module_name, path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
        finally:
            for folder in folders:
                sys.path.remove(str(folder))
            sys.modules.pop(module_name, None)
            for name in set(sys.modules) - before:
                file = getattr(sys.modules.get(name), "__file__", None) or ""
                if file and any(Path(file).resolve().is_relative_to(folder) for folder in folders):
                    own[name] = sys.modules.pop(name)
            sys.modules.update(shadowing)
    return LoadedHandler(code_dir, module, own)


_shared: dict[str, ModuleType] = {}


def shared_module(name: str) -> ModuleType:
    """A module of the shared function code (``functions/shared/<name>.py``) for code that is not a function
    (the local pipeline, the tools, the tests): loaded once, under a private name."""
    with _load_lock:
        if name not in _shared:
            path = SHARED_CODE_DIR / f"{name}.py"
            spec = importlib.util.spec_from_file_location(f"_lambda_runtime_shared_{name}", path)
            if spec is None or spec.loader is None or not path.is_file():
                raise ModuleNotFoundError(f"no shared function module {path}")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            _shared[name] = module
        return _shared[name]


# ---------------------------------------------------------------------------------------------- responses


class InvalidBatchResponse(ValueError):
    """A partial batch response that Lambda treats as the failure of the whole batch."""


def batch_item_failures(response: Any, identifiers: Collection[str] | None = None) -> list[str]:
    """The identifiers a handler's partial batch response (``ReportBatchItemFailures``) reports failed, in order.

    No response, no ``batchItemFailures`` or an empty list: every item succeeded. A response that is not an
    object, a ``batchItemFailures`` that is not a list, or an entry without a non-empty string ``itemIdentifier``
    (or, given ``identifiers``, one naming no item of the batch) raises :class:`InvalidBatchResponse`.
    """
    if response is None:
        return []
    if not isinstance(response, dict):
        raise InvalidBatchResponse(f"the response is {response!r:.80}, not an object")
    failures = response.get("batchItemFailures")
    if failures is None or failures == []:
        return []
    if not isinstance(failures, list):
        raise InvalidBatchResponse(f"batchItemFailures is {failures!r:.80}, not a list")
    failed = []
    for failure in failures:
        ident = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(ident, str) or not ident:
            raise InvalidBatchResponse(f"batch item failure {failure!r:.80} has no itemIdentifier")
        if identifiers is not None and ident not in identifiers:
            raise InvalidBatchResponse(f"itemIdentifier {ident!r:.80} names no item of the batch")
        failed.append(ident)
    return failed


# ---------------------------------------------------------------------------------------------- events


def as_lambda_event_value(value: Any) -> Any:
    """An AWS API value (boto3 gives datetimes and bytes) as a Lambda event carries it: epoch seconds and base64."""
    if isinstance(value, dict):
        return {k: as_lambda_event_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_lambda_event_value(v) for v in value]
    if isinstance(value, _dt.datetime):
        timestamp = value.timestamp()
        return int(timestamp) if float(timestamp).is_integer() else timestamp
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def _region_of(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[3] if len(parts) >= 6 and parts[3] else None


def stream_event(records: Iterable[dict], stream_arn: str) -> dict:
    """The event Lambda's DynamoDB stream mapping passes for records as GetRecords (boto3) returns them."""
    region = _region_of(stream_arn)
    event_records = []
    for raw in records:
        record = as_lambda_event_value(raw)
        record["eventSourceARN"] = stream_arn
        if region:
            record.setdefault("awsRegion", region)
        event_records.append(record)
    return {"Records": event_records}


def sqs_event(messages: Iterable[dict], queue_arn: str) -> dict:
    """The event Lambda's SQS mapping passes for messages as ReceiveMessage (boto3) returns them
    (``MessageId`` and ``Body`` at least)."""
    return {
        "Records": [
            as_lambda_event_value({
                "messageId": m["MessageId"],
                "receiptHandle": m.get("ReceiptHandle", ""),
                "body": m["Body"],
                "attributes": dict(m.get("Attributes") or {}),
                "messageAttributes": {
                    name: {
                        "stringValue": a.get("StringValue"),
                        "binaryValue": a.get("BinaryValue"),
                        "stringListValues": [],
                        "binaryListValues": [],
                        "dataType": a.get("DataType"),
                    }
                    for name, a in (m.get("MessageAttributes") or {}).items()
                },
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": _region_of(queue_arn),
            })
            for m in messages
        ]
    }


def stream_failure_message(records: list[dict], *, shard_id: str, stream_arn: str, function_arn: str,
                           condition: str, invocations: int) -> dict:
    """What a DynamoDB stream mapping sends its on-failure destination for a failed batch: metadata only
    (``DDBStreamBatchInfo`` names the shard and the sequence number range), never the records."""
    first, last = records[0], records[-1]
    return {
        "requestContext": {
            "requestId": hashlib.sha1(first["eventID"].encode()).hexdigest(),
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": invocations,
        },
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0",
        "timestamp": _dt.datetime.now(_dt.timezone.utc).isoformat(),
        "DDBStreamBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": first["dynamodb"]["SequenceNumber"],
            "endSequenceNumber": last["dynamodb"]["SequenceNumber"],
            "approximateArrivalOfFirstRecord": first["dynamodb"].get("ApproximateCreationDateTime"),
            "approximateArrivalOfLastRecord": last["dynamodb"].get("ApproximateCreationDateTime"),
            "batchSize": len(records),
            "streamArn": stream_arn,
        },
    }


#: Where Lambda writes a stream mapping's failed batch in an S3 on-failure destination (AWS Lambda developer guide,
#: "Retain discarded records ..."): aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<Random UUID>.
FAILURE_OBJECT_PREFIX = "aws/lambda/"


def failure_object_key(mapping_uuid: str, shard_id: str, when: _dt.datetime, random_uuid: str) -> str:
    """The key of a failed batch's object in an S3 on-failure destination, in AWS's documented layout."""
    return (f"{FAILURE_OBJECT_PREFIX}{mapping_uuid}/{shard_id}/{when:%Y/%m/%d}/"
            f"{when:%Y-%m-%dT%H.%M.%S}-{random_uuid}")


def stream_failure_object(records: list[dict], *, shard_id: str, stream_arn: str, function_arn: str,
                          condition: str, invocations: int) -> dict:
    """What a DynamoDB stream mapping writes to an S3 on-failure destination: the same invocation record as for a
    queue, plus the whole event (the records, as the function got them) under ``payload``."""
    return {**stream_failure_message(records, shard_id=shard_id, stream_arn=stream_arn, function_arn=function_arn,
                                     condition=condition, invocations=invocations),
            "payload": {"Records": records}}


def parse_failure_object(body: str | bytes) -> tuple[dict, list[dict]]:
    """(``DDBStreamBatchInfo``, records by sequence number) of an object a stream mapping wrote to an S3 on-failure
    destination: the invocation record with the whole event under ``payload`` (an object, or the same as a JSON
    string: AWS's example shows ``"payload": "<Whole Event>"``). ValueError when the object is not one."""
    try:
        text = body.decode("utf-8") if isinstance(body, (bytes, bytearray)) else body
    except UnicodeDecodeError as error:
        raise ValueError(f"object is not UTF-8 text ({error})") from None
    info = parse_batch_info(text)
    payload = json.loads(text).get("payload")
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except ValueError as error:
            raise ValueError(f"payload is not JSON ({error})") from None
    records = payload.get("Records") if isinstance(payload, dict) else None
    if not isinstance(records, list):
        raise ValueError("object has no payload with Records (an SQS or SNS on-failure record carries metadata only)")
    for record in records:
        sequence = (record.get("dynamodb") or {}).get("SequenceNumber") if isinstance(record, dict) else None
        if not (isinstance(sequence, str) and sequence.isdigit()):
            raise ValueError("a payload record has no dynamodb.SequenceNumber")
    return info, sorted(records, key=lambda r: int(r["dynamodb"]["SequenceNumber"]))


_INFO_FIELDS = ("shardId", "startSequenceNumber", "endSequenceNumber", "streamArn")


def parse_batch_info(body: str) -> dict:
    """``DDBStreamBatchInfo`` of an on-failure message; ValueError if the body is not one."""
    try:
        data = json.loads(body)
    except (TypeError, ValueError) as error:
        raise ValueError(f"message body is not JSON ({error})") from None
    info = data.get("DDBStreamBatchInfo") if isinstance(data, dict) else None
    if not isinstance(info, dict):
        raise ValueError("message has no DDBStreamBatchInfo (not a DynamoDB stream on-failure record)")
    missing = [name for name in _INFO_FIELDS if not info.get(name)]
    if missing:
        raise ValueError(f"DDBStreamBatchInfo lacks {', '.join(missing)}")
    try:
        int(info["startSequenceNumber"]), int(info["endSequenceNumber"])
    except (TypeError, ValueError):
        raise ValueError("DDBStreamBatchInfo sequence numbers are not integers") from None
    return info
