"""Queue and SubscribedQueue alone: their defaults, the override rule, conflicts."""

from __future__ import annotations

import pytest


def queue(stack, **props):
    from constructs_lib import Queue, QueueProps

    return Queue(stack, "q", props=QueueProps(name="orders", **props))


def test_defaults_owner_only_tls_deny_no_kms_without_key(stack, synth, account):
    queue(stack, account=account)
    module = synth(stack)["module"]["q"]
    assert module["name"] == "orders"
    assert module["create_queue_policy"] is True
    statements = module["queue_policy_statements"]
    assert set(statements) == {"owner", "deny_insecure_transport"}
    assert statements["owner"]["principals"] == [{"type": "AWS", "identifiers": ["arn:aws:iam::123456789012:root"]}]
    deny = statements["deny_insecure_transport"]
    assert deny["effect"] == "Deny" and deny["actions"] == ["sqs:*"]
    assert deny["conditions"][0]["variable"] == "aws:SecureTransport"
    assert "kms_master_key_id" not in module and "create_dlq" not in module


def test_without_account_the_stack_looks_up_the_caller_once(stack, synth):
    from constructs_lib import Queue, QueueProps

    queue(stack)
    Queue(stack, "other", props=QueueProps(name="other"))
    doc = synth(stack)
    assert list(doc["data"]["aws_caller_identity"]) == ["caller_identity"]
    owner = doc["module"]["q"]["queue_policy_statements"]["owner"]
    # A stack without an AWS provider region: the partition is the stack's too, read at plan time.
    assert owner["principals"][0]["identifiers"] == [
        "arn:${data.aws_partition.current_partition.partition}:iam::"
        "${data.aws_caller_identity.caller_identity.account_id}:root"]


def test_key_encrypts_queue_and_dlq(stack, synth, account):
    from constructs_lib import MessagingKey

    key = MessagingKey(stack, "key", alias="alias/x", account=account, region="eu-west-1")
    queue(stack, account=account, key=key, dead_letter_queue=True, max_receive_count=3)
    module = synth(stack)["module"]["q"]
    assert module["sqs_managed_sse_enabled"] is False and module["dlq_sqs_managed_sse_enabled"] is False
    assert module["kms_master_key_id"] == module["dlq_kms_master_key_id"] == "${aws_kms_key.messaging_key.arn}"
    assert module["create_dlq"] is True and module["redrive_policy"] == {"maxReceiveCount": 3}
    assert module["dlq_message_retention_seconds"] == 1209600
    assert set(module["dlq_queue_policy_statements"]) == {"owner", "deny_insecure_transport"}


def test_override_order_user_over_defaults(stack, synth, account):
    replaced_owner = {"sid": "Mine", "effect": "Allow", "actions": ["sqs:SendMessage"],
                      "principals": [{"type": "AWS", "identifiers": ["arn:aws:iam::123456789012:role/r"]}]}
    queue(stack, account=account, enforce_tls=False, visibility_timeout_seconds=40,
          policy_statements={"owner": replaced_owner},
          extra={"visibility_timeout_seconds": 90, "create_queue_policy": True, "delay_seconds": 5})
    module = synth(stack)["module"]["q"]
    assert module["queue_policy_statements"] == {"owner": replaced_owner}  # TLS deny turned off, owner replaced
    assert module["visibility_timeout_seconds"] == 90  # extra is applied after the typed prop
    assert module["delay_seconds"] == 5


def test_conflicting_name_is_rejected_naming_the_prop(stack):
    from constructs_lib import PropsConflictError

    with pytest.raises(PropsConflictError, match=r"extra\['name'\]: the construct sets this itself"):
        queue(stack, extra={"name": "other"})


def subscribed(stack, account, **props):
    from constructs_lib import SubscribedQueue, SubscribedQueueProps, Topic, TopicProps

    topic = Topic(stack, "t", props=TopicProps(name="events", account=account))
    return SubscribedQueue(stack, "sq", topic=topic, props=SubscribedQueueProps(name="orders", account=account, **props))


def test_subscribed_queue_admits_only_its_topic_and_has_a_dlq(stack, synth, account):
    sq = subscribed(stack, account, filter_policy={"kind": ["order"]})
    doc = synth(stack)
    module = doc["module"]["sq"]
    sns = module["queue_policy_statements"]["sns"]
    assert sns["conditions"] == [{"test": "ArnEquals", "variable": "aws:SourceArn", "values": ["${module.t.topic_arn}"]}]
    assert "sns" not in module["dlq_queue_policy_statements"]  # the consumer's failures only
    assert module["create_dlq"] is True
    delivery = doc["module"]["sq_delivery_dlq"]
    assert delivery["name"] == "orders-delivery-dlq"
    assert delivery["queue_policy_statements"]["sns"]["sid"] == "AllowThisTopicUndeliverable"
    subscription = doc["resource"]["aws_sns_topic_subscription"]["sq_subscription"]
    assert subscription["depends_on"] == ["module.sq", "module.sq_delivery_dlq"]
    assert subscription["filter_policy"] == '{"kind": ["order"]}'
    assert subscription["redrive_policy"] == '{"deadLetterTargetArn": "${module.sq_delivery_dlq.queue_arn}"}'
    assert sq.subscription is not None


def test_subscribed_queue_rejects_replacing_the_topic_statement(stack, account):
    from constructs_lib import PropsConflictError

    with pytest.raises(PropsConflictError, match=r"policy_statements\['sns'\]"):
        subscribed(stack, account, policy_statements={"sns": {"sid": "open", "actions": ["sqs:*"]}})


def test_subscribed_queue_lets_its_topic_use_the_key(stack, synth, account):
    import json

    from constructs_lib import MessagingKey

    key = MessagingKey(stack, "key", alias="alias/x", account=account, region="eu-west-1")
    subscribed(stack, account, key=key)
    policy = json.loads(synth(stack)["resource"]["aws_kms_key"]["messaging_key"]["policy"])
    (sns,) = [s for s in policy["Statement"] if s["Sid"] == "SnsWritesEncryptedMessages"]
    assert sns["Condition"]["ArnEquals"]["aws:SourceArn"] == ["arn:aws:sns:eu-west-1:123456789012:events"]


def test_fifo_queue_and_its_dlq(stack, synth, account):
    from constructs_lib import Queue, QueueProps

    Queue(stack, "q", props=QueueProps(name="orders.fifo", account=account, fifo=True, dead_letter_queue=True))
    module = synth(stack)["module"]["q"]
    assert module["fifo_queue"] is True and module["content_based_deduplication"] is False
    assert module["deduplication_scope"] == "messageGroup"
    assert module["fifo_throughput_limit"] == "perMessageGroupId"
    assert module["create_dlq"] is True  # the sqs module makes the DLQ FIFO (<stem>-dlq.fifo) as well


@pytest.mark.parametrize(("name", "fifo", "rule"), [
    ("orders", True, "a FIFO queue's name must end in '.fifo'"),
    ("orders.fifo", False, "ends in '.fifo', which only a FIFO queue may"),
])
def test_fifo_name_must_match_the_kind(stack, account, name, fifo, rule):
    from constructs_lib import PropsConflictError, Queue, QueueProps

    with pytest.raises(PropsConflictError) as caught:
        Queue(stack, "q", props=QueueProps(name=name, account=account, fifo=fifo))
    assert "props.name" in str(caught.value) and rule in str(caught.value)


def test_a_fifo_queue_cannot_subscribe_to_a_standard_topic(stack, account):
    """SNS delivers to SQS FIFO queues from FIFO topics only (a FIFO topic takes standard queues
    too): the subscription would be refused at apply, so the construct refuses it up front."""
    from constructs_lib import PropsConflictError, SubscribedQueue, SubscribedQueueProps, Topic, TopicProps

    standard = Topic(stack, "t", props=TopicProps(name="events", account=account))
    with pytest.raises(PropsConflictError, match=r"SubscribedQueue test/sq: props.fifo: a FIFO queue can be "
                                                 r"subscribed to an SNS FIFO topic only; topic 'events' is standard"):
        SubscribedQueue(stack, "sq", topic=standard,
                        props=SubscribedQueueProps(name="orders.fifo", account=account, fifo=True))
    fifo = Topic(stack, "ft", props=TopicProps(name="events.fifo", account=account, fifo=True))
    SubscribedQueue(stack, "fq", topic=fifo, props=SubscribedQueueProps(name="orders.fifo", account=account, fifo=True))
    SubscribedQueue(stack, "q", topic=fifo, props=SubscribedQueueProps(name="orders", account=account))


def test_statement_conditions_are_written_under_the_key_the_module_reads(stack, synth, account):
    """A user statement written with the lambda module's 'condition' reaches the sqs 4 / sns 6 modules
    as 'conditions' (the key they read), instead of being silently ignored."""
    from constructs_lib import Topic, TopicProps

    restricted = {"sid": "OnlyFromOrg", "actions": ["sqs:SendMessage"], "principals": [{"type": "AWS", "identifiers": ["*"]}],
                  "condition": [{"test": "StringEquals", "variable": "aws:PrincipalOrgID", "values": ["o-1"]}]}
    queue(stack, account=account, policy_statements={"org": restricted})
    Topic(stack, "t", props=TopicProps(name="events", account=account,
                                       policy_statements={"org": {**restricted, "actions": ["sns:Publish"]}}))
    doc = synth(stack)["module"]
    for statement in (doc["q"]["queue_policy_statements"]["org"], doc["t"]["topic_policy_statements"]["org"]):
        assert "condition" not in statement
        assert statement["conditions"] == restricted["condition"]


def test_statement_with_both_condition_spellings_is_refused(stack, account):
    from constructs_lib import PropsConflictError

    both = {"actions": ["sqs:SendMessage"], "condition": [], "conditions": []}
    with pytest.raises(PropsConflictError) as raised:
        queue(stack, account=account, policy_statements={"org": both})
    assert str(raised.value) == (
        "Queue test/q: queue_policy_statements.org: gives both 'condition' and 'conditions'; write the "
        "conditions once, under 'conditions' (the key terraform-aws-modules/sqs/aws v4.3.1 reads)")
