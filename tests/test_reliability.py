"""Infrastructure that keeps every change: partial failures, DLQs, idempotency (issue: lose nothing)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from pipeline_model.config import POWERTOOLS_VERSION, ConfigError, build_config

ROOT = Path(__file__).resolve().parent.parent


def test_stream_mapping_reports_partial_failures_and_keeps_what_fails(tf):
    mapping = tf["resource"]["aws_lambda_event_source_mapping"]["producer_event_source"]
    assert mapping["function_response_types"] == ["ReportBatchItemFailures"]
    assert mapping["bisect_batch_on_function_error"] is True
    assert mapping["maximum_retry_attempts"] == 10
    # 6 h, not the stream's full 24 h: a batch reaches the failure queue with 18 h left to replay it (CHANGELOG).
    assert mapping["maximum_record_age_in_seconds"] == 21600
    # The lambda *module*'s key would be destination_arn_on_failure; this is the native resource.
    assert mapping["destination_config"] == {"on_failure": {"destination_arn": "${module.stream_failures.queue_arn}"}}


def test_stream_failure_queue_keeps_records_for_14_days(tf):
    queue = tf["module"]["stream_failures"]
    assert queue["name"] == "dynamodb-stream-producer-failures"
    assert queue["message_retention_seconds"] == 1209600


def test_queue_mapping_reports_partial_failures(tf):
    mapping = tf["resource"]["aws_lambda_event_source_mapping"]["consumer_main_event_source"]
    assert mapping["function_response_types"] == ["ReportBatchItemFailures"]


def test_consumer_queue_has_dead_letter_queue(tf):
    queue = tf["module"]["queue_main"]
    assert queue["create_dlq"] is True
    assert queue["redrive_policy"] == {"maxReceiveCount": 5}  # camelCase and a number, as SQS wants
    assert queue["dlq_message_retention_seconds"] == 1209600
    assert queue["visibility_timeout_seconds"] >= 6 * tf["module"]["consumer_main"]["timeout"]


def test_max_receive_count_and_visibility_are_configurable(synth_config):
    config = build_config(subscribers=[{"max_receive_count": 15, "visibility_timeout_seconds": 180,
                                        "function": {"timeout": 30}}])
    doc = synth_config([config]).only
    assert doc["module"]["queue_main"]["redrive_policy"] == {"maxReceiveCount": 15}
    assert doc["module"]["queue_main"]["visibility_timeout_seconds"] == 180
    assert doc["module"]["consumer_main"]["timeout"] == 30


def test_visibility_rule_fails_at_synth():
    with pytest.raises(ConfigError, match=r"subscribers\.0\.visibility_timeout_seconds: 60 must be at least 6x"):
        build_config(subscribers=[{"visibility_timeout_seconds": 60, "function": {"timeout": 30}}])


def test_idempotency_table_and_consumer_environment(tf):
    table = tf["module"]["idempotency_main"]
    assert table["name"] == "sqs-message-consumer-idempotency"
    assert (table["hash_key"], table["attributes"]) == ("id", [{"name": "id", "type": "S"}])
    assert (table["ttl_enabled"], table["ttl_attribute_name"]) == (True, "expiration")
    assert "stream_enabled" not in table
    env = tf["module"]["consumer_main"]["environment_variables"]
    assert env["IDEMPOTENCY_TABLE"] == "${module.idempotency_main.dynamodb_table_id}"
    assert env["SUBSCRIBER_NAME"] == "main"
    assert int(env["IDEMPOTENCY_TTL_SECONDS"]) >= tf["module"]["queue_main"]["message_retention_seconds"]


def test_idempotency_must_outlast_every_redelivery():
    with pytest.raises(ConfigError, match=r"subscribers.0.idempotency_ttl_seconds: 3600 is shorter than .* = 432000"):
        build_config(subscribers=[{"idempotency_ttl_seconds": 3600}])
    with pytest.raises(ConfigError, match=r"= 259200"):
        build_config(subscribers=[{"idempotency_ttl_seconds": 86400, "message_retention_seconds": 172800}])
    config = build_config(subscribers=[{"idempotency_ttl_seconds": 90000, "message_retention_seconds": 3600}])
    assert config.subscribers[0].idempotency_ttl_seconds == 90000


def test_idempotency_outlasts_a_replay_not_only_the_mapping_retries():
    """A replay republishes a record until the stream trims it (24 h), whatever the mapping's maximum record age:
    a 1 h maximum age does not shorten the window the consumers must remember a message for."""
    with pytest.raises(ConfigError, match=r"subscribers.0.idempotency_ttl_seconds: 350000 is shorter than .*"
                                          r"24 h retention = 432000"):
        build_config(stream={"maximum_record_age_seconds": 3600},
                     subscribers=[{"idempotency_ttl_seconds": 350000}])


def test_powertools_layer_is_the_tested_release(tf):
    parameter = tf["data"]["aws_ssm_parameter"]["powertools_layer"]
    assert parameter["name"] == f"/aws/service/powertools/python/x86_64/python3.12/{POWERTOOLS_VERSION}"
    for function in ("producer", "consumer_main"):
        assert tf["module"][function]["layers"] == ["${data.aws_ssm_parameter.powertools_layer.value}"]
    pipfile = tomllib.loads((ROOT / "Pipfile").read_text())
    assert pipfile["packages"]["aws-lambda-powertools"] == f"=={POWERTOOLS_VERSION}"


def test_powertools_layer_can_be_turned_off(synth_config):
    doc = synth_config([build_config(powertools_version="")]).only
    assert "aws_ssm_parameter" not in doc.get("data", {})
    assert "layers" not in doc["module"]["producer"]


def test_sns_delivery_failures_land_in_the_subscriber_delivery_dlq(tf):
    subscription = tf["resource"]["aws_sns_topic_subscription"]["subscription_main"]
    assert json.loads(subscription["redrive_policy"]) == {
        "deadLetterTargetArn": "${module.queue_main_delivery_dlq.queue_arn}"
    }
    statement = tf["module"]["queue_main_delivery_dlq"]["queue_policy_statements"]["sns"]
    assert statement["actions"] == ["sqs:SendMessage"]
    assert statement["principals"] == [{"type": "Service", "identifiers": ["sns.amazonaws.com"]}]
    assert statement["conditions"] == [
        {"test": "ArnEquals", "variable": "aws:SourceArn", "values": ["${module.topic.topic_arn}"]}
    ]


def test_nothing_is_published_before_the_queues_can_take_it(synth_config):
    doc = synth_config([build_config(subscribers=[{}, {"name": "audit"}])]).only
    subscriptions = doc["resource"]["aws_sns_topic_subscription"]
    for name in ("main", "audit"):
        # the subscription waits for the whole queue module, queue policy included, and for its delivery DLQ
        assert subscriptions[f"subscription_{name}"]["depends_on"] == [f"module.queue_{name}",
                                                                        f"module.queue_{name}_delivery_dlq"]
    stream = doc["resource"]["aws_lambda_event_source_mapping"]["producer_event_source"]
    assert stream["depends_on"] == [
        "aws_iam_role_policy_attachment.producer_execution_policy",
        "aws_sns_topic_subscription.subscription_main",
        "aws_sns_topic_subscription.subscription_audit",
    ]


@pytest.mark.parametrize("architecture", ["x86_64", "arm64"])
def test_functions_run_on_the_architecture_of_their_layer(synth_config, architecture):
    doc = synth_config([build_config(architecture=architecture)]).only
    for function in ("producer", "consumer_main"):
        assert doc["module"][function]["architectures"] == [architecture]
    assert f"/powertools/python/{architecture}/" in doc["data"]["aws_ssm_parameter"]["powertools_layer"]["name"]


def test_managed_policies_follow_the_partition(synth_config):
    doc = synth_config([build_config(region="us-gov-west-1")]).only
    arns = {a["policy_arn"] for a in doc["resource"]["aws_iam_role_policy_attachment"].values()}
    assert arns == {
        "arn:aws-us-gov:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole",
        "arn:aws-us-gov:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole",
    }
