"""Topic alone: owner-only, TLS deny with explicit SNS actions, KMS; overrides and conflicts."""

from __future__ import annotations

import pytest


def topic(stack, **props):
    from constructs_lib import Topic, TopicProps

    return Topic(stack, "t", props=TopicProps(name="events", **props))


def test_defaults(stack, synth, account):
    topic(stack, account=account)
    module = synth(stack)["module"]["t"]
    assert module["name"] == "events"
    assert module["enable_default_topic_policy"] is False
    statements = module["topic_policy_statements"]
    assert set(statements) == {"owner", "deny_insecure_transport"}
    deny = statements["deny_insecure_transport"]
    assert "sns:Publish" in deny["actions"] and not [a for a in deny["actions"] if a.endswith("*")]
    assert "kms_master_key_id" not in module


def test_key_and_extra_statements(stack, synth, account):
    from constructs_lib import MessagingKey

    key = MessagingKey(stack, "key", alias="alias/t", account=account, region="us-east-1")
    extra = {"sid": "Mine", "effect": "Allow", "actions": ["sns:Subscribe"],
             "principals": [{"type": "AWS", "identifiers": ["arn:aws:iam::123456789012:role/r"]}]}
    topic(stack, account=account, key=key, enforce_tls=False, policy_statements={"mine": extra})
    module = synth(stack)["module"]["t"]
    assert module["kms_master_key_id"] == "${aws_kms_key.messaging_key.arn}"
    assert set(module["topic_policy_statements"]) == {"owner", "mine"}


def test_user_override_beats_default(stack, synth, account):
    topic(stack, account=account, extra={"enable_default_topic_policy": True, "fifo_topic": False})
    module = synth(stack)["module"]["t"]
    assert module["enable_default_topic_policy"] is True and module["fifo_topic"] is False


def test_conflicting_name_is_rejected(stack, account):
    from constructs_lib import PropsConflictError

    with pytest.raises(PropsConflictError, match=r"Topic test/t: extra\['name'\]"):
        topic(stack, account=account, extra={"name": "other"})


def test_custom_logical_id(stack, synth, account):
    from constructs_lib import Topic, TopicProps

    Topic(stack, "t", props=TopicProps(name="events", account=account), logical_id="events_topic")
    assert list(synth(stack)["module"]) == ["events_topic"]


def test_fifo_topic(stack, synth, account):
    from constructs_lib import Topic, TopicProps

    Topic(stack, "t", props=TopicProps(name="events.fifo", account=account, fifo=True))
    module = synth(stack)["module"]["t"]
    assert module["name"] == "events.fifo"
    assert module["fifo_topic"] is True
    assert module["content_based_deduplication"] is False  # the producer sets the deduplication id
    assert module["fifo_throughput_scope"] == "MessageGroup"


@pytest.mark.parametrize(("name", "fifo", "rule"), [
    ("events", True, "a FIFO topic's name must end in '.fifo'"),
    ("events.fifo", False, "ends in '.fifo', which only a FIFO topic may"),
])
def test_fifo_name_must_match_the_kind(stack, account, name, fifo, rule):
    from constructs_lib import PropsConflictError, Topic, TopicProps

    with pytest.raises(PropsConflictError) as caught:
        Topic(stack, "t", props=TopicProps(name=name, account=account, fifo=fifo))
    assert "props.name" in str(caught.value) and rule in str(caught.value)
