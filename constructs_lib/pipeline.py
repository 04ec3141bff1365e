"""The whole pipeline: table stream -> producer -> topic -> queue(s) -> consumer(s).

``EventPipeline(scope, id, props=EventPipelineProps(...))`` wires constructs that apply their own
secure defaults (table, topic, queues, functions, key). Facts about the environment (region,
partition, account) come from the stack (:mod:`constructs_lib.facts`); the configuration file's
path is :meth:`EventPipeline.from_config`. Subscribers can be added later with
:meth:`EventPipeline.add_subscriber`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsii
from pydantic import ValidationError
from constructs import Construct, IValidation

from pipeline_model.config import ConfigError, PipelineConfig, SubscriberConfig
from pipeline_model.config.files import validation_problems
from pipeline_model.contract import FAILED_MESSAGE_RETENTION_SECONDS, producer_environment
from pipeline_model.errors import PipelineError, Problem
from pipeline_model.literal import terraform_literal
from pipeline_model.mapping import stream_filter_pattern
from pipeline_model.packaging import powertools_bundle

from . import modules
from .aws import (
    DataAwsSsmParameter,
    LambdaEventSourceMappingDestinationConfig,
    LambdaEventSourceMappingDestinationConfigOnFailure,
    LambdaEventSourceMappingFilterCriteria,
    LambdaEventSourceMappingFilterCriteriaFilter,
    SnsTopicSubscription,
)
from .bucket import FailureBucket, FailureBucketProps, new_objects_alarm
from .delivery_logging import DeliveryStatusLogging, DeliveryStatusLoggingProps
from .cdk import App, TerraformStack
from .facts import StackFacts, provider_region, stack_facts
from .function import PythonFunction, PythonFunctionProps, build_dir
from .ids import set_logical_id
from .messaging import Queue, QueueProps, Topic, TopicProps
from .observability import (
    AlarmSpec,
    Alarms,
    Dashboard,
    DashboardProps,
    function_alarms,
    iterator_age_alarm,
    messages_waiting_alarm,
    queue_age_alarm,
    sns_delivery_alarms,
)
from .pipeline_props import EventPipelineProps, props_from_config, settings_model
from .providers import check_provider_constraint
from .security import MessagingKey, alarm_arn_pattern, caller_account
from .subscriber import IDEMPOTENCY_ACTIONS, Subscriber, SubscriberProps, function_props
from .table import Table, TableProps
from .tagging import apply_tags
from .triggers import (
    DYNAMODB_EXECUTION_ROLE,
    STREAM_READ_ACTIONS,
    EventSourceTrigger,
    TriggerProps,
    managed_policy_arn,
    mapping_metrics,
)

__all__ = ["IDEMPOTENCY_ACTIONS", "EventPipeline", "EventPipelineProps", "Subscriber", "stream_mapping"]

#: The construct id whose pipeline keeps unprefixed logical ids (the app's single pipeline).
DEFAULT_PIPELINE_ID = "pipeline"


class SynthesizedError(PipelineError):
    """The construct tree was changed after the app was synthesized (the change would be lost)."""


def stream_mapping(props: EventPipelineProps, failure_destination_arn: str) -> dict[str, Any]:
    """Arguments of the stream -> producer mapping: bounded retries, bisect, on-failure destination (the stream
    failure queue, or the failure bucket with stream.on_failure = "s3")."""
    stream = props.stream
    mapping: dict[str, Any] = {
        "starting_position": stream.starting_position,
        "batch_size": stream.batch_size,
        "function_response_types": ["ReportBatchItemFailures"],
        "bisect_batch_on_function_error": stream.bisect_batch_on_function_error,
        "maximum_retry_attempts": stream.maximum_retry_attempts,
        "maximum_record_age_in_seconds": stream.maximum_record_age_seconds,
        "parallelization_factor": stream.parallelization_factor,
        "destination_config": LambdaEventSourceMappingDestinationConfig(
            on_failure=LambdaEventSourceMappingDestinationConfigOnFailure(destination_arn=failure_destination_arn)
        ),
    }
    if stream.maximum_batching_window_seconds:
        mapping["maximum_batching_window_in_seconds"] = stream.maximum_batching_window_seconds
    pattern = stream_filter_pattern(stream.event_names)
    if pattern is not None:  # only the changes named reach the producer (Lambda event filtering on eventName)
        mapping["filter_criteria"] = LambdaEventSourceMappingFilterCriteria(
            filter=[LambdaEventSourceMappingFilterCriteriaFilter(pattern=pattern)])
    mapping.update(mapping_metrics(stream.metrics))
    return mapping


@jsii.implements(IValidation)
class _AtSynth:
    """Runs when the app is synthesized: checks the stack's aws provider constraint against the
    pipeline's modules, and marks the pipeline synthesized (later changes raise)."""

    def __init__(self, pipeline: "EventPipeline") -> None:
        self._pipeline = pipeline

    def validate(self) -> list[str]:
        self._pipeline._synthesized = True
        return self._pipeline.problems()


class EventPipeline(Construct):
    """Table with stream -> producer -> topic -> subscribers, from :class:`EventPipelineProps`.

    ``EventPipeline(stack, "orders")`` alone is the complete, secure original design. Region,
    partition and account are the stack's (its AWS provider's region, else data sources).

    Logical ids (the names in the Terraform JSON and state) are prefixed with
    ``logical_id_prefix``; by default ``"<id>_"``, except for the id ``"pipeline"`` (the app's
    single pipeline), whose ids stay unprefixed (``module.table``, ``module.topic``, ...).
    """

    def __init__(self, scope: Construct, id: str, *, props: EventPipelineProps | None = None,
                 config: PipelineConfig | None = None, logical_id_prefix: str | None = None) -> None:
        if config is not None:
            warnings.warn(
                "EventPipeline(config=...) is deprecated and will be removed in the next release: use "
                "EventPipeline.from_config(scope, id, config), or props=EventPipelineProps(...)",
                DeprecationWarning, stacklevel=2,
            )
            if props is not None:
                raise TypeError("EventPipeline: give props or config, not both")
            _check_region(scope, config)
            props = props_from_config(config)
        super().__init__(scope, id)
        self.props = props if props is not None else EventPipelineProps()
        #: The stack profile its modules come from: the stack's (one per stack).
        self.profile = modules.stack_profile(self, self.props.stack_profile, by=f"EventPipeline {self.node.path}")
        self.facts: StackFacts = stack_facts(self)
        # The region's own rules (Powertools source, layer ARNs, key users' partition), now that the
        # stack's region is known; with a region token they wait for Terraform.
        if self.facts.region_known:
            settings_model(self.props, self.facts.region)
        self._check_names_apart(self.props)
        self._synthesized = False
        self.node.add_validation(_AtSynth(self))
        self.prefix = ("" if id == DEFAULT_PIPELINE_ID else f"{id}_") if logical_id_prefix is None else logical_id_prefix
        props = self.props
        names = props.names
        self.account = caller_account(self, "caller", self._id("current"), self.facts.partition)
        self.layers, self.bundle = self._powertools()
        self.key = self._key()
        self.table = Table(self, "table", props=TableProps(
            name=names.table,
            point_in_time_recovery=props.security.point_in_time_recovery,
            deletion_protection=props.deletion_protection,
        ), logical_id=self._id("table"))
        # SNS's delivery status logs of the topic's deliveries to the queues (opt-in): its role and log groups.
        self.delivery_logging = self._delivery_logging() if props.delivery_status_logging.enabled else None
        self.topic = Topic(self, "topic", props=self._topic_props(
            names.topic, fifo=props.fifo,
            sqs_feedback=self.delivery_logging.sqs_feedback if self.delivery_logging is not None else None,
        ), logical_id=self._id("topic"))
        # Stream records that still fail after the bounded retries are kept, not dropped: a pointer in the
        # stream failure queue, or (on_failure = "s3") the batch itself in the failure bucket.
        self.stream_failures: Queue | None = None
        self.failure_bucket: FailureBucket | None = None
        if props.stream.on_failure == "s3":
            self.failure_bucket = FailureBucket(self, "stream_failure_bucket", props=FailureBucketProps(
                bucket_prefix=names.failure_bucket_prefix, retention_days=props.stream.failure_retention_days,
                key=self.key, enforce_tls=props.security.enforce_tls, logical_id=self._id("stream_failure_bucket"),
            ))
            if self.key is not None:
                self.key.allow_via_service("s3")  # the operator's replay reads the objects through S3
            failure_destination = self.failure_bucket.bucket_arn
        else:
            self.stream_failures = Queue(self, "stream_failures", props=self._queue_props(
                names.stream_failure_queue, message_retention_seconds=FAILED_MESSAGE_RETENTION_SECONDS,
            ), logical_id=self._id("stream_failures"))
            failure_destination = self.stream_failures.queue_arn
        self.producer = PythonFunction(self, "producer", props=self._producer_props(), logical_id=self._id("producer"))
        if self.key is not None:
            self.key.grant_send(self.producer.role_arn)
        self.stream_trigger = EventSourceTrigger(self, "stream_trigger", function=self.producer, props=TriggerProps(
            event_source_arn=self.table.stream_arn,
            managed_policy_arn=managed_policy_arn(DYNAMODB_EXECUTION_ROLE, self.facts.partition),
            mapping=stream_mapping(props, failure_destination),
            iam=props.security.iam,
            source_actions=STREAM_READ_ACTIONS,
        ))
        self.alarm_topic, self.alarms = self._alarms() if props.alarms.enabled else (None, None)
        self.dashboard = self._dashboard() if props.dashboard else None
        self.subscribers: list[Subscriber] = []
        self._listeners: list[Callable[[Subscriber], None]] = []
        for sub in props.subscribers:
            self._subscribe(sub)
        apply_tags(self, props.tags)

    @classmethod
    def from_config(cls, scope: Construct, id: str, config: PipelineConfig, *,
                    logical_id_prefix: str | None = None) -> "EventPipeline":
        """The pipeline a configuration (TOML/JSON file, :func:`build_config`) describes.

        The configuration's region must be the stack's provider's (a :class:`ConfigError` naming
        both otherwise); its tags tag every resource the pipeline creates.
        """
        _check_region(scope, config)
        return cls(scope, id, props=props_from_config(config), logical_id_prefix=logical_id_prefix)

    @property
    def config(self) -> EventPipelineProps:
        """Deprecated name of :attr:`props`."""
        return self.props

    def add_subscriber(self, sub: SubscriberConfig | dict[str, Any]) -> Subscriber:
        """Add a subscriber after construction: its queue (+ DLQ, policies), subscription,
        idempotency table, consumer and trigger; the key's grant for its consumer; its alarms;
        its dashboard widgets; and the stream trigger waits for its subscription.

        Validated together with the pipeline (unique names, limits): a bad one raises
        :class:`ConfigError` naming the field. After the app was synthesized it raises
        :class:`SynthesizedError` (the subscriber would be missing from the synthesized stack).
        """
        if self._synthesized:
            raise SynthesizedError(
                f"EventPipeline {self.node.path}: add_subscriber after the app was synthesized would be lost: "
                "add subscribers before app.synth()"
            )
        try:
            new = sub if isinstance(sub, SubscriberConfig) else SubscriberConfig(**sub)
        except ValidationError as error:
            raise ConfigError(validation_problems(error, f"subscribers.{len(self.props.subscribers)}.")) from None
        # Checked with the pipeline's rules (raises ConfigError), then copied without a second check.
        updated = self.props.model_copy(update={"subscribers": (*self.props.subscribers, new)})
        settings_model(updated, self.facts.region if self.facts.region_known else None)
        self._check_names_apart(updated)
        self.props = updated
        subscriber = self._subscribe(new)
        apply_tags(subscriber, self.props.tags)
        return subscriber

    def problems(self) -> list[str]:
        """What would make the stack fail at plan or apply, checkable only once the stack is complete:
        the stack's aws provider constraint against what the modules of the stack's profile accept. The app runs
        it when it is synthesized (a failed check stops synth with these messages)."""
        problem = check_provider_constraint(TerraformStack.of(self), self.profile)
        return [problem] if problem else []

    def on_subscriber(self, listener: Callable[[Subscriber], None]) -> None:
        """Call ``listener`` with every subscriber: those there now and each one added later
        (``PipelineStack`` adds its outputs so)."""
        self._listeners.append(listener)
        for subscriber in self.subscribers:
            listener(subscriber)

    # --- wiring ------------------------------------------------------------------------------------

    def _id(self, logical_id: str) -> str:
        return f"{self.prefix}{logical_id}"

    def _check_names_apart(self, props: EventPipelineProps) -> None:
        """The AWS names and IAM names of ``props`` differ from those of every other pipeline of the
        app, or Terraform would create the same table, queue or role twice: AWS names are compared
        with pipelines of the same region (the same stack, or a stack whose provider names the same
        region), IAM names (account-wide) with every pipeline."""
        mine = props.names
        stack = TerraformStack.of(self)
        for other in App.of(self).node.find_all():
            if other is self or not isinstance(other, EventPipeline) or not hasattr(other, "props"):
                continue
            theirs = other.props.names
            same_region = TerraformStack.of(other) is stack or (
                self.facts.region_known and other.facts.region_known and self.facts.region == other.facts.region)
            clash = [repr(n) for n in mine.aws_names() if same_region and n in theirs.aws_names()]
            clash += [f"the IAM {n!r}" for n in mine.iam_names() if n in theirs.iam_names()]
            if clash:
                shown = ", ".join(clash[:3]) + (f" and {len(clash) - 3} more" if len(clash) > 3 else "")
                raise ConfigError(Problem(
                    "names", f"pipelines {other.node.path!r} and {self.node.path!r} both create {shown}",
                    "give one a name_suffix or other names",
                ))

    def _subscribe(self, sub: SubscriberConfig) -> Subscriber:
        props, names = self.props, self.props.names.subscriber(sub.name)
        subscriber = Subscriber(self, f"subscriber_{sub.name}", props=SubscriberProps(
            settings=sub,
            names=names, topic=self.topic, account=self.account, key=self.key, layers=self.layers,
            bundle=self.bundle, logical_id_prefix=self.prefix, fifo=props.fifo, runtime=props.runtime,
            architecture=props.architecture, tracing=props.security.tracing,
            enforce_tls=props.security.enforce_tls, partition=self.facts.partition, iam=props.security.iam,
        ))
        self.subscribers.append(subscriber)
        # With TRIM_HORIZON the producer publishes as soon as the mapping exists: every
        # subscription must be in place by then, or those messages would reach no queue.
        self.stream_trigger.wait_for(subscriber.queue.subscription)
        # The producer's size budget covers every subscriber, this one included.
        self.producer.module.set("environment_variables", self._producer_environment())
        if self.alarms is not None:
            self.alarms.add(self._subscriber_alarms(subscriber))
        for listener in self._listeners:
            listener(subscriber)
        return subscriber

    def _powertools(self) -> tuple[tuple[str, ...], Path | None]:
        """Where the functions get Powertools: (layers, bundle folder packaged into each zip)."""
        config = self.props
        parameter = _powertools_parameter(config.powertools_layer, config.powertools_version, config.runtime,
                                          config.architecture)
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
        security = self.props.security
        if not security.customer_managed_key:
            return None
        return MessagingKey(
            self, "key", alias=self.props.names.key_alias, account=self.account,
            deletion_window_days=security.key_deletion_window_days, key_users=tuple(security.key_users),
            logical_id=self._id("messaging_key"),
        )

    def _topic_props(self, name: str, statements: dict[str, Any] | None = None, fifo: bool = False,
                     **settings: Any) -> TopicProps:
        return TopicProps(name=name, key=self.key, account=self.account, fifo=fifo,
                          enforce_tls=self.props.security.enforce_tls, policy_statements=statements or {}, **settings)

    def _delivery_logging(self) -> DeliveryStatusLogging:
        settings, names = self.props.delivery_status_logging, self.props.names
        return DeliveryStatusLogging(self, "topic_delivery_logging", props=DeliveryStatusLoggingProps(
            topic_name=names.topic, account=self.account, region=self.facts.region,
            role_name_prefix=names.delivery_logs_role_prefix, success_sample_rate=settings.success_sample_rate,
            retention_days=settings.log_retention_days, logical_id_prefix=self.prefix,
        ))

    def _queue_props(self, name: str, **settings: Any) -> QueueProps:
        return QueueProps(name=name, key=self.key, account=self.account,
                          enforce_tls=self.props.security.enforce_tls, **settings)

    def _producer_props(self) -> PythonFunctionProps:
        config = self.props
        return function_props(
            config.producer, runtime=config.runtime, architecture=config.architecture,
            tracing=config.security.tracing,
            function_name=config.names.producer_function,
            code=config.producer_code,
            environment=self._producer_environment(),
            policy_statements={
                "publish": {"effect": "Allow", "actions": ["sns:Publish"], "resources": [self.topic.topic_arn]},
                # The event source mapping sends records that exhausted their retries to the on-failure
                # destination using the function's role: the queue, or the bucket only.
                **(self.failure_bucket.writer_statements if self.failure_bucket is not None else {
                    "stream_failures": {
                        "effect": "Allow",
                        "actions": ["sqs:SendMessage"],
                        "resources": [self.stream_failures.queue_arn],
                    },
                }),
            },
            layers=self.layers,
            bundle=self.bundle,
        )

    def _producer_environment(self) -> dict[str, str]:
        """The producer's environment; its size budget follows the subscriber queues' size, the stack profile's."""
        return producer_environment(self.props, self.topic.topic_arn, stack_profile=self.profile.name)

    def _alarms(self) -> tuple[Topic, Alarms]:
        config, names = self.props, self.props.names
        cloudwatch = {
            "cloudwatch_alarms": {
                "sid": "CloudWatchAlarmsPublish",
                "effect": "Allow",
                "actions": ["sns:Publish"],
                "principals": [{"type": "Service", "identifiers": ["cloudwatch.amazonaws.com"]}],
                "conditions": [
                    {"test": "StringEquals", "variable": "aws:SourceAccount", "values": [self.account.id]},
                    {"test": "ArnLike", "variable": "aws:SourceArn",
                     "values": [alarm_arn_pattern(self.account, self.facts.region)]},
                ],
            }
        }
        topic = Topic(self, "alarm_topic", props=self._topic_props(names.alarm_topic, cloudwatch),
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
            *function_alarms("producer", names.producer_function, self.producer.function_name),
            iterator_age_alarm("producer", names.producer_function, self.producer.function_name,
                               config.alarms.iterator_age_ms),
            messages_waiting_alarm("stream_failures", names.stream_failure_queue, self.stream_failures.queue_name)
            if self.stream_failures is not None else
            new_objects_alarm("stream_failure_bucket", names.failure_bucket_prefix.rstrip("-"),
                              self.failure_bucket.bucket_name),
            *sns_delivery_alarms("topic", names.topic, names.topic),
        ]
        alarms = Alarms(
            self, "alarms", specs=specs, topic_arn=topic.topic_arn, period_seconds=config.alarms.period_seconds,
            evaluation_periods=config.alarms.evaluation_periods, logical_id_prefix=self.prefix,
        )
        return topic, alarms

    def _subscriber_alarms(self, subscriber: Subscriber) -> list[AlarmSpec]:
        names, config = subscriber.names, self.props
        return [
            queue_age_alarm(f"queue_{names.name}", names.queue, subscriber.queue.queue_name,
                            config.alarms.queue_age_seconds),
            messages_waiting_alarm(f"dlq_{names.name}", names.dlq, subscriber.queue.dlq_name),
            messages_waiting_alarm(f"delivery_dlq_{names.name}", subscriber.queue.delivery_dlq_name,
                                   subscriber.queue.delivery_dlq.queue_name),
            *function_alarms(f"consumer_{names.name}", names.function, subscriber.function.function_name),
        ]

    def _dashboard(self) -> Dashboard:
        name, region = self.props.names.dashboard, self.facts.region

        def props() -> DashboardProps:  # at synth: the subscribers added until then
            return DashboardProps(
                name=name,
                region=region,
                producer_function=self.producer.function_name,
                consumer_functions=tuple(s.function.function_name for s in self.subscribers),
                queues=tuple(s.queue.queue_name for s in self.subscribers),
                dead_letter_queues=(*([self.stream_failures.queue_name] if self.stream_failures is not None else []),
                                    *(q for s in self.subscribers for q in (s.queue.dlq_name,
                                                                            s.queue.delivery_dlq.queue_name))),
                topic=self.props.names.topic,
            )

        return Dashboard(self, "dashboard", props=props, name=name, region=region,
                         logical_id=self._id("dashboard"))


def _check_region(scope: Construct, config: PipelineConfig) -> None:
    """A configuration's region must be the stack's: the pipeline takes its region from the stack."""
    region = provider_region(scope)
    if region is not None and region != config.region:
        raise ConfigError(Problem(
            "region", f"the configuration says {config.region!r} but the stack's AWS provider is in {region!r}",
            "the pipeline is built in the stack's region: make the two agree",
        ))


def _powertools_parameter(layer: str, version: str, runtime: str, architecture: str) -> str | None:
    """Public SSM parameter holding the Powertools layer ARN for this runtime and architecture."""
    if layer != "ssm" or not version:
        return None
    return f"/aws/service/powertools/python/{architecture}/{runtime}/{version}"
