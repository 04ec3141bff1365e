"""The synthesized JSON keeps the original design (issue: synth parity)."""

from __future__ import annotations

import json
import re

import pytest

from constructs_lib import aws, cdk

TOPIC_ARN = "${module.topic.topic_arn}"


def test_terraform_and_provider_constraints(tf):
    assert tf["terraform"]["required_version"] == ">= 1.3.0"
    assert tf["terraform"]["required_providers"]["aws"] == {"source": "hashicorp/aws", "version": "~> 5.0"}


def test_provider_region_and_default_tags(tf):
    (provider,) = tf["provider"]["aws"]
    assert provider["region"] == "us-east-1"
    assert provider["default_tags"] == [{"tags": {"Environment": "Production", "Project": "EventDrivenArchitecture"}}]


def test_region_and_tags_are_configurable(synth_config):
    from pipeline_model.config import build_config

    doc = synth_config([build_config(region="eu-west-2", tags={"Environment": "Dev", "Team": "data"})]).only
    (provider,) = doc["provider"]["aws"]
    assert provider["region"] == "eu-west-2"
    assert provider["default_tags"] == [{"tags": {"Environment": "Dev", "Team": "data"}}]


@pytest.mark.parametrize(
    ("module_id", "source", "version"),
    [
        ("table", "terraform-aws-modules/dynamodb-table/aws", "~> 4.0"),
        ("topic", "terraform-aws-modules/sns/aws", "~> 6.0"),
        ("queue_main", "terraform-aws-modules/sqs/aws", "~> 4.0"),
        ("producer", "terraform-aws-modules/lambda/aws", "~> 7.0"),
        ("consumer_main", "terraform-aws-modules/lambda/aws", "~> 7.0"),
    ],
)
def test_module_sources_and_versions(tf, module_id, source, version):
    assert tf["module"][module_id]["source"] == source
    assert tf["module"][module_id]["version"] == version


def test_every_module_uses_a_pinned_source(tf):
    pinned = {
        "terraform-aws-modules/dynamodb-table/aws": "~> 4.0",
        "terraform-aws-modules/sns/aws": "~> 6.0",
        "terraform-aws-modules/sqs/aws": "~> 4.0",
        "terraform-aws-modules/lambda/aws": "~> 7.0",
    }
    for module_id, block in tf["module"].items():
        assert pinned.get(block["source"]) == block["version"], module_id


def test_table(tf):
    table = tf["module"]["table"]
    assert table["name"] == "application-data-table"
    assert table["hash_key"] == "id"
    assert table["attributes"] == [{"name": "id", "type": "S"}]
    assert table["billing_mode"] == "PAY_PER_REQUEST"
    assert table["stream_enabled"] is True
    assert table["stream_view_type"] == "NEW_AND_OLD_IMAGES"


def test_topic(tf):
    assert tf["module"]["topic"]["name"] == "data-processing-topic"


def test_queue_policy_lets_only_this_topic_send(tf):
    queue = tf["module"]["queue_main"]
    assert queue["name"] == "data-processing-queue"
    assert queue["create_queue_policy"] is True
    statement = queue["queue_policy_statements"]["sns"]
    assert statement["actions"] == ["sqs:SendMessage"]
    assert statement["principals"] == [{"type": "Service", "identifiers": ["sns.amazonaws.com"]}]
    # "conditions" (plural) is the key the sqs module reads; "condition" would be ignored.
    assert "condition" not in statement
    assert statement["conditions"] == [{"test": "ArnEquals", "variable": "aws:SourceArn", "values": [TOPIC_ARN]}]
    assert set(statement) <= {"sid", "actions", "principals", "conditions"}  # no Deny/resources surprises


def test_subscription_topic_to_queue(default_synth):
    assert cdk.Testing.to_have_resource_with_properties(
        default_synth.only_text,
        aws.SnsTopicSubscription.TF_RESOURCE_TYPE,
        {"topic_arn": TOPIC_ARN, "protocol": "sqs", "endpoint": "${module.queue_main.queue_arn}"},
    )


def test_producer(tf):
    producer = tf["module"]["producer"]
    assert producer["function_name"] == "dynamodb-stream-producer"
    assert producer["runtime"] == "python3.12"
    assert producer["handler"] == "app.handler"
    assert producer["environment_variables"]["SNS_TOPIC_ARN"] == TOPIC_ARN
    assert producer["attach_policy_statements"] is True
    publish = producer["policy_statements"]["publish"]
    assert publish == {"effect": "Allow", "actions": ["sns:Publish"], "resources": [TOPIC_ARN]}


def test_producer_policy_grants_nothing_but_publish_and_its_failure_queue(tf):
    statements = tf["module"]["producer"]["policy_statements"]
    granted = {(action, resource) for s in statements.values() for action in s["actions"] for resource in s["resources"]}
    assert granted == {("sns:Publish", TOPIC_ARN), ("sqs:SendMessage", "${module.stream_failures.queue_arn}")}


def test_consumer(tf):
    consumer = tf["module"]["consumer_main"]
    assert consumer["function_name"] == "sqs-message-consumer"
    assert consumer["runtime"] == "python3.12"
    assert consumer["handler"] == "app.handler"


@pytest.mark.parametrize(
    ("attachment", "role", "policy"),
    [
        (
            "producer_execution_policy",
            "${module.producer.lambda_role_name}",
            "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole",
        ),
        (
            "consumer_main_execution_policy",
            "${module.consumer_main.lambda_role_name}",
            "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole",
        ),
    ],
)
def test_managed_policy_attachments(default_synth, tf, attachment, role, policy):
    assert cdk.Testing.to_have_resource_with_properties(
        default_synth.only_text, aws.IamRolePolicyAttachment.TF_RESOURCE_TYPE, {"role": role, "policy_arn": policy}
    )
    resource = tf["resource"]["aws_iam_role_policy_attachment"][attachment]
    assert (resource["role"], resource["policy_arn"]) == (role, policy)


def test_stream_mapping(default_synth, tf):
    assert cdk.Testing.to_have_resource_with_properties(
        default_synth.only_text,
        aws.LambdaEventSourceMapping.TF_RESOURCE_TYPE,
        {
            "event_source_arn": "${module.table.dynamodb_table_stream_arn}",
            "function_name": "${module.producer.lambda_function_arn}",
            "starting_position": "TRIM_HORIZON",
        },
    )
    mapping = tf["resource"]["aws_lambda_event_source_mapping"]["producer_event_source"]
    assert mapping["depends_on"][0] == "aws_iam_role_policy_attachment.producer_execution_policy"


def test_queue_mapping(default_synth, tf):
    assert cdk.Testing.to_have_resource_with_properties(
        default_synth.only_text,
        aws.LambdaEventSourceMapping.TF_RESOURCE_TYPE,
        {
            "event_source_arn": "${module.queue_main.queue_arn}",
            "function_name": "${module.consumer_main.lambda_function_arn}",
            "batch_size": 10,
        },
    )
    mapping = tf["resource"]["aws_lambda_event_source_mapping"]["consumer_main_event_source"]
    assert mapping["depends_on"] == ["aws_iam_role_policy_attachment.consumer_main_execution_policy"]


def test_logical_ids_are_stable_and_unhashed(tf):
    # queue_main_delivery_dlq: added on purpose (#20), SNS delivery failures apart from the consumer's DLQ.
    assert set(tf["module"]) == {
        "table", "topic", "producer", "stream_failures", "queue_main", "consumer_main", "idempotency_main",
        "alarm_topic", "queue_main_delivery_dlq",
    }
    assert set(tf["resource"]) == {
        "aws_iam_role_policy_attachment", "aws_lambda_event_source_mapping", "aws_sns_topic_subscription",
        "aws_kms_key", "aws_kms_alias", "aws_cloudwatch_metric_alarm", "aws_cloudwatch_dashboard",
    }
    ids = [key for block in tf["resource"].values() for key in block] + list(tf["module"]) + list(tf["output"])
    hashed = [i for i in ids if re.search(r"_[0-9A-F]{8}$", i)]
    assert not hashed, hashed
    for block in tf["module"].values():
        assert not re.search(r"[0-9A-F]{8}$", block["//"]["metadata"]["uniqueId"])


def test_sns_delivery_failures_have_their_own_queue(tf):
    """Changed on purpose (#20): the subscription's redrive policy pointed at the consumer's DLQ, mixing what SNS
    could not deliver with what the consumer failed. Now a queue of its own, only the topic may send to it, kept
    14 days, encrypted with the messaging key like the others; the consumer's DLQ no longer admits SNS."""
    subscription = tf["resource"]["aws_sns_topic_subscription"]["subscription_main"]
    assert json.loads(subscription["redrive_policy"]) == {
        "deadLetterTargetArn": "${module.queue_main_delivery_dlq.queue_arn}"}
    dlq = tf["module"]["queue_main_delivery_dlq"]
    assert dlq["source"] == "terraform-aws-modules/sqs/aws" and dlq["version"] == "~> 4.0"
    assert dlq["name"] == "data-processing-queue-delivery-dlq"
    assert dlq["message_retention_seconds"] == 1209600
    assert dlq["kms_master_key_id"] == tf["module"]["queue_main"]["kms_master_key_id"]
    assert dlq["queue_policy_statements"]["sns"]["conditions"] == [
        {"test": "ArnEquals", "variable": "aws:SourceArn", "values": [TOPIC_ARN]}]
    assert "sns" not in tf["module"]["queue_main"]["dlq_queue_policy_statements"]
    assert tf["output"]["delivery_dlq_url_main"]["value"] == "${module.queue_main_delivery_dlq.queue_url}"


def test_producer_knows_the_message_size_budget(tf):
    """Added on purpose (#20): the default subscriber takes the SNS envelope into a 256 KiB queue."""
    budget = json.loads(tf["module"]["producer"]["environment_variables"]["MESSAGE_SIZE_BUDGET"])
    assert budget == {"raw": 261120, "envelope": 262144}


def test_stack_outputs(tf):
    assert set(tf["output"]) >= {"table_name", "topic_arn", "producer_function_name", "queue_url_main"}
    assert tf["output"]["topic_arn"]["value"] == TOPIC_ARN


def test_synth_is_deterministic(default_synth, fresh_synth):
    from pipeline_model.config import build_config

    again = fresh_synth([build_config()])
    assert json.dumps(again.only, sort_keys=True) == json.dumps(default_synth.only, sort_keys=True)


def test_stream_mapping_leaves_time_to_replay(tf):
    """Changed on purpose (was 86400, the stream's whole 24 h retention, so a record sent to the failure queue by
    age had already expired): 6 h of retries, then 18 h in which make replay still finds the record."""
    mapping = tf["resource"]["aws_lambda_event_source_mapping"]["producer_event_source"]
    assert mapping["maximum_record_age_in_seconds"] == 21600
