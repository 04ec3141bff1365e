"""Message size end to end on the local emulator (issue #20): items of 150-250 KiB and DynamoDB's 400 KB maximum,
both images, worst-case escaping, to a subscriber with the SNS envelope and one with raw delivery. The emulator's
SNS refuses, as SNS does, a delivery above the queue's maximum message size (moto does not): the delivery fails and
goes to the subscriber's delivery DLQ. With the producer's budget every message arrives, whole or keys-only; with
SNS's publish limit alone (the producer before #20) envelope deliveries fail."""

from __future__ import annotations

import json
from types import SimpleNamespace

import boto3
import pytest

from local_pipeline import emulator as emulator_module
from local_pipeline.emulator import Emulator
from local_pipeline.resources import provision
from local_pipeline.timing import Timing
from pipeline_model.config import build_config
from pipeline_model.contract import producer_environment
from pipeline_model.lambda_runtime import shared_module

pm = shared_module("pipeline_message")
KIB = 1024
#: Item text: plain, half quotes (JSON kept in a string: escaped once in the message, again in the envelope), and
#: a character of each kind JSON escapes (quote, backslash, control characters) and a slash.
TEXTS = {"plain": "abcdefgh", "quotes": '"a', "worst": '"\\\n\x01/'}


def image(kib: int, pk: str, text: str) -> dict:
    """An item image of about ``kib`` KiB of ``text`` (DynamoDB counts name + value bytes)."""
    pattern = TEXTS[text]
    return {"pk": {"S": pk}, "blob": {"S": (pattern * (kib * KIB // len(pattern) + 1))[: kib * KIB - 64]}}


SIZES_KIB = [150, 190, 200, 210, 250, 390]  # 390 KiB = DynamoDB's 400 KB item maximum, less the key


#: (size, event): an INSERT (new image only) and a MODIFY (both images) of each size.
CASES = [(kib, event, text) for kib in SIZES_KIB for event in ("INSERT", "MODIFY") for text in TEXTS]


def record(i: int, kib: int, event: str, text: str, region: str) -> dict:
    pk = f"item-{i}"
    ddb = {"Keys": {"pk": {"S": pk}}, "SequenceNumber": str(10**20 + i), "SizeBytes": 2 * kib * KIB,
           "StreamViewType": "NEW_AND_OLD_IMAGES", "NewImage": image(kib, pk, text)}
    if event == "MODIFY":
        ddb["OldImage"] = image(kib, pk, text)
    return {
        "eventID": f"ev-{i}", "eventName": event, "awsRegion": region,
        "eventSourceARN": f"arn:aws:dynamodb:{region}:123456789012:table/application-data-table/stream/x",
        "dynamodb": ddb,
    }


@pytest.fixture(scope="module")
def stack():
    with Emulator() as emu:
        config = build_config({"subscribers": [{"name": "main"}, {"name": "raw", "raw_message_delivery": True}]})
        session = boto3.session.Session(region_name=config.region, aws_access_key_id="test",
                                        aws_secret_access_key="test")
        clients = SimpleNamespace(**{n: session.client(n, endpoint_url=emu.url) for n in ("dynamodb", "sns", "sqs")})
        yield config, clients, provision(config, clients, Timing())


def drain(sqs, url: str) -> list[dict]:
    out = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get("Messages", [])
        if not got:
            return out
        out += got
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                        for i, m in enumerate(got)])


def publish_all(stack, budget) -> dict[str, dict]:
    config, clients, res = stack
    emulator_module.DELIVERY_FAILURES.clear()
    for i, (kib, event, text) in enumerate(CASES):
        message = pm.build(record(i, kib, event, text, config.region), budget)
        clients.sns.publish(TopicArn=res.topic_arn, Message=message.body, MessageAttributes=message.attributes)
    outcome = {}
    for name, sub in res.subscribers.items():
        outcome[name] = {
            "delivered": [pm.parse_body(m["Body"]) for m in drain(clients.sqs, sub.queue_url)],
            "delivery_dlq": drain(clients.sqs, sub.delivery_dlq_url),
            "failed": emulator_module.DELIVERY_FAILURES.get(sub.subscription_arn, 0),
        }
    return outcome


def test_every_size_arrives_whole_or_keys_only_with_the_budget(stack):
    config = stack[0]
    budget = pm.parse_budget(producer_environment(config, "arn")["MESSAGE_SIZE_BUDGET"])
    outcome = publish_all(stack, budget)
    for name in ("main", "raw"):
        got = outcome[name]
        assert got["failed"] == 0 and got["delivery_dlq"] == [], name
        assert sorted(m["eventID"] for m in got["delivered"]) == sorted(f"ev-{i}" for i in range(len(CASES)))
        for message in got["delivered"]:
            if message["truncated"]:
                assert message["newImage"] is None and message["keys"]["pk"].startswith("item-")
            else:
                i = int(message["eventID"][3:])
                assert message["newImage"]["blob"] == image(CASES[i][0], f"item-{i}", CASES[i][2])["blob"]["S"]
    whole = {name: sum(not m["truncated"] for m in outcome[name]["delivered"]) for name in outcome}
    assert whole["main"] >= 1 and whole["raw"] >= whole["main"]


def test_without_the_envelope_budget_sns_fails_the_delivery_to_the_delivery_dlq(stack):
    """The producer before #20 (SNS's publish limit only): the envelope subscriber's deliveries fail."""
    outcome = publish_all(stack, pm.Budget(envelope=None))
    assert outcome["main"]["failed"] >= 1
    assert len(outcome["main"]["delivery_dlq"]) == outcome["main"]["failed"]
    assert len(outcome["main"]["delivered"]) == len(CASES) - outcome["main"]["failed"]
    assert outcome["raw"]["failed"] == 0
