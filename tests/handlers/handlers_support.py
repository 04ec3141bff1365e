"""Shared helpers for the handler tests: offline AWS env, both app.py modules loaded under distinct names,
stream/SQS event builders and a moto SNS->SQS pipeline. (A uniquely named module, so `import` cannot pick up
another directory's conftest.)"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from decimal import Decimal
from pathlib import Path

# Offline, dummy AWS settings -- set before boto3/moto/handlers are imported.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        # moto 5.2.5 + boto3 1.44: DynamoDB Streams calls fail without this.
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "POWERTOOLS_SERVICE_NAME": "handlers-test",
        "AWS_LAMBDA_FUNCTION_NAME": "handlers-test",
    }
)
os.environ.pop("AWS_PROFILE", None)
os.environ.pop("AWS_ENDPOINT_URL", None)

import boto3  # noqa: E402
# Imported for its side effect: moto registers its request handler in botocore when imported,
# and only sessions created afterwards (SESSION below) pick it up.
from moto import mock_aws  # noqa: E402,F401

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ROOT / "functions"
REGION = "us-east-1"
ACCOUNT = "123456789012"


def load_module(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# The consumer does `import business`: register the package's own business.py under that name first.
business = load_module("business", FUNCTIONS / "consumer" / "business.py")
consumer_app = load_module("consumer_app", FUNCTIONS / "consumer" / "app.py")
producer_app = load_module("producer_app", FUNCTIONS / "producer" / "app.py")


class FakeContext:
    function_name = "handlers-test"
    function_version = "$LATEST"
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:handlers-test"
    memory_limit_in_mb = 128
    aws_request_id = "req-1"
    log_group_name = "/aws/lambda/handlers-test"
    log_stream_name = "stream"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


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


# One session for all tests: moto resets boto3's default session on every mock start, and re-parsing the
# service models for each new session costs ~0.5 s per test.
SESSION = boto3.session.Session(region_name=REGION)


class Pipeline:
    """A moto topic with two subscribed queues (SNS envelope and raw delivery) and an idempotency table."""

    def __init__(self, monkeypatch):
        self.sns = SESSION.client("sns")
        self.sqs = SESSION.client("sqs")
        self.ddb = SESSION.client("dynamodb")
        self.topic_arn = self.sns.create_topic(Name="changes")["TopicArn"]
        self.queue_url = self.add_queue("envelope")
        self.raw_queue_url = self.add_queue("raw", raw=True)
        self.idempotency_table = "consumer-idempotency"
        self.ddb.create_table(
            TableName=self.idempotency_table,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        monkeypatch.setenv("SNS_TOPIC_ARN", self.topic_arn)
        monkeypatch.setenv("IDEMPOTENCY_TABLE", self.idempotency_table)
        monkeypatch.delenv("SUBSCRIBER_NAME", raising=False)

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
            doc = json.loads(m["Body"], parse_float=Decimal)
            if doc.get("Type") == "Notification":
                assert url != self.raw_queue_url, "raw delivery queue received an envelope"
                doc = json.loads(doc["Message"], parse_float=Decimal)
            out.append(doc)
        return out


def sqs_event(messages: list[dict]) -> dict:
    """A Lambda SQS event from messages as returned by ReceiveMessage (or {"MessageId", "Body"} dicts)."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m.get("ReceiptHandle", "rh"),
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:queue",
                "awsRegion": REGION,
            }
            for m in messages
        ]
    }


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

