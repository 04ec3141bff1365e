"""Shared helpers for the handler tests: offline AWS env, fresh handler modules, stream/SQS event builders and a
moto SNS->SQS pipeline. (A uniquely named module, so `import` cannot pick up another directory's conftest.)

Handlers are loaded with the local Lambda harness (pipeline_model/lambda_runtime.py), afresh for each test (a new
"container"): their module-level clients and settings come from the environment given to :func:`load`.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from types import ModuleType

from pipeline_model.lambda_runtime import (
    FUNCTIONS_DIR,
    LambdaContext,
    load_handler,
    shared_module,
    sqs_event as lambda_sqs_event,
    temporary_environment,
)
from local_pipeline.offline import apply_offline_environment

REGION = "us-east-1"
ACCOUNT = "123456789012"

# Offline, dummy AWS settings -- set before boto3/moto/handlers are imported.
apply_offline_environment(REGION, POWERTOOLS_SERVICE_NAME="handlers-test", AWS_LAMBDA_FUNCTION_NAME="handlers-test")

import boto3  # noqa: E402
# Imported for its side effect: moto registers its request handler in botocore when imported,
# and only sessions created afterwards (SESSION below) pick it up.
from moto import mock_aws  # noqa: E402,F401

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = FUNCTIONS_DIR
IDEMPOTENCY_TABLE = "consumer-idempotency"

#: The message format module (functions/shared/pipeline_message.py), as the tests read messages.
pipeline_message = shared_module("pipeline_message")

# One session for all tests: moto resets boto3's default session on every mock start, and re-parsing the
# service models for each new session costs ~0.5 s per test. Handlers create their clients from it.
SESSION = boto3.session.Session(region_name=REGION)


@contextlib.contextmanager
def _default_session():
    saved = boto3.DEFAULT_SESSION
    boto3.DEFAULT_SESSION = SESSION
    try:
        yield
    finally:
        boto3.DEFAULT_SESSION = saved


def load(code: str, **environment: str | None) -> ModuleType:
    """A freshly imported ``functions/<code>/app.py`` (a new container), with ``environment`` set (None: unset)
    while it initialises."""
    with temporary_environment(environment), _default_session():
        return load_handler(FUNCTIONS_DIR / code).module


def load_consumer(recorder=None, **environment: str | None) -> ModuleType:
    """A fresh consumer (idempotency table ``IDEMPOTENCY_TABLE``, no subscriber name unless given) whose
    business.process is ``recorder`` when one is given."""
    module = load("consumer", **{"IDEMPOTENCY_TABLE": IDEMPOTENCY_TABLE, "SUBSCRIBER_NAME": None, **environment})
    if recorder is not None:
        module.business.process = recorder
    return module


def still_context(remaining_ms: int = 30_000) -> LambdaContext:
    """A Lambda context whose remaining time stays at ``remaining_ms`` (its clock stands still)."""
    return LambdaContext("handlers-test", timeout_s=remaining_ms / 1000, clock=lambda: 0.0)


# ---------------------------------------------------------------------------------------------- stream events

TABLE = "orders"
STREAM_ARN = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{TABLE}/stream/2024-01-01T00:00:00.000"


def seq(i: int) -> str:
    return str(10**20 + i)


def stream_record(i: int, event_name: str = "INSERT", *, keys=None, new=None, old=None, user_identity=None) -> dict:
    keys = keys if keys is not None else {"pk": {"S": f"item-{i}"}}
    ddb = {
        "ApproximateCreationDateTime": 1700000000 + i,
        "Keys": keys,
        "SequenceNumber": seq(i),
        "SizeBytes": 64,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if event_name in ("INSERT", "MODIFY"):
        ddb["NewImage"] = new if new is not None else {**keys, "n": {"N": str(i)}}
    if event_name in ("MODIFY", "REMOVE"):
        ddb["OldImage"] = old if old is not None else {**keys, "n": {"N": str(i - 1)}}
    record = {
        "eventID": f"ev-{i}",
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": ddb,
        "eventSourceARN": STREAM_ARN,
    }
    if user_identity is not None:
        record["userIdentity"] = user_identity
    return record


def stream_event(records: list[dict]) -> dict:
    return {"Records": records}


# ---------------------------------------------------------------------------------------------- moto pipeline


class Pipeline:
    """A moto topic with two subscribed queues (SNS envelope and raw delivery) and an idempotency table."""

    def __init__(self, monkeypatch):
        self.sns = SESSION.client("sns")
        self.sqs = SESSION.client("sqs")
        self.ddb = SESSION.client("dynamodb")
        self.topic_arn = self.sns.create_topic(Name="changes")["TopicArn"]
        self.queue_url = self.add_queue("envelope")
        self.raw_queue_url = self.add_queue("raw", raw=True)
        self.idempotency_table = IDEMPOTENCY_TABLE
        self.ddb.create_table(
            TableName=self.idempotency_table,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        monkeypatch.setenv("SNS_TOPIC_ARN", self.topic_arn)

    def add_queue(self, name: str, *, raw: bool = False, filter_policy: dict | None = None) -> str:
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        attributes = {}
        if raw:
            attributes["RawMessageDelivery"] = "true"
        if filter_policy is not None:
            attributes["FilterPolicy"] = json.dumps(filter_policy)
        self.sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=arn, Attributes=attributes)
        return url

    def drain(self, url: str | None = None) -> list[dict]:
        """Every message currently in the queue (received and deleted)."""
        url = url or self.queue_url
        out = []
        while True:
            got = self.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], AttributeNames=["All"]
            ).get("Messages", [])
            if not got:
                return out
            out += got
            self.sqs.delete_message_batch(
                QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
            )

    def payloads(self, url: str | None = None) -> list[dict]:
        """Producer payloads in a queue, decoded exactly (an SNS envelope is unwrapped when present)."""
        out = []
        for m in self.drain(url):
            payload, enveloped = pipeline_message.decode_body(m["Body"])
            assert not (enveloped and url == self.raw_queue_url), "raw delivery queue received an envelope"
            out.append(payload)
        return out


def sqs_event(messages: list[dict]) -> dict:
    """A Lambda SQS event from messages as returned by ReceiveMessage (or {"MessageId", "Body"} dicts)."""
    return lambda_sqs_event(messages, f"arn:aws:sqs:{REGION}:{ACCOUNT}:queue")


class Recorder:
    """Replacement for business.process: records calls, can fail chosen eventIDs."""

    def __init__(self):
        self.calls: list[dict] = []
        self.fail: set[str] = set()

    def __call__(self, message: dict) -> None:
        self.calls.append(message)
        if message["eventID"] in self.fail:
            raise RuntimeError(f"business failure for {message['eventID']}")

    @property
    def ids(self) -> list[str]:
        return [m["eventID"] for m in self.calls]


class AskCounting(LambdaContext):
    """A Lambda context with plenty of time for the first ``asks`` questions, then none (below the margin)."""

    def __init__(self, asks: int) -> None:
        super().__init__("handlers-test")
        self.asks, self.asked = asks, 0

    def get_remaining_time_in_millis(self) -> int:
        self.asked += 1
        return 30_000 if self.asked <= self.asks else 0
