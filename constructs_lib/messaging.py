"""An SNS topic and SQS queues, each with its own secure defaults (terraform-aws-modules/sns, /sqs).

Defaults (each can be overridden, see :mod:`constructs_lib.props`): a resource policy granting
the owning account only, a statement denying every request made without TLS, encryption with
the customer-managed key when one is given, and for a subscribed queue a dead-letter queue.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from constructs import Construct

from pipeline_model import defaults

from . import modules
from pipeline_model.ordering import FIFO_QUEUE_INPUTS, FIFO_TOPIC_INPUTS, delivery_dlq_name, fifo_name_problem
from .aws import SnsTopicSubscription
from .cdk import TerraformHclModule
from pipeline_model.contract import FAILED_MESSAGE_RETENTION_SECONDS
from .ids import set_logical_id
from .props import PropsConflictError, merge, prop
from .security import (
    SNS_OWNER_ACTIONS,
    SQS_OWNER_ACTIONS,
    Account,
    MessagingKey,
    deny_insecure_transport,
    owner_statement,
    stack_account,
)

if TYPE_CHECKING:
    from .delivery_logging import SqsFeedback


def protective_statements(service: str, account: Account, enforce_tls: bool) -> dict[str, dict[str, Any]]:
    """The default resource-policy statements: owner-only (+ TLS-only deny)."""
    actions = SNS_OWNER_ACTIONS if service == "sns" else SQS_OWNER_ACTIONS
    statements = {"owner": owner_statement(account, actions)}
    if enforce_tls:
        statements["deny_insecure_transport"] = deny_insecure_transport(service)
    return statements


def _spell_conditions(owner: str, module: modules.ModuleSource, variables: dict[str, Any], *inputs: str) -> None:
    """Write each statement's conditions under the key ``module`` reads (see ModuleSource.spell_conditions)."""
    for name in inputs:
        if isinstance(variables.get(name), dict):
            try:
                variables[name] = module.spell_conditions(variables[name], name)
            except ValueError as error:
                raise PropsConflictError(f"{owner}: {error}") from None


@dataclass(frozen=True)
class TopicProps:
    name: str = prop(description="The topic's name (required).")
    key: MessagingKey | None = prop(None, "Customer-managed key encrypting the topic; None = not encrypted.")
    account: Account | None = prop(None, "Owner of the topic; None = the account running Terraform.")
    enforce_tls: bool = prop(defaults.ENFORCE_TLS, "Deny every request made without TLS (topic policy).")
    fifo: bool = prop(False, "An SNS FIFO topic (name ending in '.fifo'; content-based deduplication off, "
                      "throughput per message group). Only FIFO queues subscribed to it keep the order.")
    policy_statements: dict[str, Any] = prop(
        description="Topic policy statements (sns module format) added to, or replacing by key, the defaults "
        "'owner' and 'deny_insecure_transport'.", factory=dict)
    sqs_feedback: "SqsFeedback | None" = prop(
        None, "Delivery status logging of deliveries to SQS: the role SNS assumes and the success sample rate "
        "(constructs_lib.delivery_logging.DeliveryStatusLogging makes both); None = no delivery status logs.")
    extra: dict[str, Any] = prop(description="Further sns module inputs, applied over the defaults.", factory=dict)
    profile: str | None = prop(None, "Stack profile whose sns module major is used (tutorial, current); None = "
                                     "the stack's (see constructs_lib.aws_provider).")


class Topic(Construct):
    """An SNS topic, owner-only and TLS-only, encrypted with ``key``. Exposes ``topic_arn``, ``name``."""

    def __init__(self, scope: Construct, id: str, *, props: TopicProps, logical_id: str | None = None) -> None:
        super().__init__(scope, id)
        self.name = props.name
        self.fifo = props.fifo
        owner = f"Topic {self.node.path}"
        problem = fifo_name_problem(props.name, props.fifo, "topic")
        if problem:
            raise PropsConflictError(f"{owner}: props.name: {problem}")
        module = modules.stack_profile(self, props.profile, by=owner).sns
        account = props.account or stack_account(self)
        defaults: dict[str, Any] = {
            # The module's default statement allows principal "*" conditioned on the source
            # account; the owner statement is the stricter equivalent.
            "enable_default_topic_policy": False,
        }
        if props.key is not None:
            defaults["kms_master_key_id"] = props.key.key_arn
        if props.fifo:
            defaults.update(FIFO_TOPIC_INPUTS)
        required: dict[str, tuple[Any, str]] = {"name": (props.name, "props.name")}
        if props.sqs_feedback is not None:
            required["sqs_feedback"] = (props.sqs_feedback.module_input(), "props.sqs_feedback")
        variables = merge(owner, defaults, props.extra, required)
        variables["topic_policy_statements"] = merge(
            owner,
            protective_statements("sns", account, props.enforce_tls),
            {**props.extra.get("topic_policy_statements", {}), **props.policy_statements},
            {},
            "policy_statements",
        )
        _spell_conditions(owner, module, variables, "topic_policy_statements")
        depends_on = list(props.sqs_feedback.depends_on) if props.sqs_feedback is not None else None
        self.module = TerraformHclModule(
            self, "module", source=module.source, version=module.version, variables=variables,
            depends_on=depends_on or None,
        )
        set_logical_id(self.module, logical_id or id)
        self.topic_arn = self.module.get_string("topic_arn")


@dataclass(frozen=True)
class QueueProps:
    name: str = prop(description="The queue's name (required); its DLQ is '<name>-dlq' ('<stem>-dlq.fifo' for '<stem>.fifo').")
    key: MessagingKey | None = prop(None, "Customer-managed key encrypting the queue (and DLQ); None = SQS-managed SSE.")
    account: Account | None = prop(None, "Owner of the queue; None = the account running Terraform.")
    enforce_tls: bool = prop(defaults.ENFORCE_TLS, "Deny every request made without TLS (queue and DLQ policies).")
    visibility_timeout_seconds: int | None = prop(None, "Visibility timeout; None = the module's default (30 s).")
    message_retention_seconds: int | None = prop(None, "How long messages are kept; None = the module's default (4 days).")
    dead_letter_queue: bool = prop(False, "Create a dead-letter queue receiving what failed max_receive_count times.")
    max_receive_count: int = prop(defaults.MAX_RECEIVE_COUNT, "Receives before a message moves to the DLQ (with dead_letter_queue).")
    dlq_message_retention_seconds: int = prop(
        FAILED_MESSAGE_RETENTION_SECONDS, "How long the DLQ keeps failed messages (default: the maximum, 14 days).")
    fifo: bool = prop(False, "An SQS FIFO queue (and DLQ), name ending in '.fifo'; content-based deduplication "
                      "off, deduplication and throughput per message group.")
    policy_statements: dict[str, Any] = prop(
        description="Queue policy statements (sqs module format) added to, or replacing by key, the defaults "
        "'owner' and 'deny_insecure_transport'.", factory=dict)
    max_message_size: int | None = prop(
        None, "Largest message (bytes) the queue and its DLQ accept, 1024-1048576 (above 262144: the current "
        "profile, hashicorp/aws >= 6.8); None = SQS's default (262144).")
    extra: dict[str, Any] = prop(description="Further sqs module inputs, applied over the defaults.", factory=dict)
    profile: str | None = prop(None, "Stack profile whose sqs module major is used (tutorial, current); None = "
                                     "the stack's (see constructs_lib.aws_provider).")


class Queue(Construct):
    """An SQS queue, owner-only and TLS-only, encrypted with ``key``, with an optional DLQ.

    Exposes ``queue_arn``, ``queue_url``, ``queue_name`` and, with a DLQ, ``dlq_arn``,
    ``dlq_url`` and ``dlq_name``.
    """

    def __init__(self, scope: Construct, id: str, *, props: QueueProps, logical_id: str | None = None,
                 required_statements: dict[str, tuple[Any, str]] | None = None,
                 required_dlq_statements: dict[str, tuple[Any, str]] | None = None) -> None:
        super().__init__(scope, id)
        owner = f"Queue {self.node.path}"
        problem = fifo_name_problem(props.name, props.fifo, "queue")
        if problem:
            raise PropsConflictError(f"{owner}: props.name: {problem}")
        chosen = modules.stack_profile(self, props.profile, by=owner)
        module = chosen.sqs
        account = props.account or stack_account(self)
        extra = props.extra
        dlq = props.dead_letter_queue or bool(extra.get("create_dlq"))
        defaults: dict[str, Any] = {}
        for key in ("visibility_timeout_seconds", "message_retention_seconds"):
            if getattr(props, key) is not None:
                defaults[key] = getattr(props, key)
        if props.dead_letter_queue:
            defaults["create_dlq"] = True
            defaults["redrive_policy"] = {"maxReceiveCount": props.max_receive_count}
            defaults["dlq_message_retention_seconds"] = props.dlq_message_retention_seconds
        if props.fifo:
            defaults.update(FIFO_QUEUE_INPUTS)
        max_message_size = self._max_message_size(props, chosen)
        if max_message_size is not None:
            _check_max_message_size(owner, max_message_size, chosen)
            defaults["max_message_size"] = max_message_size  # the sqs input sets the queue and its DLQ
        defaults["create_queue_policy"] = True
        if dlq:
            defaults["create_dlq_queue_policy"] = True
        if props.key is not None:
            # SNS cannot deliver into a queue encrypted with the AWS-managed alias/aws/sqs key;
            # a customer-managed key whose policy admits sns.amazonaws.com works.
            defaults["sqs_managed_sse_enabled"] = False
            defaults["kms_master_key_id"] = props.key.key_arn
            if dlq:
                defaults["dlq_sqs_managed_sse_enabled"] = False
                defaults["dlq_kms_master_key_id"] = props.key.key_arn
        variables = merge(owner, defaults, extra, {"name": (props.name, "props.name")})
        protective = protective_statements("sqs", account, props.enforce_tls)
        variables["queue_policy_statements"] = merge(
            owner, protective, {**extra.get("queue_policy_statements", {}), **props.policy_statements},
            required_statements or {}, "policy_statements",
        )
        if dlq:
            variables["dlq_queue_policy_statements"] = merge(
                owner, protective, extra.get("dlq_queue_policy_statements", {}),
                required_dlq_statements or {}, "extra['dlq_queue_policy_statements']",
            )
        _spell_conditions(owner, module, variables, "queue_policy_statements", "dlq_queue_policy_statements")
        self.module = TerraformHclModule(
            self, "module", source=module.source, version=module.version, variables=variables,
        )
        given = variables.get("max_message_size")
        #: The largest message (bytes) the queue and its DLQ accept (SQS's default when nothing sets it).
        self.max_message_size: int = given if isinstance(given, int) else modules.SQS_DEFAULT_MAX_MESSAGE_SIZE
        self.logical_id = logical_id or id
        set_logical_id(self.module, self.logical_id)
        self.has_dlq = dlq
        self.queue_arn = self.module.get_string("queue_arn")
        self.queue_url = self.module.get_string("queue_url")
        self.queue_name = self.module.get_string("queue_name")
        self.dlq_arn = self.module.get_string("dead_letter_queue_arn")
        self.dlq_url = self.module.get_string("dead_letter_queue_url")
        self.dlq_name = self.module.get_string("dead_letter_queue_name")


    def _max_message_size(self, props: QueueProps, profile: modules.StackProfile) -> int | None:
        """The ``max_message_size`` input to write (None: leave SQS's default)."""
        return props.max_message_size


def _check_max_message_size(owner: str, size: int, profile: modules.StackProfile) -> None:
    largest = (modules.SQS_LARGEST_MAX_MESSAGE_SIZE if profile.subscriber_queue_max_message_size
               else modules.SQS_DEFAULT_MAX_MESSAGE_SIZE)
    if isinstance(size, bool) or not isinstance(size, int) or not 1024 <= size <= largest:
        hint = (" (1 MiB queues need hashicorp/aws >= 6.8: the current stack profile)"
                if largest == modules.SQS_DEFAULT_MAX_MESSAGE_SIZE else "")
        raise PropsConflictError(
            f"{owner}: props.max_message_size: {size!r} is outside 1024-{largest} bytes in the "
            f"{profile.name!r} stack profile{hint}")


def topic_send_statement(topic_arn: str, sid: str = "AllowThisTopicOnly") -> dict[str, Any]:
    """Queue policy statement: only this topic may send, and only SendMessage.

    The sqs module reads ``conditions`` (sqs 4) or ``condition`` (sqs 5); a misspelt key is silently
    ignored and would leave the queue open to every topic, so :class:`Queue` writes the conditions
    under the key its module reads (``ModuleSource.condition_key``) and the key is tested.
    """
    return {
        "sid": sid,
        "actions": ["sqs:SendMessage"],
        "principals": [{"type": "Service", "identifiers": ["sns.amazonaws.com"]}],
        "conditions": [{"test": "ArnEquals", "variable": "aws:SourceArn", "values": [topic_arn]}],
    }


@dataclass(frozen=True)
class SubscribedQueueProps(QueueProps):
    dead_letter_queue: bool = prop(True, "Create a DLQ: what the consumer failed max_receive_count times.")
    delivery_dlq_name: str | None = prop(None, "The queue taking what SNS could not deliver (the subscription's "
                                         "redrive policy); None = '<name>-delivery-dlq' ('<stem>-delivery-dlq.fifo').")
    raw_message_delivery: bool = prop(defaults.RAW_MESSAGE_DELIVERY, "Deliver the message body as published, without the SNS envelope.")
    filter_policy: dict[str, Any] | None = prop(None, "SNS filter policy of the subscription; None = every message.")
    filter_policy_scope: str = prop(defaults.FILTER_POLICY_SCOPE, "What the filter policy matches: MessageAttributes or MessageBody.")
    max_message_size: int | None = prop(
        None, "Largest message (bytes) the queue and its DLQ accept; None = the stack profile's subscriber queue "
        "size (current: 1048576, so the SNS envelope around a 256 KiB message fits; tutorial: SQS's default 262144).")


class SubscribedQueue(Queue):
    """A queue whose policy admits only ``topic``, subscribed to it (the aws-sns-sqs pattern).

    Required (an override may not change them): the ``sns`` statement letting only this topic
    send (queue and delivery DLQ). With a key, the key admits the topic's deliveries.

    What SNS cannot deliver (a message too large for the queue, a policy or key problem) goes to a queue of its
    own, ``delivery_dlq`` (the subscription's redrive policy; FIFO for a FIFO queue, as SNS requires), encrypted
    like the queue, kept 14 days; the consumer's failures go to the queue's DLQ: the two never mix.
    """

    def __init__(self, scope: Construct, id: str, *, topic: Topic, props: SubscribedQueueProps,
                 logical_id: str | None = None, subscription_logical_id: str | None = None) -> None:
        if props.fifo and not topic.fifo:
            # SNS refuses the subscription (a FIFO topic takes FIFO and standard queues).
            raise PropsConflictError(
                f"SubscribedQueue {scope.node.path}/{id}: props.fifo: a FIFO queue can be subscribed to an SNS "
                f"FIFO topic only; topic {topic.name!r} is standard"
            )
        super().__init__(
            scope, id, props=props, logical_id=logical_id,
            required_statements={"sns": (topic_send_statement(topic.topic_arn), "only the subscribed topic may send")},
        )
        if props.key is not None:
            props.key.allow_topic(topic.name)
        # What SNS itself could not deliver (subscription redrive policy), apart from the consumer's failures.
        self.delivery_dlq_name = props.delivery_dlq_name or delivery_dlq_name(props.name)
        self.delivery_dlq = Queue(
            self, "delivery_dlq",
            props=QueueProps(
                name=self.delivery_dlq_name, key=props.key,
                account=props.account, enforce_tls=props.enforce_tls, fifo=props.fifo,
                message_retention_seconds=props.dlq_message_retention_seconds, profile=props.profile,
                # What SNS could not deliver here must fit there: the same size as the queue.
                max_message_size=self.max_message_size if "max_message_size" in self.module.variables else None,
            ),
            logical_id=f"{self.logical_id}_delivery_dlq",
            required_statements={"sns": (
                topic_send_statement(topic.topic_arn, sid="AllowThisTopicUndeliverable"),
                "SNS moves undeliverable messages there",
            )},
        )
        self.subscription = SnsTopicSubscription(
            self,
            "subscription",
            topic_arn=topic.topic_arn,
            protocol="sqs",
            endpoint=self.queue_arn,
            raw_message_delivery=props.raw_message_delivery or None,
            filter_policy=json.dumps(props.filter_policy, sort_keys=True) if props.filter_policy else None,
            filter_policy_scope=props.filter_policy_scope if props.filter_policy else None,
            # Messages SNS cannot deliver (too large, queue policy or key trouble) are kept, not dropped.
            redrive_policy=json.dumps({"deadLetterTargetArn": self.delivery_dlq.queue_arn}),
            # Subscribe only once the queues' policies (inside the modules) admit the topic, or the
            # first deliveries after a deploy could be refused.
            depends_on=[self.module, self.delivery_dlq.module],
        )
        set_logical_id(self.subscription, subscription_logical_id or f"{self.logical_id}_subscription")

    def _max_message_size(self, props: QueueProps, profile: modules.StackProfile) -> int | None:
        if props.max_message_size is not None:
            return props.max_message_size
        return profile.subscriber_queue_max_message_size
