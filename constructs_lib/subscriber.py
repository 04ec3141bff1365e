"""One subscriber of a topic: queue (+ DLQ) -> consumer function (the aws-sns-sqs + aws-sqs-lambda pattern).

Its queue is subscribed to the topic, its consumer reads the queue through an event source
mapping, and Powertools idempotency keeps its records in a table of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from constructs import Construct

from pipeline_model import defaults
from pipeline_model.config import FunctionConfig, IamMode, SubscriberConfig
from pipeline_model.contract import IDEMPOTENCY_TTL_ATTRIBUTE, consumer_environment
from pipeline_model.literal import terraform_literal
from pipeline_model.names import SubscriberNames, subscriber_names
from pipeline_model.ordering import fifo_mapping_problem

from . import modules
from .aws import LambdaEventSourceMappingScalingConfig
from .facts import stack_facts
from .function import PythonFunction, PythonFunctionProps
from .messaging import SubscribedQueue, SubscribedQueueProps, Topic
from .props import PropsConflictError, prop
from .security import Account, MessagingKey, stack_account
from .table import Table, TableProps
from .triggers import (
    QUEUE_READ_ACTIONS,
    SQS_EXECUTION_ROLE,
    EventSourceTrigger,
    TriggerProps,
    managed_policy_arn,
    mapping_metrics,
)

#: What Powertools idempotency does with its persistence table, and nothing more.
IDEMPOTENCY_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]


def function_props(function: FunctionConfig, *, runtime: str, architecture: str, tracing: bool,
                   **props: Any) -> PythonFunctionProps:
    """A pipeline function's props: the pipeline's runtime, architecture and tracing, the
    function's own timeout, memory, log retention and concurrency, and ``props``."""
    return PythonFunctionProps(
        runtime=runtime,
        architecture=architecture,
        timeout=function.timeout,
        memory_size=function.memory_size,
        tracing=tracing,
        log_retention_days=function.log_retention_days,
        reserved_concurrency=function.reserved_concurrency,
        include=tuple(function.package_include),
        exclude=tuple(function.package_exclude),
        **props,
    )


def queue_mapping_controls(sub: SubscriberConfig) -> dict[str, Any]:
    """The queue mapping's optional controls, each only when set (so the default stack's JSON is
    unchanged): scaling_config.maximum_concurrency and metrics_config."""
    controls: dict[str, Any] = {}
    if sub.maximum_concurrency is not None:
        controls["scaling_config"] = LambdaEventSourceMappingScalingConfig(maximum_concurrency=sub.maximum_concurrency)
    controls.update(mapping_metrics(sub.metrics))
    return controls


@dataclass(frozen=True)
class SubscriberProps:
    topic: Topic = prop(description="The topic the queue subscribes to (required).")
    settings: SubscriberConfig = prop(SubscriberConfig(), "The subscriber's settings: name, batch size, "
                                      "visibility, retention, filter policy, consumer code and size, ...")
    names: SubscriberNames | None = prop(None, "Its AWS names; None = from settings (the given names, else "
                                         "'<name>-queue' / '<name>-consumer', '.fifo' on a FIFO topic).")
    key: MessagingKey | None = prop(None, "Customer-managed key of the queue and DLQ; None = SQS-managed SSE.")
    account: Account | None = prop(None, "Owner of the queue; None = the account running Terraform.")
    fifo: bool | None = prop(None, "FIFO queue and DLQ; None = as the topic is.")
    runtime: str = prop(defaults.RUNTIME, "Lambda runtime of the consumer.")
    architecture: str = prop(defaults.ARCHITECTURE, "Lambda architecture of the consumer.")
    tracing: bool = prop(defaults.TRACING, "X-Ray active tracing of the consumer.")
    enforce_tls: bool = prop(defaults.ENFORCE_TLS, "Queue and DLQ policies deny requests made without TLS.")
    layers: tuple[str, ...] = prop((), "Layer version ARNs of the consumer (e.g. Powertools).")
    bundle: Path | None = prop(None, "A folder of libraries packaged into the consumer's zip.")
    partition: str | None = prop(None, "Partition of the managed policy ARN; None = the stack's.")
    iam: IamMode = prop(defaults.IAM, "How the consumer may read its queue: \"managed\" "
                                      "(AWSLambdaSQSQueueExecutionRole: every queue of the account) or \"scoped\" "
                                      "(its own queue only); docs/security.md, 'Least privilege'.")
    logical_id_prefix: str = prop("", "Prefix of the logical ids (queue_<name>, consumer_<name>, ...).")
    profile: str | None = prop(None, "Stack profile of its modules (tutorial, current); None = the stack's.")


class Subscriber(Construct):
    """Queue (+ DLQ) subscribed to ``props.topic``, idempotency table, consumer and trigger.

    ``max_message_size``: the largest message its queue and DLQ accept (bytes).

    With a ``key``, the consumer's role is granted reading the encrypted queue. Exposes ``queue``,
    ``idempotency_table``, ``function``, ``trigger``, ``names`` and ``config`` (its settings).
    """

    def __init__(self, scope: Construct, id: str, *, props: SubscriberProps) -> None:
        sub = props.settings
        fifo = props.topic.fifo if props.fifo is None else props.fifo
        # Built alone (not by EventPipeline), the FIFO mapping rules are checked here.
        problem = fifo_mapping_problem(sub) if fifo else None
        if problem:
            raise PropsConflictError(f"Subscriber {scope.node.path}/{id}: props.settings.{problem}")
        super().__init__(scope, id)
        profile = modules.stack_profile(self, props.profile, by=f"Subscriber {self.node.path}").name
        names = props.names or subscriber_names(sub.name, sub.queue_name, sub.function_name, fifo=fifo)
        self.names = names
        self.config = sub
        key, topic = props.key, props.topic
        account = props.account or stack_account(self)
        partition = props.partition or stack_facts(self).partition
        layers, bundle = props.layers, props.bundle
        prefix = props.logical_id_prefix
        self.queue = SubscribedQueue(
            self,
            "queue",
            topic=topic,
            props=SubscribedQueueProps(
                name=names.queue,
                delivery_dlq_name=names.delivery_dlq or None,
                key=key,
                account=account,
                enforce_tls=props.enforce_tls,
                fifo=fifo,  # FIFO queue + DLQ under ordering = "per-item"
                visibility_timeout_seconds=sub.visibility_timeout_seconds,
                message_retention_seconds=sub.message_retention_seconds,
                max_receive_count=sub.max_receive_count,
                raw_message_delivery=sub.raw_message_delivery,
                # Validated as a dict by the config; free text, so escaped for Terraform.
                filter_policy=terraform_literal(sub.filter_policy),
                filter_policy_scope=sub.filter_policy_scope,
                profile=profile,
            ),
            logical_id=f"{prefix}queue_{sub.name}",
            subscription_logical_id=f"{prefix}subscription_{sub.name}",
        )
        # Records of messages already processed (Powertools idempotency), expiring by TTL. They
        # are rebuilt by reprocessing, so no point-in-time recovery or deletion protection.
        self.idempotency_table = Table(
            self,
            "idempotency",
            props=TableProps(
                name=names.idempotency_table,
                stream=False,
                ttl_attribute=IDEMPOTENCY_TTL_ATTRIBUTE,
                point_in_time_recovery=None,
                deletion_protection=None,
                profile=profile,
            ),
            logical_id=f"{prefix}idempotency_{sub.name}",
        )
        self.function = PythonFunction(
            self,
            "consumer",
            props=function_props(
                sub.function, runtime=props.runtime, architecture=props.architecture, tracing=props.tracing,
                function_name=names.function, code=sub.code,
                environment=consumer_environment(sub, names, self.idempotency_table.table_name),
                policy_statements={
                    "idempotency": {
                        "effect": "Allow",
                        "actions": IDEMPOTENCY_ACTIONS,
                        "resources": [self.idempotency_table.table_arn],
                    }
                },
                layers=layers, bundle=bundle, profile=profile,
            ),
            logical_id=f"{prefix}consumer_{sub.name}",
        )
        #: The largest message (bytes) its queue and DLQ accept: the stack profile's subscriber queue size
        #: (pipeline_model.stack_profiles.queue_max_message_size), what a producer's budget for it follows.
        self.max_message_size: int = self.queue.max_message_size
        if key is not None:
            key.grant_receive(self.function.role_arn)
        mapping: dict[str, Any] = {"batch_size": sub.batch_size, "function_response_types": ["ReportBatchItemFailures"]}
        if sub.maximum_batching_window_seconds:
            mapping["maximum_batching_window_in_seconds"] = sub.maximum_batching_window_seconds
        mapping.update(queue_mapping_controls(sub))
        self.trigger = EventSourceTrigger(
            self,
            "trigger",
            function=self.function,
            props=TriggerProps(
                event_source_arn=self.queue.queue_arn,
                managed_policy_arn=managed_policy_arn(SQS_EXECUTION_ROLE, partition),
                mapping=mapping,
                iam=props.iam,
                source_actions=QUEUE_READ_ACTIONS,
            ),
        )
