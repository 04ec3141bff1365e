"""Handler benchmark: SNS calls per 1,000 stream records, cold-import cost, records per second on moto.

Usage: ``main(argv)``; argv options: ``--repeat N`` (fresh subprocesses per import measurement, default 7),
``--records N`` (records for the throughput runs, default 2000). Offline: everything runs on moto.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ROOT / "functions"

OFFLINE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "POWERTOOLS_LOG_LEVEL": "ERROR",
    "AWS_LAMBDA_FUNCTION_NAME": "bench",
}

TARGET_CALLS = 100
TARGET_IMPORT_RATIO = 1.5

# Each snippet runs in a fresh interpreter and prints the seconds spent importing (startup excluded).
_IMPORT_SNIPPETS = {
    "boto3": "import time; t = time.perf_counter(); import boto3; print(time.perf_counter() - t)",
    "producer": (
        "import sys, time; sys.path.insert(0, {path!r}); t = time.perf_counter(); import app; "
        "print(time.perf_counter() - t)"
    ),
    "consumer": (
        "import sys, time; sys.path.insert(0, {path!r}); t = time.perf_counter(); import app; "
        "print(time.perf_counter() - t)"
    ),
    # what the consumer pays on its first invocation when IDEMPOTENCY_TABLE is set (lazy import)
    "consumer+idempotency": (
        "import sys, time; sys.path.insert(0, {path!r}); t = time.perf_counter(); import app; "
        "import aws_lambda_powertools.utilities.idempotency; print(time.perf_counter() - t)"
    ),
}


def _import_seconds(name: str) -> float:
    folder = FUNCTIONS / ("producer" if name == "producer" else "consumer")
    code = _IMPORT_SNIPPETS[name].format(path=str(folder))
    env = {**os.environ, **OFFLINE_ENV, "PYTHONDONTWRITEBYTECODE": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=str(folder), check=True)
    return float(out.stdout.strip().splitlines()[-1])


def measure_imports(repeat: int) -> dict[str, float]:
    samples: dict[str, list[float]] = {name: [] for name in _IMPORT_SNIPPETS}
    for name in _IMPORT_SNIPPETS:  # warm the OS file cache (and .pyc files) once, not measured
        _import_seconds(name)
    for _ in range(repeat):  # interleaved, so drift on a shared machine hits all alike
        for name in _IMPORT_SNIPPETS:
            samples[name].append(_import_seconds(name))
    return {name: statistics.median(values) for name, values in samples.items()}


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _stream_record(i: int) -> dict:
    return {
        "eventID": f"ev-{i}",
        "eventName": "MODIFY",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2024-01-01T00:00:00.000",
        "dynamodb": {
            "ApproximateCreationDateTime": 1700000000,
            "Keys": {"pk": {"S": f"order#{i}"}},
            "NewImage": {
                "pk": {"S": f"order#{i}"}, "amount": {"N": "12.34"}, "count": {"N": str(i)},
                "tags": {"SS": ["a", "b"]}, "meta": {"M": {"ok": {"BOOL": True}, "note": {"S": "hello"}}},
            },
            "OldImage": {"pk": {"S": f"order#{i}"}, "amount": {"N": "10"}, "count": {"N": str(i - 1)}},
            "SequenceNumber": str(10**20 + i),
            "SizeBytes": 120,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }


class _Context:
    function_name = "bench"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def measure_moto(records: int) -> dict[str, float]:
    os.environ.update(OFFLINE_ENV)
    import boto3
    from moto import mock_aws

    business = _load("business", FUNCTIONS / "consumer" / "business.py")
    consumer = _load("bench_consumer_app", FUNCTIONS / "consumer" / "app.py")
    producer = _load("bench_producer_app", FUNCTIONS / "producer" / "app.py")
    business.process = lambda message: None  # measure the handler, not the logging of the default logic
    ctx = _Context()
    results: dict[str, float] = {}

    with mock_aws():
        topic = boto3.client("sns").create_topic(Name="bench")["TopicArn"]
        os.environ["SNS_TOPIC_ARN"] = topic
        producer._sns = None
        calls: list[int] = []
        producer.sns_client().meta.events.register("provide-client-params.sns.PublishBatch", lambda **kw: calls.append(1))

        response = producer.handler({"Records": [_stream_record(i) for i in range(1000)]}, ctx)
        assert response == {"batchItemFailures": []}, response
        results["sns_calls_per_1000"] = len(calls)

        batch = [_stream_record(i) for i in range(records)]
        start = time.perf_counter()
        for offset in range(0, records, 100):  # the stream mapping's default batch size
            producer.handler({"Records": batch[offset:offset + 100]}, ctx)
        results["producer_rps_moto"] = records / (time.perf_counter() - start)

        start = time.perf_counter()
        for i, record in enumerate(batch):
            producer.prepare(record, i)
        results["producer_convert_rps"] = records / (time.perf_counter() - start)

        # consumer: SQS events of 10 messages (the mapping's default batch size), bodies as raw payloads
        messages = [producer.prepare(r, i).entry["Message"] for i, r in enumerate(batch)]
        events = [
            {"Records": [{"messageId": f"m{j}", "receiptHandle": "r", "body": messages[j], "attributes": {},
                          "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                          "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q", "awsRegion": "us-east-1"}
                         for j in range(offset, min(offset + 10, records))]}
            for offset in range(0, records, 10)
        ]
        os.environ.pop("IDEMPOTENCY_TABLE", None)
        start = time.perf_counter()
        for event in events:
            consumer.handler(event, ctx)
        results["consumer_rps_no_idempotency"] = records / (time.perf_counter() - start)

        boto3.client("dynamodb").create_table(
            TableName="idem", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        )
        os.environ["IDEMPOTENCY_TABLE"] = "idem"
        few = events[:20]  # moto DynamoDB is slow (2 writes per message): 200 messages are enough
        start = time.perf_counter()
        for event in few:
            response = consumer.handler(event, ctx)
            assert response == {"batchItemFailures": []}, response
        results["consumer_rps_idempotency_moto"] = sum(len(e["Records"]) for e in few) / (time.perf_counter() - start)
    return results


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench handlers", description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--records", type=int, default=2000)
    args, _unknown = parser.parse_known_args(argv)

    imports = measure_imports(max(1, args.repeat))
    moto = measure_moto(max(10, args.records))

    base = imports["boto3"]
    calls = moto["sns_calls_per_1000"]
    print("== Lambda handlers ==")
    print(f"SNS PublishBatch calls per 1,000 stream records: {calls:.0f} (target {TARGET_CALLS}) "
          f"{'OK' if calls <= TARGET_CALLS else 'OVER TARGET'}")
    print(f"cold import, median of {args.repeat} fresh interpreters (startup excluded):")
    print(f"  import boto3                 {base * 1000:7.1f} ms  (1.00x, baseline)")
    for name in ("producer", "consumer"):
        ratio = imports[name] / base
        verdict = "OK" if ratio <= TARGET_IMPORT_RATIO else "OVER TARGET"
        print(f"  {name + ' app.handler':<28} {imports[name] * 1000:7.1f} ms  ({ratio:.2f}x, target <= "
              f"{TARGET_IMPORT_RATIO}x) {verdict}")
    ratio = imports["consumer+idempotency"] / base
    print(f"  {'consumer + idempotency (1st call)':<28} {imports['consumer+idempotency'] * 1000:7.1f} ms  ({ratio:.2f}x, "
          "informational: lazily imported on the first invocation)")
    print(f"producer records/s on moto (batches of 100):      {moto['producer_rps_moto']:9.0f}")
    print(f"producer conversion only, records/s (no I/O):     {moto['producer_convert_rps']:9.0f}")
    print(f"consumer records/s, no idempotency (batches of 10): {moto['consumer_rps_no_idempotency']:7.0f}")
    print(f"consumer records/s, idempotency on moto DynamoDB:   {moto['consumer_rps_idempotency_moto']:7.0f}")


if __name__ == "__main__":
    main(sys.argv[1:])
