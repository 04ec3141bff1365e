"""One subscriber of a topic: queue (+ DLQ) -> consumer function (the aws-sns-sqs + aws-sqs-lambda pattern).

Its queue is subscribed to the topic, its consumer reads the queue through an event source
mapping, and Powertools idempotency keeps its records in a table of its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from constructs import Construct

from pipeline_model.config import FunctionConfig, PipelineConfig, SubscriberConfig
from pipeline_model.contract import IDEMPOTENCY_TTL_ATTRIBUTE, consumer_environment
from .function import PythonFunction, PythonFunctionProps
from pipeline_model.literal import terraform_literal
from .messaging import SubscribedQueue, SubscribedQueueProps, Topic
from pipeline_model.ordering import fifo_mapping_problem, is_fifo
from .props import PropsConflictError
from .security import Account, MessagingKey
from .table import Table, TableProps
from .triggers import SQS_EXECUTION_ROLE, EventSourceTrigger, TriggerProps, managed_policy_arn

#: What Powertools idempotency does with its persistence table, and nothing more.
IDEMPOTENCY_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]


def function_props(config: PipelineConfig, function: FunctionConfig, **props: Any) -> PythonFunctionProps:
    """A pipeline function's props: the pipeline's runtime, architecture and tracing, the
    function's own timeout, memory, log retention and concurrency, and ``props``."""
    return PythonFunctionProps(
        runtime=config.runtime,
        architecture=config.architecture,
        timeout=function.timeout,
        memory_size=function.memory_size,
        tracing=config.security.tracing,
        log_retention_days=function.log_retention_days,
        reserved_concurrency=function.reserved_concurrency,
        include=tuple(function.package_include),
        exclude=tuple(function.package_exclude),
        **props,
    )


class Subscriber(Construct):
    """Queue (+ DLQ) subscribed to ``topic``, idempotency table, consumer and trigger.

    With a ``key``, the consumer's role is granted reading the encrypted queue.
    """

    def __init__(self, scope: Construct, id: str, *, config: PipelineConfig, sub: SubscriberConfig, topic: Topic,
                 account: Account, key: MessagingKey | None = None, layers: tuple[str, ...] = (),
                 bundle: Path | None = None, logical_id_prefix: str = "") -> None:
        # EventPipeline validates sub with the configuration; built alone, the FIFO mapping rules are checked here.
        problem = fifo_mapping_problem(sub) if is_fifo(config) else None
        if problem:
            raise PropsConflictError(f"Subscriber {scope.node.path}/{id}: sub.{problem}")
        super().__init__(scope, id)
        self.config = sub
        prefix = logical_id_prefix
        self.queue = SubscribedQueue(
            self,
            "queue",
            topic=topic,
            props=SubscribedQueueProps(
                name=sub.queue_name,
                key=key,
                account=account,
                enforce_tls=config.security.enforce_tls,
                fifo=is_fifo(config),  # FIFO queue + DLQ under ordering = "per-item"
                visibility_timeout_seconds=sub.visibility_timeout_seconds,
                message_retention_seconds=sub.message_retention_seconds,
                max_receive_count=sub.max_receive_count,
                raw_message_delivery=sub.raw_message_delivery,
                # Validated as a dict by the config; free text, so escaped for Terraform.
                filter_policy=terraform_literal(sub.filter_policy),
                filter_policy_scope=sub.filter_policy_scope,
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
                name=sub.idempotency_table_name,
                stream=False,
                ttl_attribute=IDEMPOTENCY_TTL_ATTRIBUTE,
                point_in_time_recovery=None,
                deletion_protection=None,
            ),
            logical_id=f"{prefix}idempotency_{sub.name}",
        )
        self.function = PythonFunction(
            self,
            "consumer",
            props=function_props(
                config, sub.function, function_name=sub.function_name, code=sub.code,
                environment=consumer_environment(sub, self.idempotency_table.table_name),
                policy_statements={
                    "idempotency": {
                        "effect": "Allow",
                        "actions": IDEMPOTENCY_ACTIONS,
                        "resources": [self.idempotency_table.table_arn],
                    }
                },
                layers=layers, bundle=bundle,
            ),
            logical_id=f"{prefix}consumer_{sub.name}",
        )
        if key is not None:
            key.grant_receive(self.function.role_arn)
        mapping: dict[str, Any] = {"batch_size": sub.batch_size, "function_response_types": ["ReportBatchItemFailures"]}
        if sub.maximum_batching_window_seconds:
            mapping["maximum_batching_window_in_seconds"] = sub.maximum_batching_window_seconds
        self.trigger = EventSourceTrigger(
            self,
            "trigger",
            function=self.function,
            props=TriggerProps(
                event_source_arn=self.queue.queue_arn,
                managed_policy_arn=managed_policy_arn(SQS_EXECUTION_ROLE, config.partition),
                mapping=mapping,
            ),
        )
