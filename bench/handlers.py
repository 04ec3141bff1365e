"""Handler benchmark: SNS calls per 1,000 stream records, cold-import cost, records per second on moto, and the
producer's publishing throughput against an SNS stand-in (20 ms per call, 1% throttled), one request at a time
against ``publish_concurrency`` requests in flight.

Usage: ``main(argv)``; argv options: ``--repeat N`` (fresh subprocesses per import measurement, default 7),
``--records N`` (records for the throughput runs, default 2000), ``--publish-only`` (only the publishing
throughput rows: ``python -m bench.handlers --publish-only``), ``--publish-rounds N`` (batches of 1,000 records per
row, default 3; batches of 100: ten times as many). Offline: moto, or the stand-in (no request leaves the process).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import subprocess
import sys
import threading
import time
from xml.sax.saxutils import escape

from pipeline_model.lambda_runtime import (
    FUNCTIONS_DIR,
    SHARED_CODE_DIR,
    LambdaContext,
    batch_item_failures,
    load_handler,
    sqs_event,
    temporary_environment,
)
from local_pipeline.offline import apply_offline_environment

FUNCTIONS = FUNCTIONS_DIR
#: What the handlers see besides the offline AWS settings.
BENCH_SETTINGS = {"POWERTOOLS_LOG_LEVEL": "ERROR", "AWS_LAMBDA_FUNCTION_NAME": "bench"}

TARGET_CALLS = 100
TARGET_IMPORT_RATIO = 1.5
#: Publishing throughput: concurrent / sequential records per second at 1,000-record batches.
TARGET_PUBLISH_SPEEDUP = 5.0
STAND_IN_LATENCY_S = 0.020
STAND_IN_THROTTLE_RATE = 0.01
PUBLISH_SWEEP = (1, 2, 4, 8, 10, 16)

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


# ---------------------------------------------------------------------------------------------- publishing throughput


class _Body:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **kwargs):
        yield self._body


_THROTTLED = (
    b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
    b"<RequestId>bench</RequestId></ErrorResponse>"
)


class SnsStandIn:
    """SNS PublishBatch behind the producer's real client: every HTTP attempt takes ``latency`` seconds and a
    ``throttle_rate`` share of them is refused whole, as SNS refuses a request over the account's publish rate: HTTP
    400, code ``Throttling``, "Rate exceeded", nothing published (the producer's client hook then raises and the
    producer re-submits the request after its own back-off); the others are accepted whole. Installed on the
    client's ``before-send`` event, so the request never leaves the process. Keeps what it accepted, in acceptance
    order: (eventID, message group)."""

    def __init__(self, latency: float, throttle_rate: float, seed: int) -> None:
        self.latency, self.throttle_rate = latency, throttle_rate
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.accepted: list[tuple[str, str | None]] = []
        self.attempts = self.throttled = self.in_flight = self.max_in_flight = 0
        self._call = threading.local()  # the entries of the call this thread is making

    def install(self, client) -> None:
        # The entries are taken from the call's parameters (same thread as its HTTP attempts), not parsed back
        # from the request body: SNS does that work on its side, not in the function.
        client.meta.events.register("before-parameter-build.sns.PublishBatch", self._params, unique_id="bench-sns-params")
        client.meta.events.register("before-send.sns.PublishBatch", self._send, unique_id="bench-sns-stand-in")

    def _params(self, params, **kwargs):
        self._call.entries = [
            (e["Id"], _event_id(e["Message"]), e.get("MessageGroupId")) for e in params["PublishBatchRequestEntries"]
        ]

    def _send(self, request, **kwargs):
        from botocore.awsrequest import AWSResponse

        with self.lock:
            self.attempts += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            throttled = self.random.random() < self.throttle_rate
        try:
            time.sleep(self.latency)
        finally:
            with self.lock:
                self.in_flight -= 1
        if throttled:
            with self.lock:
                self.throttled += 1
            return AWSResponse(request.url, 400, {}, _Body(_THROTTLED))
        members = self._call.entries
        with self.lock:
            self.accepted += [(event_id, group) for _, event_id, group in members]
        successful = "".join(
            f"<member><Id>{escape(entry_id)}</Id><MessageId>m-{escape(event_id)}</MessageId></member>"
            for entry_id, event_id, _ in members
        )
        xml = (
            "<PublishBatchResponse><PublishBatchResult><Successful>" + successful + "</Successful><Failed/>"
            "</PublishBatchResult><ResponseMetadata><RequestId>bench</RequestId></ResponseMetadata>"
            "</PublishBatchResponse>"
        )
        return AWSResponse(request.url, 200, {}, _Body(xml.encode()))


_EVENT_ID = re.compile(r'"eventID":"([^"]*)"')


def _event_id(message: str) -> str:
    return _EVENT_ID.search(message).group(1)


def _publish_records(n: int, offset: int) -> list[dict]:
    """``n`` stream records; each item changes four times in the batch (as orders do), so FIFO groups chain."""
    records = []
    for i in range(n):
        record = _stream_record(offset + i)
        key = {"pk": {"S": f"order#{offset + i % max(1, n // 4)}"}}
        record["dynamodb"]["Keys"] = key
        record["dynamodb"]["NewImage"]["pk"] = key["pk"]
        record["dynamodb"]["OldImage"]["pk"] = key["pk"]
        records.append(record)
    return records


def _delivery_checks(records: list[dict], accepted: list[tuple[str, str | None]], fifo: bool) -> dict[str, bool]:
    """Every record at least once and nothing else; for FIFO the first delivery of each group's records in stream
    order."""
    wanted = [r["eventID"] for r in records]
    got = [event_id for event_id, _ in accepted]
    checks = {"all delivered": set(wanted) <= set(got), "none foreign": set(got) <= set(wanted)}
    if fifo:
        position = {event_id: i for i, event_id in enumerate(wanted)}
        first_seen: dict[str, list[int]] = {}
        seen: set[str] = set()
        for event_id, group in accepted:
            if event_id not in seen:
                seen.add(event_id)
                first_seen.setdefault(group, []).append(position[event_id])
        checks["group order"] = all(order == sorted(order) for order in first_seen.values())
    return checks


def _publish_round(concurrency: int, fifo: bool, records: list[dict], seed: int, throttle_rate: float) -> dict:
    """The producer (a fresh container) publishing one stream batch to the stand-in, retried like Lambda does (from
    the first reported record) until nothing is reported."""
    topic = "arn:aws:sns:us-east-1:123456789012:bench" + (".fifo" if fifo else "")
    # a loopback endpoint: were the stand-in ever bypassed, the request would fail here, not reach AWS
    with temporary_environment({"PUBLISH_CONCURRENCY": str(concurrency), "AWS_ENDPOINT_URL_SNS": "http://127.0.0.1:9",
                                "SNS_TOPIC_ARN": topic}):
        producer = load_handler(FUNCTIONS / "producer").module
        stand_in = SnsStandIn(STAND_IN_LATENCY_S, throttle_rate, seed)
        stand_in.install(producer.sns)
        context = LambdaContext("bench", timeout_s=900)
        pending, invocations = records, 0
        random.seed(seed)  # the producer's back-off jitter draws from it: the same draws for every setting
        start = time.perf_counter()
        while pending:
            invocations += 1
            reported = batch_item_failures(producer.handler({"Records": pending}, context))
            if not reported:
                break
            first = next(i for i, r in enumerate(pending) if r["dynamodb"]["SequenceNumber"] == reported[0])
            pending = pending[first:]  # Lambda retries from the first reported record
        elapsed = time.perf_counter() - start
    checks = _delivery_checks(records, stand_in.accepted, fifo)
    return {"elapsed": elapsed, "records": len(records), "checks": checks, "retries": invocations - 1,
            "throttled": stand_in.throttled, "max_in_flight": stand_in.max_in_flight,
            "duplicates": len(stand_in.accepted) - len(records)}


def _total(rounds: list[dict]) -> dict:
    return {
        "rps": sum(r["records"] for r in rounds) / sum(r["elapsed"] for r in rounds),
        "checks": {name: all(r["checks"][name] for r in rounds) for name in rounds[0]["checks"]},
        **{key: sum(r[key] for r in rounds) for key in ("retries", "throttled", "duplicates")},
        "max_in_flight": max(r["max_in_flight"] for r in rounds),
    }


def measure_publishing(concurrencies: tuple[int, ...], fifo: bool, batch: int, rounds: int,
                       throttle_rate: float = STAND_IN_THROTTLE_RATE) -> dict[int, dict]:
    """Records/s for each concurrency, over ``rounds`` batches of ``batch`` records. The settings take turns
    round by round, each round with the same throttling draws, so a busy machine slows them alike."""
    apply_offline_environment(**BENCH_SETTINGS)
    results: dict[int, list[dict]] = {c: [] for c in concurrencies}
    for round_ in range(rounds):
        records = _publish_records(batch, round_ * batch)
        for concurrency in concurrencies:
            results[concurrency].append(_publish_round(concurrency, fifo, records, round_, throttle_rate))
    return {c: _total(r) for c, r in results.items()}


def print_publishing(rounds: int) -> None:
    concurrency = _default_publish_concurrency()
    print(f"producer publishing, SNS stand-in: {STAND_IN_LATENCY_S * 1000:.0f} ms per call, "
          f"{STAND_IN_THROTTLE_RATE:.0%} of calls throttled (the producer retries them), batches retried like Lambda; "
          "each item changes 4 times per batch:")
    print(f"  {'topic':<9}{'batch':>6}  {'sequential rec/s':>16}  {f'concurrency {concurrency} rec/s':>22}  "
          f"{'speed-up':>8}  delivery (sequential | concurrent)")
    for fifo in (False, True):
        for batch in (100, 1000):
            both = measure_publishing((1, concurrency), fifo, batch, rounds * (10 if batch == 100 else 1))
            seq, con = both[1], both[concurrency]
            ratio = con["rps"] / seq["rps"]
            target = ""
            if batch == 1000:
                verdict = "OK" if ratio >= TARGET_PUBLISH_SPEEDUP else "UNDER TARGET"
                target = f"  (target >= {TARGET_PUBLISH_SPEEDUP:.0f}x: {verdict})"
            print(f"  {'FIFO' if fifo else 'standard':<9}{batch:>6}  {seq['rps']:>16.0f}  {con['rps']:>22.0f}  "
                  f"{ratio:>7.1f}x  {_checks(seq)} | {_checks(con)}{target}")
    print("  publish_concurrency sweep, standard topic, no throttling (concurrency alone): records/s at batches of "
          "100 | 1,000")
    small = measure_publishing(PUBLISH_SWEEP, False, 100, rounds * 10, throttle_rate=0.0)
    large = measure_publishing(PUBLISH_SWEEP, False, 1000, rounds, throttle_rate=0.0)
    for value in PUBLISH_SWEEP:
        print(f"    {value:>2}: {small[value]['rps']:7.0f} | {large[value]['rps']:7.0f}  "
              f"({_checks(small[value])} | {_checks(large[value])}; at most {large[value]['max_in_flight']} in flight)")


def _checks(result: dict) -> str:
    ok = all(result["checks"].values())
    names = ", ".join(name for name, good in result["checks"].items() if not good)
    extra = f"; {result['throttled']} throttled, {result['retries']} retried, {result['duplicates']} duplicates"
    return (f"OK ({', '.join(result['checks'])}" if ok else f"FAILED ({names}") + extra + ")"


def _default_publish_concurrency() -> int:
    from pipeline_model.config import PipelineConfig

    return PipelineConfig().producer.publish_concurrency


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench handlers", description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--publish-only", action="store_true", help="only the publishing throughput rows")
    parser.add_argument("--publish-rounds", type=int, default=3, help="1,000-record batches per publishing row")
    args, _unknown = parser.parse_known_args(argv)
    if args.publish_only:
        print("== Lambda handlers: producer publishing ==")
        print_publishing(max(1, args.publish_rounds))
        return

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
    print_publishing(max(1, args.publish_rounds))


if __name__ == "__main__":
    main(sys.argv[1:])
