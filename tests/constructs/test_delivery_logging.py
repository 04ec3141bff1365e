"""SNS delivery status logging (issue #20): off by default; on, a role only SNS may assume for this topic, a
policy writing only the topic's two log groups, log groups with a retention, and the topic's sqs_feedback."""

from __future__ import annotations

import json

import pytest


def _pipeline(stack, **settings):
    from constructs_lib import EventPipeline, aws_provider, build_config

    aws_provider(stack, "eu-west-1")
    config = build_config(region="eu-west-1", **settings)
    return EventPipeline.from_config(stack, "pipeline", config)


def test_off_by_default_adds_nothing(stack, synth):
    pipeline = _pipeline(stack)
    doc = synth(stack)
    assert pipeline.delivery_logging is None
    assert "sqs_feedback" not in doc["module"]["topic"]
    assert "aws_iam_role" not in doc["resource"] and "aws_cloudwatch_log_group" not in doc["resource"]


def test_enabled_wires_role_policy_log_groups_and_topic(stack, synth):
    _pipeline(stack, delivery_status_logging={"enabled": True, "success_sample_rate": 25, "log_retention_days": 30})
    doc = synth(stack)
    resources = doc["resource"]
    role = resources["aws_iam_role"]["topic_delivery_logs_role"]
    assert role["name_prefix"] == "event-driven-pipeline-sns-logs-"
    trust = json.loads(role["assume_role_policy"])["Statement"]
    assert len(trust) == 1 and trust[0]["Principal"] == {"Service": "sns.amazonaws.com"}
    assert trust[0]["Action"] == "sts:AssumeRole"
    account = "${data.aws_caller_identity.current.account_id}"
    # confused deputy: this account's topic only, its ARN built from the name (the topic needs the role first)
    assert trust[0]["Condition"] == {
        "StringEquals": {"aws:SourceAccount": account},
        "ArnLike": {"aws:SourceArn": f"arn:aws:sns:eu-west-1:{account}:data-processing-topic"},
    }
    groups = resources["aws_cloudwatch_log_group"]
    success = f"sns/eu-west-1/{account}/data-processing-topic"
    assert {k: groups["topic_delivery_success_logs"][k] for k in ("name", "retention_in_days")} == {
        "name": success, "retention_in_days": 30}
    assert {k: groups["topic_delivery_failure_logs"][k] for k in ("name", "retention_in_days")} == {
        "name": f"{success}/Failure", "retention_in_days": 30}
    assert role["tags"] == groups["topic_delivery_failure_logs"]["tags"] != {}  # the pipeline's tags
    policy = resources["aws_iam_role_policy"]["topic_delivery_logs_policy"]
    assert policy["role"] == "${aws_iam_role.topic_delivery_logs_role.id}"
    statement, = json.loads(policy["policy"])["Statement"]
    assert statement["Action"] == ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
    prefix = f"arn:aws:logs:eu-west-1:{account}:log-group:"
    assert statement["Resource"] == [f"{prefix}{success}", f"{prefix}{success}:*",
                                     f"{prefix}{success}/Failure", f"{prefix}{success}/Failure:*"]
    topic = doc["module"]["topic"]
    arn = "${aws_iam_role.topic_delivery_logs_role.arn}"
    assert topic["sqs_feedback"] == {"failure_role_arn": arn, "success_role_arn": arn, "success_sample_rate": 25}
    # the topic waits for the policy and the log groups: SNS can write from the first delivery
    assert set(topic["depends_on"]) == {"aws_iam_role_policy.topic_delivery_logs_policy",
                                        "aws_cloudwatch_log_group.topic_delivery_success_logs",
                                        "aws_cloudwatch_log_group.topic_delivery_failure_logs"}


def test_fifo_topic_and_prefixed_pipeline(stack, synth):
    from constructs_lib import EventPipeline, aws_provider, build_config

    aws_provider(stack, "us-east-1")
    EventPipeline.from_config(stack, "orders", build_config(
        name_suffix="-orders", ordering="per-item", delivery_status_logging={"enabled": True}))
    doc = synth(stack)
    groups = doc["resource"]["aws_cloudwatch_log_group"]
    assert groups["orders_topic_delivery_failure_logs"]["name"].endswith(
        "/data-processing-topic-orders.fifo/Failure")
    assert doc["module"]["orders_topic"]["sqs_feedback"]["success_sample_rate"] == 0
    assert doc["resource"]["aws_iam_role"]["orders_topic_delivery_logs_role"]["name_prefix"] == (
        "event-driven-pipeline-orders-sns-logs-")


def test_topic_refuses_an_extra_sqs_feedback_that_contradicts_the_prop(stack, account):
    from constructs_lib import PropsConflictError, Topic, TopicProps
    from constructs_lib.delivery_logging import SqsFeedback

    with pytest.raises(PropsConflictError, match=r"extra\['sqs_feedback'\].*props.sqs_feedback"):
        Topic(stack, "t", props=TopicProps(
            name="events", account=account, sqs_feedback=SqsFeedback(role_arn="arn:aws:iam::123456789012:role/r"),
            extra={"sqs_feedback": {"failure_role_arn": "arn:aws:iam::123456789012:role/other"}}))


@pytest.mark.parametrize("settings, field", [
    ({"success_sample_rate": 101}, "delivery_status_logging.success_sample_rate"),
    ({"success_sample_rate": -1}, "delivery_status_logging.success_sample_rate"),
    ({"success_sample_rate": "50"}, "delivery_status_logging.success_sample_rate"),
    ({"log_retention_days": 10}, "delivery_status_logging.log_retention_days"),
    ({"enable": True}, "delivery_status_logging.enable"),
])
def test_bad_settings_name_the_field(settings, field):
    from pipeline_model.config import ConfigError, build_config

    with pytest.raises(ConfigError) as error:
        build_config(delivery_status_logging=settings)
    assert field in str(error.value) and "Traceback" not in str(error.value)


def test_props_take_the_setting_and_refuse_a_bad_one():
    from constructs_lib import EventPipelineProps
    from pipeline_model.config import ConfigError

    props = EventPipelineProps(delivery_status_logging={"enabled": True, "success_sample_rate": 100})
    assert props.delivery_status_logging.enabled and props.delivery_status_logging.success_sample_rate == 100
    with pytest.raises(ConfigError, match="delivery_status_logging.success_sample_rate"):
        EventPipelineProps(delivery_status_logging={"success_sample_rate": 200})


def test_role_prefix_fits_iam_name_prefix():
    from pipeline_model.names import ROLE_PREFIX_MAX, delivery_logs_role_prefix

    long = delivery_logs_role_prefix("a" * 63)
    assert len(long) <= ROLE_PREFIX_MAX and long.endswith("-sns-logs-")
    assert delivery_logs_role_prefix("my stack!") == "my-stack-sns-logs-"


@pytest.mark.parametrize("settings, field", [
    ({"success_sample_rate": 101}, "success_sample_rate"), ({"success_sample_rate": True}, "success_sample_rate"),
    ({"retention_days": 10}, "retention_days"),
])
def test_construct_alone_refuses_bad_props_naming_them(stack, account, settings, field):
    from constructs_lib import DeliveryStatusLogging, DeliveryStatusLoggingProps, PropsConflictError

    with pytest.raises(PropsConflictError, match=rf"props\.{field}: "):
        DeliveryStatusLogging(stack, "logs", props=DeliveryStatusLoggingProps(
            topic_name="events", account=account, region="us-east-1", role_name_prefix="events-sns-logs-", **settings))
