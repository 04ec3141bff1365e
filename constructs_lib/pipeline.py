"""The whole pipeline: table stream -> producer -> topic -> queue(s) -> consumer(s)."""

from __future__ import annotations

from constructs import Construct

from .aws import LambdaEventSourceMappingDestinationConfig, LambdaEventSourceMappingDestinationConfigOnFailure
from .config import PipelineConfig, SubscriberConfig
from .function import PythonFunction, PythonFunctionProps
from .messaging import Queue, QueueProps, SubscribedQueue, SubscribedQueueProps, Topic, TopicProps
from .table import StreamTable, StreamTableProps
from .triggers import DYNAMODB_EXECUTION_ROLE, SQS_EXECUTION_ROLE, EventSourceTrigger, TriggerProps


#: What Powertools idempotency does with its persistence table, and nothing more.
IDEMPOTENCY_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]


class Subscriber(Construct):
    """One subscriber: its queue, subscription, consumer function and trigger."""

    def __init__(self, scope: Construct, id: str, *, config: PipelineConfig, sub: SubscriberConfig, topic: Topic) -> None:
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
                filter_policy=sub.filter_policy,
                filter_policy_scope=sub.filter_policy_scope,
                extra={
                    "create_dlq": True,
                    "redrive_policy": {"maxReceiveCount": sub.max_receive_count},
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
                extra={"ttl_enabled": True, "ttl_attribute_name": "expiration"},
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
                timeout=sub.function.timeout,
                memory_size=sub.function.memory_size,
                environment={
                    "SUBSCRIBER_NAME": sub.name,
                    "IDEMPOTENCY_TABLE": self.idempotency_table.table_name,
                    "IDEMPOTENCY_TTL_SECONDS": str(sub.idempotency_ttl_seconds),
                    "POWERTOOLS_SERVICE_NAME": sub.function_name,
                },
                policy_statements={
                    "idempotency": {
                        "effect": "Allow",
                        "actions": IDEMPOTENCY_ACTIONS,
                        "resources": [self.idempotency_table.table_arn],
                    }
                },
                layers=tuple(config.layers()),
            ),
            module_id=f"consumer_{sub.name}",
        )
        mapping: dict = {"batch_size": sub.batch_size, "function_response_types": ["ReportBatchItemFailures"]}
        if sub.maximum_batching_window_seconds:
            mapping["maximum_batching_window_in_seconds"] = sub.maximum_batching_window_seconds
        self.trigger = EventSourceTrigger(
            self,
            "trigger",
            function=self.function,
            props=TriggerProps(
                event_source_arn=self.queue.queue_arn,
                managed_policy_arn=SQS_EXECUTION_ROLE,
                mapping=mapping,
            ),
        )


class EventPipeline(Construct):
    """Wires the stream table, producer, topic and subscribers from one :class:`PipelineConfig`."""

    def __init__(self, scope: Construct, id: str, *, config: PipelineConfig) -> None:
        super().__init__(scope, id)
        self.config = config
        self.table = StreamTable(self, "table", props=StreamTableProps(name=config.table_name))
        self.topic = Topic(self, "topic", props=TopicProps(name=config.topic_name))
        # Stream records that still fail after the bounded retries are kept here, not dropped.
        self.stream_failures = Queue(
            self, "stream_failures", props=QueueProps(name=config.stream_failure_queue_name), module_id="stream_failures"
        )
        self.producer = PythonFunction(
            self,
            "producer",
            props=PythonFunctionProps(
                function_name=config.producer_function_name,
                code="producer",
                runtime=config.runtime,
                timeout=config.producer.timeout,
                memory_size=config.producer.memory_size,
                environment={
                    "SNS_TOPIC_ARN": self.topic.topic_arn,
                    "POWERTOOLS_SERVICE_NAME": config.producer_function_name,
                },
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
                layers=tuple(config.layers()),
            ),
            module_id="producer",
        )
        self.stream_trigger = EventSourceTrigger(
            self,
            "stream_trigger",
            function=self.producer,
            props=TriggerProps(
                event_source_arn=self.table.stream_arn,
                managed_policy_arn=DYNAMODB_EXECUTION_ROLE,
                mapping=stream_mapping(config, self.stream_failures.queue_arn),
            ),
        )
        self.subscribers = [
            Subscriber(self, f"subscriber_{sub.name}", config=config, sub=sub, topic=self.topic)
            for sub in config.subscribers
        ]


def stream_mapping(config: PipelineConfig, failure_queue_arn: str) -> dict:
    """Arguments of the stream -> producer mapping: bounded retries, bisect, on-failure queue."""
    stream = config.stream
    mapping = {
        "starting_position": stream.starting_position,
        "batch_size": stream.batch_size,
        "function_response_types": ["ReportBatchItemFailures"],
        "bisect_batch_on_function_error": True,
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
