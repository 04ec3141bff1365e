"""EventSourceTrigger alone: the managed policy first, then the mapping; later dependencies."""

from __future__ import annotations

import pytest


def test_mapping_waits_for_its_policy_and_for_what_is_added_later(stack, synth, account):
    from constructs_lib import (
        EventSourceTrigger, PythonFunction, PythonFunctionProps, Queue, QueueProps, TriggerProps,
    )

    fn = PythonFunction(stack, "fn", props=PythonFunctionProps(function_name="f", code="consumer"))
    queue = Queue(stack, "q", props=QueueProps(name="q", account=account))
    trigger = EventSourceTrigger(stack, "t", function=fn, props=TriggerProps(
        event_source_arn=queue.queue_arn, managed_policy_arn="arn:aws:iam::aws:policy/service-role/X",
        mapping={"batch_size": 10},
    ))
    later = Queue(stack, "later", props=QueueProps(name="later", account=account))
    trigger.wait_for(later.module)
    resources = synth(stack)["resource"]
    attachment = resources["aws_iam_role_policy_attachment"]["fn_execution_policy"]
    assert attachment["role"] == "${module.fn.lambda_role_name}"
    mapping = resources["aws_lambda_event_source_mapping"]["fn_event_source"]
    assert mapping["depends_on"] == ["aws_iam_role_policy_attachment.fn_execution_policy", "module.later"]
    assert mapping["event_source_arn"] == "${module.q.queue_arn}" and mapping["batch_size"] == 10


# --- iam = "scoped" (issue #20, least privilege): an inline policy on the source only ------------------------

def test_scoped_trigger_grants_only_its_source_and_the_mapping_waits_for_it(stack, synth, account):
    import json

    from constructs_lib import (
        QUEUE_READ_ACTIONS, EventSourceTrigger, PythonFunction, PythonFunctionProps, Queue, QueueProps, TriggerProps,
    )

    fn = PythonFunction(stack, "fn", props=PythonFunctionProps(function_name="f", code="consumer"))
    queue = Queue(stack, "q", props=QueueProps(name="q", account=account))
    trigger = EventSourceTrigger(stack, "t", function=fn, props=TriggerProps(
        event_source_arn=queue.queue_arn, iam="scoped", source_actions=QUEUE_READ_ACTIONS,
        mapping={"batch_size": 10},
    ))
    assert trigger.attachment is None and trigger.permission is trigger.source_policy
    resources = synth(stack)["resource"]
    assert "aws_iam_role_policy_attachment" not in resources  # no AWS-managed policy at all
    policy = resources["aws_iam_role_policy"]["fn_event_source_policy"]
    assert policy["role"] == "${module.fn.lambda_role_name}"
    assert json.loads(policy["policy"])["Statement"] == [{
        "Sid": "ReadEventSource", "Effect": "Allow",
        "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
        "Resource": "${module.q.queue_arn}",
    }]
    mapping = resources["aws_lambda_event_source_mapping"]["fn_event_source"]
    assert mapping["depends_on"] == ["aws_iam_role_policy.fn_event_source_policy"]


@pytest.mark.parametrize("props, rule", [
    ({"iam": "scoped"}, r"props.source_actions: iam = \"scoped\" needs the actions"),
    ({"iam": "scoped", "source_actions": ("sqs:*",)}, r"props.source_actions: .*no '\*'"),
    ({"iam": "scoped", "source_actions": ("ReceiveMessage",)}, r"props.source_actions: .*service:Action"),
    ({"iam": "open", "managed_policy_arn": "arn:aws:iam::aws:policy/X"}, r"props.iam: 'open' is not one of 'managed', 'scoped'"),
    ({}, r"props.managed_policy_arn: required with iam = \"managed\""),
])
def test_trigger_refuses_a_permission_it_cannot_scope(stack, account, props, rule):
    from constructs_lib import EventSourceTrigger, PropsConflictError, PythonFunction, PythonFunctionProps, TriggerProps

    fn = PythonFunction(stack, "fn", props=PythonFunctionProps(function_name="f", code="consumer"))
    with pytest.raises(PropsConflictError, match=rf"^EventSourceTrigger test/t: {rule}"):
        EventSourceTrigger(stack, "t", function=fn, props=TriggerProps(event_source_arn="arn:aws:sqs:::q", **props))
    assert stack.node.try_find_child("t") is None  # nothing half-built


def test_subscriber_built_alone_reads_only_its_own_queue_when_scoped(stack, synth, account):
    import json

    from constructs_lib import Subscriber, SubscriberProps, Topic, TopicProps
    from pipeline_model.config import SubscriberConfig

    topic = Topic(stack, "topic", props=TopicProps(name="events", account=account))
    for name, iam in (("a", "scoped"), ("b", "managed")):
        Subscriber(stack, name, props=SubscriberProps(topic=topic, settings=SubscriberConfig(name=name),
                                                      account=account, partition="aws", iam=iam))
    resources = synth(stack)["resource"]
    (scoped,) = resources["aws_iam_role_policy"].values()
    assert scoped["role"] == "${module.consumer_a.lambda_role_name}"
    assert json.loads(scoped["policy"])["Statement"][0]["Resource"] == "${module.queue_a.queue_arn}"
    (managed,) = resources["aws_iam_role_policy_attachment"].values()  # the other subscriber keeps the default
    assert managed["role"] == "${module.consumer_b.lambda_role_name}"
    assert managed["policy_arn"] == "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"
    mappings = resources["aws_lambda_event_source_mapping"]
    assert mappings["consumer_a_event_source"]["depends_on"] == ["aws_iam_role_policy.consumer_a_event_source_policy"]
    assert mappings["consumer_b_event_source"]["depends_on"] == [
        "aws_iam_role_policy_attachment.consumer_b_execution_policy"]
