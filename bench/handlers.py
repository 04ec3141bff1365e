"""Handler benchmark: SNS calls per 1,000 stream records, cold-import cost, records per second on moto.

Usage: ``main(argv)``; argv options: ``--repeat N`` (fresh subprocesses per import measurement, default 7),
``--records N`` (records for the throughput runs, default 2000). Offline: everything runs on moto.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from pipeline_model.lambda_runtime import (
    FUNCTIONS_DIR,
    SHARED_CODE_DIR,
    LambdaContext,
    load_handler,
    sqs_event,
)
from local_pipeline.offline import apply_offline_environment

FUNCTIONS = FUNCTIONS_DIR
#: What the handlers see besides the offline AWS settings.
BENCH_SETTINGS = {"POWERTOOLS_LOG_LEVEL": "ERROR", "AWS_LAMBDA_FUNCTION_NAME": "bench"}

TARGET_CALLS = 100
TARGET_IMPORT_RATIO = 1.5

# Each snippet runs in a fresh interpreter and prints the seconds spent importing (startup excluded). A function's
# import path is its folder, then the shared code, as in its zip.
_IMPORT_APP = (
    "import sys, time; sys.path[:0] = [{path!r}, {shared!r}]; t = time.perf_counter(); import app; "
    "print(time.perf_counter() - t)"
)
_IMPORT_SNIPPETS = {
    "boto3": "import time; t = time.perf_counter(); import boto3; print(time.perf_counter() - t)",
    "producer": _IMPORT_APP,
    "consumer": _IMPORT_APP,
    # the consumer's init with IDEMPOTENCY_TABLE set: Powertools idempotency and the DynamoDB client too
    "consumer+idempotency": _IMPORT_APP,
}


def _import_seconds(name: str) -> float:
    folder = FUNCTIONS / ("producer" if name == "producer" else "consumer")
    code = _IMPORT_SNIPPETS[name].format(path=str(folder), shared=str(SHARED_CODE_DIR))
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    apply_offline_environment(environ=env, **BENCH_SETTINGS)
    if name == "consumer+idempotency":
        env["IDEMPOTENCY_TABLE"] = "idem"
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


def _consumer():
    consumer = load_handler(FUNCTIONS / "consumer").module
    consumer.business.process = lambda message: None  # measure the handler, not the logging of the default logic
    return consumer


def measure_moto(records: int) -> dict[str, float]:
    apply_offline_environment(**BENCH_SETTINGS)
    import boto3
    from moto import mock_aws

    ctx = LambdaContext("bench", timeout_s=900)
    results: dict[str, float] = {}

    with mock_aws():
        producer = load_handler(FUNCTIONS / "producer").module
        topic = boto3.client("sns").create_topic(Name="bench")["TopicArn"]
        os.environ["SNS_TOPIC_ARN"] = topic
        calls: list[int] = []
        producer.sns.meta.events.register("provide-client-params.sns.PublishBatch", lambda **kw: calls.append(1))

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
        messages = [{"MessageId": f"m{i}", "Body": producer.prepare(r, i).entry["Message"]} for i, r in enumerate(batch)]
        events = [sqs_event(messages[offset:offset + 10], "arn:aws:sqs:us-east-1:123456789012:q")
                  for offset in range(0, records, 10)]
        os.environ.pop("IDEMPOTENCY_TABLE", None)
        consumer = _consumer()
        start = time.perf_counter()
        for event in events:
            consumer.handler(event, ctx)
        results["consumer_rps_no_idempotency"] = records / (time.perf_counter() - start)

        boto3.client("dynamodb").create_table(
            TableName="idem", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        )
        os.environ["IDEMPOTENCY_TABLE"] = "idem"
        consumer = _consumer()  # a new container: its idempotency settings are read at init
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
    print(f"  {'consumer + idempotency':<28} {imports['consumer+idempotency'] * 1000:7.1f} ms  ({ratio:.2f}x, "
          "informational: IDEMPOTENCY_TABLE set, Powertools idempotency and its client made at init)")
    print(f"producer records/s on moto (batches of 100):      {moto['producer_rps_moto']:9.0f}")
    print(f"producer conversion only, records/s (no I/O):     {moto['producer_convert_rps']:9.0f}")
    print(f"consumer records/s, no idempotency (batches of 10): {moto['consumer_rps_no_idempotency']:7.0f}")
    print(f"consumer records/s, idempotency on moto DynamoDB:   {moto['consumer_rps_idempotency_moto']:7.0f}")


if __name__ == "__main__":
    main(sys.argv[1:])
