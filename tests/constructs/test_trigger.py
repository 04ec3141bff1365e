"""EventSourceTrigger alone: the managed policy first, then the mapping; later dependencies."""

from __future__ import annotations


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
