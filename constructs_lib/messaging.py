"""An SNS topic and the SQS queues subscribed to it (terraform-aws-modules/sns, /sqs)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from constructs import Construct

from . import modules
from .aws import SnsTopicSubscription
from .cdk import TerraformHclModule


@dataclass(frozen=True)
class TopicProps:
    name: str
    extra: dict[str, Any] = field(default_factory=dict)


class Topic(Construct):
    """The fan-out topic. Exposes ``topic_arn``."""

    def __init__(self, scope: Construct, id: str, *, props: TopicProps, module_id: str = "topic") -> None:
        super().__init__(scope, id)
        self.module = TerraformHclModule(
            self,
            "module",
            source=modules.SNS.source,
            version=modules.SNS.version,
            variables={"name": props.name, **props.extra},
        )
        self.module.override_logical_id(module_id)
        self.topic_arn = self.module.get_string("topic_arn")


@dataclass(frozen=True)
class QueueProps:
    name: str
    extra: dict[str, Any] = field(default_factory=dict)


class Queue(Construct):
    """A queue from the sqs module, e.g. the stream's on-failure destination.

    Exposes ``queue_arn``, ``queue_url``, ``queue_name`` and, when ``create_dlq`` is set,
    ``dlq_arn``, ``dlq_url`` and ``dlq_name``.
    """

    def __init__(self, scope: Construct, id: str, *, props: QueueProps, module_id: str) -> None:
        super().__init__(scope, id)
        self.module = TerraformHclModule(
            self, "module", source=modules.SQS.source, version=modules.SQS.version,
            variables={"name": props.name, **props.extra},
        )
        self.module.override_logical_id(module_id)
        self.queue_arn = self.module.get_string("queue_arn")
        self.queue_url = self.module.get_string("queue_url")
        self.queue_name = self.module.get_string("queue_name")
        self.dlq_arn = self.module.get_string("dead_letter_queue_arn")
        self.dlq_url = self.module.get_string("dead_letter_queue_url")
        self.dlq_name = self.module.get_string("dead_letter_queue_name")


@dataclass(frozen=True)
class SubscribedQueueProps:
    name: str
    visibility_timeout_seconds: int = 30
    message_retention_seconds: int | None = None
    raw_message_delivery: bool = False
    filter_policy: dict[str, Any] | None = None
    filter_policy_scope: str = "MessageAttributes"
    extra: dict[str, Any] = field(default_factory=dict)


def topic_send_statement(topic_arn: str, sid: str = "AllowThisTopicOnly") -> dict[str, Any]:
    """Queue policy statement: only this topic may send, and only SendMessage.

    The sqs module reads ``conditions`` (plural); a misspelt key is silently ignored and
    would leave the queue open to every topic, so the key is tested.
    """
    return {
        "sid": sid,
        "actions": ["sqs:SendMessage"],
        "principals": [{"type": "Service", "identifiers": ["sns.amazonaws.com"]}],
        "conditions": [{"test": "ArnEquals", "variable": "aws:SourceArn", "values": [topic_arn]}],
    }


class SubscribedQueue(Queue):
    """A queue whose policy admits only ``topic_arn``, subscribed to that topic."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        topic_arn: str,
        props: SubscribedQueueProps,
        module_id: str,
        subscription_id: str,
    ) -> None:
        variables: dict[str, Any] = {"visibility_timeout_seconds": props.visibility_timeout_seconds}
        if props.message_retention_seconds is not None:
            variables["message_retention_seconds"] = props.message_retention_seconds
        variables.update(props.extra)
        variables["create_queue_policy"] = True
        variables["queue_policy_statements"] = {
            **props.extra.get("queue_policy_statements", {}),
            "sns": topic_send_statement(topic_arn),
        }
        has_dlq = bool(props.extra.get("create_dlq"))
        if has_dlq:
            # The DLQ also takes what SNS itself could not deliver (subscription redrive policy).
            variables["create_dlq_queue_policy"] = True
            variables["dlq_queue_policy_statements"] = {
                **props.extra.get("dlq_queue_policy_statements", {}),
                "sns": topic_send_statement(topic_arn, sid="AllowThisTopicUndeliverable"),
            }
        super().__init__(scope, id, props=QueueProps(name=props.name, extra=variables), module_id=module_id)

        self.subscription = SnsTopicSubscription(
            self,
            "subscription",
            topic_arn=topic_arn,
            protocol="sqs",
            endpoint=self.queue_arn,
            raw_message_delivery=props.raw_message_delivery or None,
            filter_policy=json.dumps(props.filter_policy, sort_keys=True) if props.filter_policy else None,
            filter_policy_scope=props.filter_policy_scope if props.filter_policy else None,
            # Messages SNS cannot deliver (queue policy or key trouble) are kept, not dropped.
            redrive_policy=json.dumps({"deadLetterTargetArn": self.dlq_arn}) if has_dlq else None,
            # Subscribe only once the queue's policy (inside the module) admits the topic, or the
            # first deliveries after a deploy could be refused.
            depends_on=[self.module],
        )
        self.subscription.override_logical_id(subscription_id)
