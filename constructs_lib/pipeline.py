"""The whole pipeline: table stream -> producer -> topic -> queue(s) -> consumer(s).

``EventPipeline`` only wires constructs that apply their own secure defaults (table, topic,
queues, functions, key); everything it reads comes from one :class:`PipelineConfig`.
Subscribers can be added after construction with :meth:`EventPipeline.add_subscriber`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from constructs import Construct

from .aws import (
    DataAwsSsmParameter,
    LambdaEventSourceMappingDestinationConfig,
    LambdaEventSourceMappingDestinationConfigOnFailure,
    SnsTopicSubscription,
)
from .cdk import TerraformStack
from pipeline_model.config import ConfigError, PipelineConfig, SubscriberConfig, build_config, default_subscriber_names
from pipeline_model.contract import FAILED_MESSAGE_RETENTION_SECONDS, producer_environment
from .function import PythonFunction, PythonFunctionProps, build_dir
from .ids import set_logical_id
from pipeline_model.literal import terraform_literal
from .messaging import Queue, QueueProps, Topic, TopicProps
from pipeline_model.ordering import is_fifo
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
from pipeline_model.packaging import powertools_bundle
from .security import MessagingKey, alarm_arn_pattern, caller_account
from .subscriber import IDEMPOTENCY_ACTIONS, Subscriber, function_props
from .table import Table, TableProps
from .triggers import DYNAMODB_EXECUTION_ROLE, EventSourceTrigger, TriggerProps, managed_policy_arn

__all__ = ["IDEMPOTENCY_ACTIONS", "EventPipeline", "Subscriber", "stream_mapping"]

#: The construct id whose pipeline keeps unprefixed logical ids (the app's single pipeline).
DEFAULT_PIPELINE_ID = "pipeline"


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
    """Wires the stream table, producer, topic and subscribers from one :class:`PipelineConfig`.

    Logical ids (the names in the Terraform JSON and state) are prefixed with
    ``logical_id_prefix``; by default ``"<id>_"``, except for the id ``"pipeline"`` (the app's
    single pipeline), whose ids stay unprefixed (``module.table``, ``module.topic``, ...).
    """

    def __init__(self, scope: Construct, id: str, *, config: PipelineConfig,
                 logical_id_prefix: str | None = None) -> None:
        super().__init__(scope, id)
        self._check_names_apart(config)
        self.config = config
        self._name_suffix = config.applied_name_suffix  # for add_subscriber (each update rebuilds config)
        self.prefix = ("" if id == DEFAULT_PIPELINE_ID else f"{id}_") if logical_id_prefix is None else logical_id_prefix
        self.account = caller_account(self, "caller", self._id("current"), config.partition)
        self.layers, self.bundle = self._powertools()
        self.key = self._key()
        self.table = Table(self, "table", props=self._table_props(), logical_id=self._id("table"))
        self.topic = Topic(self, "topic", props=self._topic_props(config.topic_name, fifo=is_fifo(config)),
                           logical_id=self._id("topic"))
        # Stream records that still fail after the bounded retries are kept here, not dropped.
        self.stream_failures = Queue(self, "stream_failures", props=self._queue_props(
            config.stream_failure_queue_name, message_retention_seconds=FAILED_MESSAGE_RETENTION_SECONDS,
        ), logical_id=self._id("stream_failures"))
        self.producer = PythonFunction(self, "producer", props=self._producer_props(), logical_id=self._id("producer"))
        if self.key is not None:
            self.key.grant_send(self.producer.role_arn)
        self.stream_trigger = EventSourceTrigger(self, "stream_trigger", function=self.producer, props=TriggerProps(
            event_source_arn=self.table.stream_arn,
            managed_policy_arn=managed_policy_arn(DYNAMODB_EXECUTION_ROLE, config.partition),
            mapping=stream_mapping(config, self.stream_failures.queue_arn),
        ))
        self.alarm_topic, self.alarms = self._alarms() if config.alarms.enabled else (None, None)
        self.dashboard = self._dashboard() if config.dashboard else None
        self.subscribers: list[Subscriber] = []
        self._listeners: list[Callable[[Subscriber], None]] = []
        for sub in config.subscribers:
            self._subscribe(sub)

    def add_subscriber(self, sub: SubscriberConfig | dict[str, Any]) -> Subscriber:
        """Add a subscriber after construction: its queue (+ DLQ, policies), subscription,
        idempotency table, consumer and trigger; the key's grant for its consumer; its alarms;
        its dashboard widgets; and the stream trigger waits for its subscription.

        The configuration is validated together with the pipeline's (unique names, limits):
        a bad one raises :class:`ConfigError` naming the field.
        """
        if isinstance(sub, SubscriberConfig):
            # Names it filled in itself (before it knew this pipeline) are left to the pipeline: the
            # per-item '.fifo' default, the suffix.
            defaults = dict(zip(("queue_name", "function_name"), default_subscriber_names(sub.name)))
            data = {k: v for k, v in sub.model_dump().items() if defaults.get(k, object()) != v}
        else:
            data = dict(sub)
        # The built configuration holds suffixed names and an empty name_suffix: name the new
        # subscriber with the suffix the pipeline's configuration was built with, as if it had been there.
        data = self.config.named_like_the_others(data, self._name_suffix)
        updated = build_config({
            **self.config.model_dump(), "subscribers": [*(s.model_dump() for s in self.config.subscribers), data]
        })
        self._check_names_apart(updated)
        self.config = updated
        return self._subscribe(updated.subscribers[-1])

    def on_subscriber(self, listener: Callable[[Subscriber], None]) -> None:
        """Call ``listener`` with every subscriber: those there now and each one added later
        (``PipelineStack`` adds its outputs so)."""
        self._listeners.append(listener)
        for subscriber in self.subscribers:
            listener(subscriber)

    # --- wiring ------------------------------------------------------------------------------------

    def _id(self, logical_id: str) -> str:
        return f"{self.prefix}{logical_id}"

    def _check_names_apart(self, config: PipelineConfig) -> None:
        """The AWS names (per region) and IAM names (account-wide) of ``config`` differ from those of
        every other pipeline in the stack, or Terraform would create the same table, queue or role twice."""
        def names(c: PipelineConfig) -> dict[tuple[str, str], str]:
            return {**{(c.region, n): f"{n!r} in {c.region}" for n in c.aws_names()},
                    **{("iam", n): f"the IAM {n!r}" for n in c.iam_names()}}

        mine = names(config)
        for other in TerraformStack.of(self).node.find_all():
            if other is self or not isinstance(other, EventPipeline):
                continue
            clash = [key for key in mine if key in names(other.config)]
            if clash:
                raise ConfigError(
                    f"invalid pipeline configuration:\n  pipelines {other.node.id!r} and {self.node.id!r} both "
                    f"create {mine[clash[0]]}: give one a name_suffix or other names"
                )

    def _subscribe(self, sub: SubscriberConfig) -> Subscriber:
        subscriber = Subscriber(
            self, f"subscriber_{sub.name}", config=self.config, sub=sub, topic=self.topic, account=self.account,
            key=self.key, layers=self.layers, bundle=self.bundle, logical_id_prefix=self.prefix,
        )
        self.subscribers.append(subscriber)
        # With TRIM_HORIZON the producer publishes as soon as the mapping exists: every
        # subscription must be in place by then, or those messages would reach no queue.
        self.stream_trigger.wait_for(subscriber.queue.subscription)
        if self.alarms is not None:
            self.alarms.add(self._subscriber_alarms(subscriber))
        for listener in self._listeners:
            listener(subscriber)
        return subscriber

    def _powertools(self) -> tuple[tuple[str, ...], Path | None]:
        """Where the functions get Powertools: (layers, bundle folder packaged into each zip)."""
        config = self.config
        parameter = config.powertools_layer_parameter()
        if parameter:
            layer = DataAwsSsmParameter(self, "powertools_layer", name=parameter)
            set_logical_id(layer, self._id("powertools_layer"))
            return (layer.value,), None
        if config.powertools_layer == "none":
            cache = build_dir(self) / "powertools"
            return (), powertools_bundle(config.powertools_version, config.runtime, config.architecture, cache)
        if config.powertools_layer != "ssm":  # an explicit layer version ARN
            return (config.powertools_layer,), None
        return (), None

    def _key(self) -> MessagingKey | None:
        config = self.config
        security = config.security
        if not security.customer_managed_key:
            return None
        return MessagingKey(
            self, "key", alias=f"alias/{config.stack_name}", account=self.account, region=config.region,
            deletion_window_days=security.key_deletion_window_days, key_users=tuple(security.key_users),
            logical_id=self._id("messaging_key"),
        )

    def _table_props(self) -> TableProps:
        config = self.config
        return TableProps(
            name=config.table_name,
            point_in_time_recovery=config.security.point_in_time_recovery,
            deletion_protection=config.deletion_protection,
        )

    def _topic_props(self, name: str, statements: dict[str, Any] | None = None, fifo: bool = False) -> TopicProps:
        return TopicProps(name=name, key=self.key, account=self.account, fifo=fifo,
                          enforce_tls=self.config.security.enforce_tls, policy_statements=statements or {})

    def _queue_props(self, name: str, **settings: Any) -> QueueProps:
        return QueueProps(name=name, key=self.key, account=self.account,
                          enforce_tls=self.config.security.enforce_tls, **settings)

    def _producer_props(self) -> PythonFunctionProps:
        config = self.config
        return function_props(
            config, config.producer,
            function_name=config.producer_function_name,
            code=config.producer_code,
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
        )

    def _alarms(self) -> tuple[Topic, Alarms]:
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
        topic = Topic(self, "alarm_topic", props=self._topic_props(config.alarm_topic_name, cloudwatch),
                      logical_id=self._id("alarm_topic"))
        if self.key is not None:
            self.key.allow_cloudwatch_alarms()
        if config.alarms.email:
            email = SnsTopicSubscription(
                self, "alarm_email", topic_arn=topic.topic_arn, protocol="email",
                endpoint=terraform_literal(config.alarms.email),
            )
            set_logical_id(email, self._id("alarm_email"))
        specs: list[AlarmSpec] = [
            *function_alarms("producer", config.producer_function_name, self.producer.function_name),
            iterator_age_alarm("producer", config.producer_function_name, self.producer.function_name,
                               config.alarms.iterator_age_ms),
            messages_waiting_alarm("stream_failures", config.stream_failure_queue_name,
                                   self.stream_failures.queue_name),
        ]
        alarms = Alarms(
            self, "alarms", specs=specs, topic_arn=topic.topic_arn, period_seconds=config.alarms.period_seconds,
            evaluation_periods=config.alarms.evaluation_periods, logical_id_prefix=self.prefix,
        )
        return topic, alarms

    def _subscriber_alarms(self, subscriber: Subscriber) -> list[AlarmSpec]:
        sub, config = subscriber.config, self.config
        return [
            queue_age_alarm(f"queue_{sub.name}", sub.queue_name, subscriber.queue.queue_name,
                            config.alarms.queue_age_seconds),
            messages_waiting_alarm(f"dlq_{sub.name}", sub.dlq_name, subscriber.queue.dlq_name),
            *function_alarms(f"consumer_{sub.name}", sub.function_name, subscriber.function.function_name),
        ]

    def _dashboard(self) -> Dashboard:
        config = self.config

        def props() -> DashboardProps:  # at synth: the subscribers added until then
            return DashboardProps(
                name=config.stack_name,
                region=config.region,
                producer_function=self.producer.function_name,
                consumer_functions=tuple(s.function.function_name for s in self.subscribers),
                queues=tuple(s.queue.queue_name for s in self.subscribers),
                dead_letter_queues=(self.stream_failures.queue_name, *(s.queue.dlq_name for s in self.subscribers)),
            )

        return Dashboard(self, "dashboard", props=props, name=config.stack_name, region=config.region,
                         logical_id=self._id("dashboard"))
