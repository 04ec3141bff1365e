"""The whole pipeline: table stream -> producer -> topic -> queue(s) -> consumer(s).

``EventPipeline`` wires the single-concern constructs from one :class:`PipelineConfig`:
encryption key, stream table, topic, stream failure queue, producer, subscribers, alarms
and dashboard.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from constructs import Construct

from .aws import (
    DataAwsCallerIdentity,
    DataAwsSsmParameter,
    LambdaEventSourceMappingDestinationConfig,
    LambdaEventSourceMappingDestinationConfigOnFailure,
    SnsTopicSubscription,
)
from .config import PipelineConfig, SubscriberConfig
from .contract import FAILED_MESSAGE_RETENTION_SECONDS, IDEMPOTENCY_TTL_ATTRIBUTE, consumer_environment, producer_environment
from .function import PythonFunction, PythonFunctionProps
from .literal import terraform_literal
from .messaging import Queue, QueueProps, SubscribedQueue, SubscribedQueueProps, Topic, TopicProps
from . import ordering
from .observability import (
    AlarmSpec,
    Alarms,
    Dashboard,
    DashboardProps,
    function_alarms,
    iterator_age_alarm,
    messages_waiting_alarm,
    queue_age_alarm,
)
from .packaging import powertools_bundle
from .security import (
    SNS_OWNER_ACTIONS,
    SQS_OWNER_ACTIONS,
    Account,
    KeyProps,
    MessagingKey,
    alarm_arn_pattern,
    deny_insecure_transport,
    owner_statement,
    topic_arn,
)
from .table import StreamTable, StreamTableProps
from .triggers import DYNAMODB_EXECUTION_ROLE, SQS_EXECUTION_ROLE, EventSourceTrigger, TriggerProps, managed_policy_arn

#: What Powertools idempotency does with its persistence table, and nothing more.
IDEMPOTENCY_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]


class Protection:
    """The security settings every topic and queue of one pipeline shares."""

    def __init__(self, config: PipelineConfig, account: Account, key: MessagingKey | None) -> None:
        self.config = config
        self.account = account
        self.key = key

    def _statements(self, service: str, actions: list[str]) -> dict[str, dict[str, Any]]:
        statements = {"owner": owner_statement(self.account, actions)}
        if self.config.security.enforce_tls:
            statements["deny_insecure_transport"] = deny_insecure_transport(service)
        return statements

    def topic(self, extra_statements: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
        """sns module inputs: owner-only policy (+ TLS deny), encryption."""
        variables: dict[str, Any] = {
            # The module's default statement allows principal "*" conditioned on the source
            # account; the owner statement below is the stricter equivalent.
            "enable_default_topic_policy": False,
            "topic_policy_statements": {**self._statements("sns", SNS_OWNER_ACTIONS), **(extra_statements or {})},
        }
        if self.key is not None:
            variables["kms_master_key_id"] = self.key.key_arn
        return variables

    def queue(self, extra_statements: dict[str, dict[str, Any]] | None = None, dlq: bool = False) -> dict[str, Any]:
        """sqs module inputs: owner-only policy (+ TLS deny) on the queue (and its DLQ), encryption."""
        variables: dict[str, Any] = {
            "create_queue_policy": True,
            "queue_policy_statements": {**self._statements("sqs", SQS_OWNER_ACTIONS), **(extra_statements or {})},
        }
        if dlq:
            variables["create_dlq_queue_policy"] = True
            variables["dlq_queue_policy_statements"] = self._statements("sqs", SQS_OWNER_ACTIONS)
        if self.key is not None:
            # SNS cannot deliver into a queue encrypted with the AWS-managed alias/aws/sqs key;
            # a customer-managed key whose policy admits sns.amazonaws.com works.
            variables["sqs_managed_sse_enabled"] = False
            variables["kms_master_key_id"] = self.key.key_arn
            if dlq:
                variables["dlq_sqs_managed_sse_enabled"] = False
                variables["dlq_kms_master_key_id"] = self.key.key_arn
        return variables


def function_settings(config: PipelineConfig, function: Any) -> dict[str, Any]:
    """lambda module inputs every function shares: tracing, log retention, concurrency."""
    variables: dict[str, Any] = {
        "cloudwatch_logs_retention_in_days": function.log_retention_days,
        # The module creates the log group itself, so the role needs no logs:CreateLogGroup.
        "attach_create_log_group_permission": False,
    }
    if function.reserved_concurrency >= 0:
        variables["reserved_concurrent_executions"] = function.reserved_concurrency
    if config.security.tracing:
        variables["tracing_mode"] = "Active"
        # AWSXRayDaemonWriteAccess: xray:PutTraceSegments and friends support no resource-level
        # permissions, so AWS requires Resource "*" there (the one wildcard resource we accept).
        variables["attach_tracing_policy"] = True
    return variables


class Subscriber(Construct):
    """One subscriber: its queue (+ DLQ), subscription, idempotency table, consumer and trigger."""

    def __init__(self, scope: Construct, id: str, *, config: PipelineConfig, sub: SubscriberConfig, topic: Topic,
                 protection: Protection, layers: tuple[str, ...] = (), bundle: Path | None = None) -> None:
        super().__init__(scope, id)
        self.config = sub
        self.queue = SubscribedQueue(
            self,
            "queue",
            topic_arn=topic.topic_arn,
            props=SubscribedQueueProps(
                name=sub.queue_name,
                visibility_timeout_seconds=sub.visibility_timeout_seconds,
                message_retention_seconds=sub.message_retention_seconds,
                raw_message_delivery=sub.raw_message_delivery,
                # Validated as a dict by the config; free text, so escaped for Terraform.
                filter_policy=terraform_literal(sub.filter_policy),
                filter_policy_scope=sub.filter_policy_scope,
                extra={
                    "create_dlq": True,
                    "redrive_policy": {"maxReceiveCount": sub.max_receive_count},
                    # The DLQ keeps failed messages for the maximum (14 days) for inspection.
                    "dlq_message_retention_seconds": FAILED_MESSAGE_RETENTION_SECONDS,
                    **protection.queue(dlq=True),
                    **ordering.queue_variables(config),  # FIFO queue + DLQ under ordering = "per-item"
                },
            ),
            module_id=f"queue_{sub.name}",
            subscription_id=f"subscription_{sub.name}",
        )
        # Records of messages already processed (Powertools idempotency), expiring by TTL.
        self.idempotency_table = StreamTable(
            self,
            "idempotency",
            props=StreamTableProps(
                name=sub.idempotency_table_name,
                stream=False,
                extra={
                    "ttl_enabled": True,
                    "ttl_attribute_name": IDEMPOTENCY_TTL_ATTRIBUTE,
                    "server_side_encryption_enabled": True,
                },
            ),
            module_id=f"idempotency_{sub.name}",
        )
        self.function = PythonFunction(
            self,
            "consumer",
            props=PythonFunctionProps(
                function_name=sub.function_name,
                code=sub.code,
                runtime=config.runtime,
                architecture=config.architecture,
                timeout=sub.function.timeout,
                memory_size=sub.function.memory_size,
                environment=consumer_environment(sub, self.idempotency_table.table_name),
                policy_statements={
                    "idempotency": {
                        "effect": "Allow",
                        "actions": IDEMPOTENCY_ACTIONS,
                        "resources": [self.idempotency_table.table_arn],
                    }
                },
                layers=layers,
                bundle=bundle,
                extra=function_settings(config, sub.function),
            ),
            module_id=f"consumer_{sub.name}",
        )
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


def stream_mapping(config: PipelineConfig, failure_queue_arn: str) -> dict[str, Any]:
    """Arguments of the stream -> producer mapping: bounded retries, bisect, on-failure queue."""
    stream = config.stream
    mapping: dict[str, Any] = {
        "starting_position": stream.starting_position,
        "batch_size": stream.batch_size,
        "function_response_types": ["ReportBatchItemFailures"],
        "bisect_batch_on_function_error": stream.bisect_batch_on_function_error,
        "maximum_retry_attempts": stream.maximum_retry_attempts,
        "maximum_record_age_in_seconds": stream.maximum_record_age_seconds,
        "parallelization_factor": stream.parallelization_factor,
        "destination_config": LambdaEventSourceMappingDestinationConfig(
            on_failure=LambdaEventSourceMappingDestinationConfigOnFailure(destination_arn=failure_queue_arn)
        ),
    }
    if stream.maximum_batching_window_seconds:
        mapping["maximum_batching_window_in_seconds"] = stream.maximum_batching_window_seconds
    return mapping


class EventPipeline(Construct):
    """Wires the stream table, producer, topic and subscribers from one :class:`PipelineConfig`."""

    def __init__(self, scope: Construct, id: str, *, config: PipelineConfig) -> None:
        super().__init__(scope, id)
        self.config = config
        security = config.security
        identity = DataAwsCallerIdentity(self, "caller")
        identity.override_logical_id("current")
        self.account = Account(identity.account_id, config.partition)
        self.layers: tuple[str, ...] = ()
        self.bundle: Path | None = None
        parameter = config.powertools_layer_parameter()
        if parameter:
            layer = DataAwsSsmParameter(self, "powertools_layer", name=parameter)
            layer.override_logical_id("powertools_layer")
            self.layers = (layer.value,)
        elif config.powertools_layer == "none":
            self.bundle = powertools_bundle(config.powertools_version, config.runtime, config.architecture)
        elif config.powertools_layer != "ssm":  # an explicit layer version ARN
            self.layers = (config.powertools_layer,)
        self.key = (
            MessagingKey(self, "key", alias=f"alias/{config.stack_name}",
                         deletion_window_days=security.key_deletion_window_days)
            if security.customer_managed_key
            else None
        )
        protection = Protection(config, self.account, self.key)

        self.table = StreamTable(
            self,
            "table",
            props=StreamTableProps(
                name=config.table_name,
                extra={
                    "server_side_encryption_enabled": True,
                    "point_in_time_recovery_enabled": security.point_in_time_recovery,
                    "deletion_protection_enabled": config.deletion_protection,
                },
            ),
        )
        self.topic = Topic(self, "topic", props=TopicProps(
            name=config.topic_name, extra={**protection.topic(), **ordering.topic_variables(config)}))
        # Stream records that still fail after the bounded retries are kept here, not dropped.
        self.stream_failures = Queue(
            self,
            "stream_failures",
            props=QueueProps(
                name=config.stream_failure_queue_name,
                extra={"message_retention_seconds": FAILED_MESSAGE_RETENTION_SECONDS, **protection.queue()},
            ),
            module_id="stream_failures",
        )
        self.producer = PythonFunction(
            self,
            "producer",
            props=PythonFunctionProps(
                function_name=config.producer_function_name,
                code=config.producer_code,
                runtime=config.runtime,
                architecture=config.architecture,
                timeout=config.producer.timeout,
                memory_size=config.producer.memory_size,
                environment=producer_environment(config, self.topic.topic_arn),
                policy_statements={
                    "publish": {"effect": "Allow", "actions": ["sns:Publish"], "resources": [self.topic.topic_arn]},
                    # The event source mapping sends records that exhausted their retries here
                    # using the function's role.
                    "stream_failures": {
                        "effect": "Allow",
                        "actions": ["sqs:SendMessage"],
                        "resources": [self.stream_failures.queue_arn],
                    },
                },
                layers=self.layers,
                bundle=self.bundle,
                extra=function_settings(config, config.producer),
            ),
            module_id="producer",
        )
        self.subscribers = [
            Subscriber(self, f"subscriber_{sub.name}", config=config, sub=sub, topic=self.topic,
                       protection=protection, layers=self.layers, bundle=self.bundle)
            for sub in config.subscribers
        ]
        self.stream_trigger = EventSourceTrigger(
            self,
            "stream_trigger",
            function=self.producer,
            props=TriggerProps(
                event_source_arn=self.table.stream_arn,
                managed_policy_arn=managed_policy_arn(DYNAMODB_EXECUTION_ROLE, config.partition),
                mapping=stream_mapping(config, self.stream_failures.queue_arn),
                # With TRIM_HORIZON the producer publishes as soon as the mapping exists: every
                # subscription must be in place by then, or those messages would reach no queue.
                depends_on=tuple(s.queue.subscription for s in self.subscribers),
            ),
        )

        self.alarm_topic: Topic | None = None
        self.alarms: Alarms | None = None
        if config.alarms.enabled:
            self._alarms(protection)
        if self.key is not None:
            self.key.set_policy(
                KeyProps(
                    account=self.account,
                    region=config.region,
                    # Only the fan-out topic delivers into the encrypted queues (and their DLQs).
                    sns_topic_arns=(topic_arn(self.account, config.region, config.topic_name),),
                    cloudwatch_alarms=config.alarms.enabled,
                    key_users=tuple(security.key_users),
                    sending_roles=(self.producer.role_arn,),
                    receiving_roles=tuple(s.function.role_arn for s in self.subscribers),
                )
            )
        self.dashboard = self._dashboard() if config.dashboard else None

    def _alarms(self, protection: Protection) -> None:
        config = self.config
        cloudwatch = {
            "cloudwatch_alarms": {
                "sid": "CloudWatchAlarmsPublish",
                "effect": "Allow",
                "actions": ["sns:Publish"],
                "principals": [{"type": "Service", "identifiers": ["cloudwatch.amazonaws.com"]}],
                "conditions": [
                    {"test": "StringEquals", "variable": "aws:SourceAccount", "values": [self.account.id]},
                    {"test": "ArnLike", "variable": "aws:SourceArn",
                     "values": [alarm_arn_pattern(self.account, config.region)]},
                ],
            }
        }
        self.alarm_topic = Topic(
            self, "alarm_topic", props=TopicProps(name=config.alarm_topic_name, extra=protection.topic(cloudwatch)),
            module_id="alarm_topic",
        )
        if config.alarms.email:
            email = SnsTopicSubscription(
                self, "alarm_email", topic_arn=self.alarm_topic.topic_arn, protocol="email",
                endpoint=terraform_literal(config.alarms.email),
            )
            email.override_logical_id("alarm_email")
        specs: list[AlarmSpec] = [
            *function_alarms("producer", config.producer_function_name, self.producer.function_name),
            iterator_age_alarm("producer", config.producer_function_name, self.producer.function_name,
                               config.alarms.iterator_age_ms),
            messages_waiting_alarm("stream_failures", config.stream_failure_queue_name,
                                   self.stream_failures.queue_name),
        ]
        for sub in self.subscribers:
            name = sub.config.name
            specs += [
                queue_age_alarm(f"queue_{name}", sub.config.queue_name, sub.queue.queue_name,
                                config.alarms.queue_age_seconds),
                messages_waiting_alarm(f"dlq_{name}", sub.config.dlq_name, sub.queue.dlq_name),
                *function_alarms(f"consumer_{name}", sub.config.function_name, sub.function.function_name),
            ]
        self.alarms = Alarms(
            self, "alarms", specs=specs, topic_arn=self.alarm_topic.topic_arn,
            period_seconds=config.alarms.period_seconds, evaluation_periods=config.alarms.evaluation_periods,
        )

    def _dashboard(self) -> Dashboard:
        config = self.config
        return Dashboard(
            self,
            "dashboard",
            props=DashboardProps(
                name=config.stack_name,
                region=config.region,
                producer_function=self.producer.function_name,
                consumer_functions=tuple(s.function.function_name for s in self.subscribers),
                queues=tuple(s.queue.queue_name for s in self.subscribers),
                dead_letter_queues=(self.stream_failures.queue_name, *(s.queue.dlq_name for s in self.subscribers)),
            ),
        )
