"""The stack profile in the constructs (issue #21): one per stack, recorded by aws_provider, used by
every construct built alone or by a pipeline; what the current profile changes in the JSON."""

from __future__ import annotations

import pytest


def _provider(stack, region="eu-west-1", **kwargs):
    from constructs_lib.aws import AwsProvider

    return AwsProvider(stack, "aws", region=region, **kwargs)


def _versions(doc) -> dict[str, str]:
    return {name: block["version"] for name, block in doc["module"].items()}


def test_aws_provider_writes_the_current_profiles_constraints_and_the_pipeline_uses_its_modules(stack, synth):
    from constructs_lib import EventPipeline
    from constructs_lib.stack import aws_provider

    aws_provider(stack, "eu-west-1", profile="current")
    pipeline = EventPipeline(stack, "pipeline")
    assert pipeline.profile.name == "current" and pipeline.problems() == []
    doc = synth(stack)
    assert doc["terraform"]["required_version"] == ">= 1.5.7"
    assert doc["terraform"]["required_providers"]["aws"] == {"source": "hashicorp/aws", "version": ">= 6.28, < 7"}
    assert _versions(doc) == {
        "table": "~> 5.0", "idempotency_main": "~> 5.0", "topic": "~> 7.0", "alarm_topic": "~> 7.0",
        "stream_failures": "~> 5.0", "queue_main": "~> 5.0", "queue_main_delivery_dlq": "~> 5.0",
        "producer": "~> 8.0", "consumer_main": "~> 8.0",
    }
    # What SNS could not deliver fits the delivery DLQ as it fits the queue.
    assert doc["module"]["queue_main_delivery_dlq"]["max_message_size"] == 1048576
    # sns 7 reads 'condition' only: every statement's conditions are spelt so
    topic = doc["module"]["topic"]["topic_policy_statements"]
    assert "condition" in topic["deny_insecure_transport"] and "conditions" not in topic["deny_insecure_transport"]
    alarm = doc["module"]["alarm_topic"]["topic_policy_statements"]["cloudwatch_alarms"]
    assert [c["variable"] for c in alarm["condition"]] == ["aws:SourceAccount", "aws:SourceArn"]
    assert "conditions" not in alarm
    queue = doc["module"]["queue_main"]
    assert "condition" in queue["queue_policy_statements"]["sns"]
    # SNS sends what it could not deliver to the delivery DLQ, not to the consumer's DLQ
    assert "sns" not in queue["dlq_queue_policy_statements"]
    assert "condition" in doc["module"]["queue_main_delivery_dlq"]["queue_policy_statements"]["sns"]
    # 1 MiB subscriber queue and DLQ (one sqs input sets both); the stream-failure queue keeps SQS's default
    assert queue["max_message_size"] == 1048576
    assert "max_message_size" not in doc["module"]["stream_failures"]
    assert pipeline.subscribers[0].max_message_size == 1048576


def test_the_tutorial_profile_is_the_default_and_leaves_the_queue_size_to_sqs(stack, synth):
    from constructs_lib import EventPipeline
    from constructs_lib.stack import aws_provider

    aws_provider(stack, "eu-west-1")
    pipeline = EventPipeline(stack, "pipeline")
    assert pipeline.profile.name == "tutorial"
    doc = synth(stack)
    assert doc["terraform"]["required_providers"]["aws"]["version"] == "~> 5.0"
    assert _versions(doc)["topic"] == "~> 6.0" and _versions(doc)["queue_main"] == "~> 4.0"
    assert "conditions" in doc["module"]["topic"]["topic_policy_statements"]["deny_insecure_transport"]
    assert "max_message_size" not in doc["module"]["queue_main"]
    assert "max_message_size" not in doc["module"]["queue_main_delivery_dlq"]
    assert pipeline.subscribers[0].max_message_size == 262144


def test_queue_size_of_a_profile_is_what_the_subscriber_gets():
    from pipeline_model.stack_profiles import queue_max_message_size

    assert queue_max_message_size() == queue_max_message_size("tutorial") == 262144
    assert queue_max_message_size("current") == 1048576


def test_two_pipelines_asking_for_different_profiles_in_one_stack_is_an_error_naming_both(stack):
    from constructs_lib import EventPipeline, EventPipelineProps
    from pipeline_model.errors import ConfigError

    _provider(stack)
    EventPipeline(stack, "orders", props=EventPipelineProps(stack_profile="current"))
    with pytest.raises(ConfigError) as raised:
        EventPipeline(stack, "billing", props=EventPipelineProps(name="billing", name_suffix="-b",
                                                                 stack_profile="tutorial"))
    message = str(raised.value)
    assert "stack 'test' is built on profile 'current' (EventPipeline test/orders)" in message, message
    assert "EventPipeline test/billing asks for 'tutorial'" in message and "one profile per stack" in message
    # a pipeline asking for none takes the stack's
    other = EventPipeline(stack, "audit", props=EventPipelineProps(name="audit", name_suffix="-a"))
    assert other.profile.name == "current"


def test_aws_provider_after_a_pipeline_of_another_profile_is_refused(stack):
    from constructs_lib import EventPipeline
    from constructs_lib.stack import aws_provider
    from pipeline_model.errors import ConfigError

    EventPipeline(stack, "orders")  # no profile recorded: tutorial
    with pytest.raises(ConfigError, match=r"built on profile 'tutorial' \(EventPipeline test/orders\) but "
                                          r"aws_provider asks for 'current'"):
        aws_provider(stack, "eu-west-1", profile="current")


def test_an_unknown_profile_is_a_one_line_error_naming_the_field(stack):
    from constructs_lib import EventPipelineProps
    from constructs_lib.messaging import Queue, QueueProps
    from pipeline_model.errors import ConfigError

    with pytest.raises(ConfigError, match="props.stack_profile"):
        EventPipelineProps(stack_profile="newest")
    with pytest.raises(ConfigError) as raised:
        Queue(stack, "q", props=QueueProps(name="q", profile="newest"))
    assert str(raised.value).count("\n") <= 1 and "stack_profile: unknown profile 'newest'" in str(raised.value)


def test_constructs_built_alone_take_a_profile_and_then_share_the_stacks(stack, synth, account):
    from constructs_lib.function import PythonFunction, PythonFunctionProps
    from constructs_lib.messaging import Queue, QueueProps, SubscribedQueue, SubscribedQueueProps, Topic, TopicProps
    from constructs_lib.table import Table, TableProps

    _provider(stack)
    Queue(stack, "failures", props=QueueProps(name="failures", account=account, profile="current"))
    topic = Topic(stack, "topic", props=TopicProps(name="t", account=account))  # the stack's: current
    queue = SubscribedQueue(stack, "queue", topic=topic, props=SubscribedQueueProps(name="q", account=account))
    Table(stack, "table", props=TableProps(name="items"))
    PythonFunction(stack, "fn", props=PythonFunctionProps(function_name="fn", code="consumer", policy_statements={
        "read": {"effect": "Allow", "actions": ["sqs:ReceiveMessage"], "resources": [queue.queue_arn],
                 "conditions": [{"test": "Bool", "variable": "aws:SecureTransport", "values": ["true"]}]}}))
    doc = synth(stack)
    assert _versions(doc) == {"failures": "~> 5.0", "topic": "~> 7.0", "queue": "~> 5.0",
                              "queue_delivery_dlq": "~> 5.0", "table": "~> 5.0", "fn": "~> 8.0"}
    assert doc["module"]["queue"]["max_message_size"] == 1048576 and queue.max_message_size == 1048576
    assert "condition" in doc["module"]["fn"]["policy_statements"]["read"]


def test_a_constructs_profile_other_than_the_stacks_is_refused(stack, account):
    from constructs_lib.messaging import Topic, TopicProps
    from constructs_lib.stack import aws_provider
    from pipeline_model.errors import ConfigError

    aws_provider(stack, "eu-west-1")
    with pytest.raises(ConfigError, match=r"\(aws_provider\) but Topic test/topic asks for 'current'"):
        Topic(stack, "topic", props=TopicProps(name="t", account=account, profile="current"))


@pytest.mark.parametrize("profile, size, allowed", [
    ("tutorial", 262144, True), ("tutorial", 262145, False), ("current", 1048576, True),
    ("current", 1048577, False), ("current", 1023, False),
])
def test_max_message_size_within_what_the_profile_accepts(stack, account, profile, size, allowed):
    from constructs_lib.messaging import Queue, QueueProps
    from constructs_lib.props import PropsConflictError

    _provider(stack)
    make = lambda: Queue(stack, "q", props=QueueProps(name="q", account=account, max_message_size=size,  # noqa: E731
                                                      profile=profile))
    if allowed:
        assert make().max_message_size == size
        return
    with pytest.raises(PropsConflictError) as raised:
        make()
    assert f"props.max_message_size: {size} is outside 1024-" in str(raised.value)
    if profile == "tutorial":
        assert "the current stack profile" in str(raised.value)


@pytest.mark.parametrize("profile, attribute", [("tutorial", "name"), ("current", "region")])
def test_the_region_data_source_attribute_follows_the_profile(stack, synth, profile, attribute):
    from constructs_lib import EventPipeline, EventPipelineProps

    _provider(stack, region=None)  # no literal region: the facts come from data sources
    pipeline = EventPipeline(stack, "orders", props=EventPipelineProps(stack_profile=profile))
    assert not pipeline.facts.region_known
    text = synth(stack).__repr__()
    assert f"data.aws_region.current_region.{attribute}" in text
    other = "region" if attribute == "name" else "name"
    assert f"data.aws_region.current_region.{other}}}" not in text


def test_a_tutorial_pin_with_the_current_profile_fails_synth_naming_both(stack):
    from constructs_lib import EventPipeline, EventPipelineProps

    _provider(stack)
    stack.add_override("terraform.required_providers.aws.version", "~> 5.0")
    pipeline = EventPipeline(stack, "orders", props=EventPipelineProps(stack_profile="current"))
    problems = pipeline.problems()
    assert len(problems) == 1, problems
    assert "'~> 5.0'" in problems[0] and "'>= 6.28'" in problems[0] and "current profile" in problems[0]
    with pytest.raises(RuntimeError, match=r"the stack pins hashicorp/aws '~> 5\.0'"):
        stack.node.scope.synth()


@pytest.mark.parametrize("constraint", [None, ">= 6.28, < 7", "~> 6.0"])
def test_tutorial_modules_on_an_aws_6_provider_pass_and_nothing_is_written_over_it(stack, synth, constraint):
    from constructs_lib import EventPipeline

    _provider(stack)
    if constraint:
        stack.add_override("terraform.required_providers.aws.version", constraint)
    pipeline = EventPipeline(stack, "orders")
    assert pipeline.profile.name == "tutorial" and pipeline.problems() == []
    written = synth(stack)["terraform"]["required_providers"]["aws"]["version"]
    assert written == constraint if constraint else written.split(".")[0] == "6"
