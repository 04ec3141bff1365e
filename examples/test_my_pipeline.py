"""Unit tests of a stack of your own, with cdktf's ``Testing`` helpers: copy this file into your app.

Run it with ``pytest`` from your app's folder, with the library installed and Node.js for jsii (set
``JSII_NODE`` to choose the node). Nothing is deployed and no AWS account is needed: each test
synthesizes the stack to Terraform JSON in a temporary folder and asserts on it.
"""

from __future__ import annotations

import json

import pytest

from constructs_lib import App, EventPipeline, TerraformStack, aws_provider
from constructs_lib.cdk import Testing  # cdktf's Testing (CDK Terrain's, when that is the installed CDK)

REGION = "eu-west-1"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """Your stack: a provider and one pipeline (built once for this file, in a temporary folder)."""
    app = App(outdir=str(tmp_path_factory.mktemp("app") / "cdktf.out"))
    stack = TerraformStack(app, "shop")
    aws_provider(stack, REGION)
    orders = EventPipeline(stack, "orders")  # every default; region, partition and account are the stack's
    orders.add_subscriber({"name": "audit", "filter_policy": {"eventName": ["INSERT"]}})
    return stack


@pytest.fixture(scope="module")
def synthesized(stack) -> str:
    return Testing.synth(stack)


def test_each_subscriber_reports_partial_batch_failures(synthesized):
    # The matchers take the synthesized JSON text, a resource type and a subset of its properties.
    assert Testing.to_have_resource_with_properties(synthesized, "aws_lambda_event_source_mapping", {
        "event_source_arn": "${module.orders_queue_audit.queue_arn}",
        "function_response_types": ["ReportBatchItemFailures"],
    })


def test_the_audit_subscription_filters_inserts(synthesized):
    assert Testing.to_have_resource_with_properties(synthesized, "aws_sns_topic_subscription", {
        "protocol": "sqs",
        "filter_policy": json.dumps({"eventName": ["INSERT"]}),
    })


def test_every_queue_has_a_dead_letter_queue_and_the_key(synthesized):
    # Plain JSON works too: modules are under "module", keyed by their logical ids.
    modules = json.loads(synthesized)["module"]
    queues = {name: module for name, module in modules.items() if module["source"].endswith("/sqs/aws")}
    subscriber_queues = {name: q for name, q in queues.items()
                         if name.startswith("orders_queue_") and not name.endswith("_delivery_dlq")}
    assert set(subscriber_queues) == {"orders_queue_main", "orders_queue_audit"}
    assert all(q["create_dlq"] for q in subscriber_queues.values())
    # What SNS itself could not deliver goes to a queue of its own, beside each subscriber's queue.
    assert {f"{name}_delivery_dlq" for name in subscriber_queues} <= set(queues)
    assert all("kms_master_key_id" in q for q in queues.values())


def test_nothing_names_another_region(synthesized):
    assert "us-east-1" not in synthesized
